"""Secrets never reach the store: planted through every path, searched for in every byte.

The end-to-end test plants distinct secrets through each way text reaches a span (arguments,
kwargs, nested values, exceptions of both the decorator and the openai paths, status,
``set_attribute``, decisions, URLs, outputs, a user-added pattern), writes them to a real
store and then looks for each one in every table (every row cast to text), in the spool
Parquet files, and in the raw bytes of the DuckDB file and its WAL. The unit tests pin each
token shape, what must *not* be redacted, and that scrubbing keeps JSON text valid JSON.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st

import tracer
from integrations import openai as spy_openai
from tracer._serialize import REDACTED, scrub, secret_patterns, set_secret_patterns

from .openai_support import USER_ONLY_PROMPT, clients, json_response

# --- the secrets (all made up; none is a real credential) ------------------------------------
OPENAI_ARG = "sk-proj-" + "Arg0penAiKey7x9Q" * 3
OPENAI_401 = "sk-proj-" + "Http401BodyKey5Zp" * 3
OPENAI_SET_ATTRIBUTE = "sk-" + "SetAttrNote3Kq8W" * 2
OPENAI_RAW_OTEL = "sk-" + "RawOtelSpan6Hj2Lm" * 2
CLIENT_API_KEY = "sk-" + "ClientHeader4Vb7Nc" * 2
ANTHROPIC_EXC = "sk-ant-api03-" + "AnthExcMsg8Rt3Yu" * 4
ANTHROPIC_OUT = "sk-ant-api03-" + "AnthOutput2Gh5Jk" * 4
KWARG_API_KEY = "kwarg-secret-value-Tz81"
NESTED_PASSWORD = "nested-pw-Qm47"
DATACLASS_KEY = "dataclass-field-secret-Lp09"
SET_ATTRIBUTE_NAMED = "named-attr-secret-Wd33"
AWS_AKIA = "AKIAZ7Q3M5X2W8R4T6Y1"
AWS_ASIA = "ASIAK2J4H6G8F1D3S5A7"
GITHUB_CLASSIC = "ghp_" + "Gh1tHubClassicT0ken" * 2 + "ab"
GITHUB_FINE = "github_pat_11AB2CD3EF4GH5IJ6KL7MN_" + "FineGrainedPat9" * 4
SLACK_STATUS = "xoxb-" + "2468013579-SpanStatus-" + "Sl4ckT0kenPart"
GOOGLE_DOC = "AIza" + "GoogleDocKey0123456789ABCDEFGHIJKLM"
BEARER_TEXT = "bearer-" + "Tok3nInPlainText" * 2
AUTH_HEADER_BEARER = "HeaderDictBearer" * 2
BASIC_USER_PASS = "svc-basic:Basic-Pa55-Kx"
URL_ARG_PASSWORD = "UrlArgPw-77Hx"
URL_EXC_PASSWORD = "UrlExcPw-42Nd"
QUERY_API_KEY = "QueryApiKey-19Zs"
DECISION_GITHUB = "gho_" + "DecisionReasonOAuth" * 2 + "cd"
USER_PATTERN_SECRET = "ACME-31415926-SECRET"
METADATA_SLACK = "xoxp-" + "1357924680-Metadata-" + "MetaSl4ckValue"
STREAM_AKIA = "AKIAS7TR3AMQ9W2E4R6T"

PLANTED = {
    name: value
    for name, value in globals().items()
    if name.isupper() and isinstance(value, str) and name not in {"REDACTED"}
}


@dataclasses.dataclass
class ClientConfig:
    api_key: str
    region: str


@pytest.fixture
def secret_store(tmp_path: Path) -> Iterator[Path]:
    db = tmp_path / "secrets.duckdb"
    tracer.configure(db=db, instrument=["openai"], secret_patterns=[r"ACME-\d{8}-SECRET"])
    try:
        yield db
    finally:
        spy_openai.uninstrument()
        set_secret_patterns([])
        tracer.flush()


def _plant_everything() -> None:
    @tracer.trace_llm(model="gpt-4o-mini")
    def call_model(prompt: str, api_key: str, config: Any, options: dict[str, Any]) -> str:
        return f"done, with {ANTHROPIC_OUT} and {AWS_AKIA} and {AWS_ASIA}"

    call_model(
        f"my key is {OPENAI_ARG}",
        api_key=KWARG_API_KEY,
        config=ClientConfig(DATACLASS_KEY, "eu"),
        options={
            "db": {"password": NESTED_PASSWORD, "host": "db"},
            "headers": {"Authorization": f"Bearer {AUTH_HEADER_BEARER}"},
        },
    )

    @tracer.trace_step
    def fetch(url: str, note: str) -> dict[str, Any]:
        return {
            "github": GITHUB_CLASSIC,
            "fine": f"token {GITHUB_FINE}",
            "header": "Authorization: Basic " + base64.b64encode(BASIC_USER_PASS.encode()).decode(),
            "plain": f"Authorization: Bearer {BEARER_TEXT}",
            "custom": f"id {USER_PATTERN_SECRET}",
        }

    fetch(f"https://admin:{URL_ARG_PASSWORD}@db.internal:5432/app?api_key={QUERY_API_KEY}&x=1", note="n")

    @tracer.trace_step
    def connect() -> None:
        raise ConnectionError(
            f"could not connect to postgres://svc:{URL_EXC_PASSWORD}@db:5432/app with {ANTHROPIC_EXC}"
        )

    with pytest.raises(ConnectionError):
        connect()

    @tracer.trace_retriever
    def search(query: str) -> list[dict[str, Any]]:
        return [{"id": "d1", "content": f"the maps key is {GOOGLE_DOC}", "score": 0.9}]

    search("maps")

    with tracer.trace_attributes(metadata={"note": f"slack {METADATA_SLACK}"}), pytest.raises(RuntimeError):
        with tracer.span("manual", kind="postprocess") as s:
            s.set_attribute("note", f"token {OPENAI_SET_ATTRIBUTE}")
            s.set_attribute("api_key", SET_ATTRIBUTE_NAMED)
            # Through the SDK span directly, not our API: scrubbed at export time (the
            # lead's pass over each span's attributes in tracer/store/_rows.py).
            s.otel_span.set_attribute("raw", f"raw {OPENAI_RAW_OTEL}")
            tracer.record_decision(
                "secret_filter",
                "block",
                reason=f"found {DECISION_GITHUB}",
                before=f"key {AWS_AKIA}",
                after="key ***",
            )
            raise RuntimeError(f"slack said no to {SLACK_STATUS}")

    @tracer.trace_step
    def stream() -> Iterator[str]:
        yield "part one "
        yield f"and {STREAM_AKIA}"

    assert "".join(stream()).endswith(STREAM_AKIA)

    # Synthetic: a 401 whose body quotes the key back, from httpx's MockTransport and the
    # real openai client (no network; not a recorded response).
    body = {
        "error": {
            "message": f"Incorrect API key provided: {OPENAI_401}. You can find your API key at "
            "https://platform.openai.com/account/api-keys.",
            "type": "invalid_request_error",
            "code": "invalid_api_key",
        }
    }
    sync, _ = clients(lambda request: json_response(401, body), api_key=CLIENT_API_KEY)
    import openai

    with pytest.raises(openai.AuthenticationError) as info:
        sync.chat.completions.create(model="gpt-4o-mini", messages=USER_ONLY_PROMPT)
    assert OPENAI_401 in str(info.value)  # the user's exception is untouched


# Every table as text, and every spool Parquet file, read by a separate process (the store's
# writer lives in this one).
_DUMP = r"""
import duckdb, glob, json, sys
db = sys.argv[1]
out = {}
con = duckdb.connect(db, read_only=True)
for (table,) in con.execute("SELECT table_name FROM duckdb_tables() WHERE database_name = current_database()").fetchall():
    out[table] = [r[0] for r in con.execute(f'SELECT CAST(t AS VARCHAR) FROM "{table}" AS t').fetchall()]
con.close()
mem = duckdb.connect()
for path in sorted(glob.glob(db + ".spool/*.parquet")):
    out[path] = [r[0] for r in mem.execute("SELECT CAST(t AS VARCHAR) FROM read_parquet(?) AS t", [path]).fetchall()]
print(json.dumps(out))
"""


def _stored_text(db: Path) -> dict[str, list[str]]:
    done = subprocess.run([sys.executable, "-c", _DUMP, str(db)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_no_planted_secret_reaches_the_store(secret_store: Path) -> None:
    assert len(set(PLANTED.values())) == len(PLANTED) >= 19
    _plant_everything()
    assert tracer.flush()

    tables = _stored_text(secret_store)
    everything = "\n".join(row for rows in tables.values() for row in rows)
    assert len(tables["spans"]) == 7  # every span is there: the search below has something to search
    assert "REDACTED:REDACTED@db.internal" in everything  # URL credentials, the OTel way
    raw = b"".join(p.read_bytes() for p in (secret_store, Path(f"{secret_store}.wal")) if p.exists())
    raw += b"".join(p.read_bytes() for p in Path(f"{secret_store}.spool").glob("*.parquet"))

    found = {name for name, secret in PLANTED.items() if secret in everything or secret.encode() in raw}
    print(f"secrets found / planted: {len(found)} / {len(PLANTED)}")
    assert not found, f"{len(found)} of {len(PLANTED)} planted secrets stored: {sorted(found)}"


# --- token shapes ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "secret",
    [
        "sk-" + "a1B2c3D4e5F6g7H8i9J0",  # OpenAI, legacy
        "sk-proj-" + "Ab3_De6-Gh9" * 4,  # OpenAI project key
        "sk-svcacct-" + "Zz9Yy8Xx7Ww6" * 3,
        "sk-ant-api03-" + "Q" * 40 + "-AA",  # Anthropic
        AWS_AKIA,
        AWS_ASIA,
        *(f"gh{c}_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8" for c in "pousr"),
        GITHUB_FINE,
        "xoxb-1234567890-0987654321-" + "AbCdEfGhIjKlMnOp",
        "xoxp-" + "11111-22222-33333-abcdef",
        "AIza" + "SyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY"[:35],
    ],
)
@pytest.mark.parametrize("template", ["{}", "key={} and more", 'said "{}".', "({})", "line\n{}\n"])
def test_token_shapes_are_redacted(secret: str, template: str) -> None:
    text = template.format(secret)
    out = scrub(text)
    assert secret not in out
    assert out == scrub(out)  # idempotent


@pytest.mark.parametrize(
    "text,expected",
    [
        ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abc+/=", "Authorization: [REDACTED]"),
        ("authorization: bearer abcdefghijklmnop0123", "authorization: [REDACTED]"),
        ("Authorization: Basic " + base64.b64encode(b"user:p@ss word").decode(), "Authorization: [REDACTED]"),
        ("curl -H 'Authorization: Basic dXNlcjpwYXNzd29yZA'", "curl -H 'Authorization: [REDACTED]'"),
        ("https://admin:pw@host/path", "https://REDACTED:REDACTED@host/path"),
        (
            "git clone https://x-access-token:abc123@github.com/o/r.git",
            "git clone https://REDACTED:REDACTED@github.com/o/r.git",
        ),
        ("redis://:onlypass@cache:6379/0", "redis://REDACTED:REDACTED@cache:6379/0"),
        ("postgres://u:p@ss@db:5432/x", "postgres://REDACTED:REDACTED@db:5432/x"),
        (
            "https://s3.amazonaws.com/b/k?AWSAccessKeyId=AKIDEXAMPLE&Signature=abc%2Fdef&Expires=1",
            "https://s3.amazonaws.com/b/k?AWSAccessKeyId=REDACTED&Signature=REDACTED&Expires=1",
        ),
        (
            "https://x.blob.core.windows.net/c?sv=2020&sig=ZmFrZQ%3D%3D",
            "https://x.blob.core.windows.net/c?sv=2020&sig=REDACTED",
        ),
        ("https://api.example.com/v1?api_key=abc123&page=2", "https://api.example.com/v1?api_key=REDACTED&page=2"),
        ("OPENAI_API_KEY=hunter2 DB_PASSWORD=s3cret", "OPENAI_API_KEY=REDACTED DB_PASSWORD=REDACTED"),
    ],
)
def test_header_url_and_assignment_shapes(text: str, expected: str) -> None:
    assert scrub(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Review the task-list for risk-free options; desk-top and whisk-based recipes.",
        "sk-1 and sk-short are too short to be keys",
        (
            "commit 3f786850e387550fdab836ed7e6dc881de23001b and sha256 "
            "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d08c1cc4a0c15"
        ),
        "AKIA alone, AKIAIOSFODNN7EXAMP (too short), akiaiosfodnn7example (lower case)",
        "A basic understanding, basic idea, Basic English; the bearer of bad news.",
        "see https://example.com/docs and mail me@example.org; ssh git@github.com:o/r.git",
        "max_tokens=512 temperature=0.2 top_p=1 model=gpt-4o",
        "ghp_short github_pat_ xoxb- AIza",
        "a == b, x=1, f(a=2)",
        "UUID 123e4567-e89b-12d3-a456-426614174000 doc-1 run_2024_01_01",
    ],
)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert scrub(text) == text


# --- JSON safety ---------------------------------------------------------------------------
_pieces = st.sampled_from(
    [
        "sk-" + "a" * 20,
        "Bearer " + "t" * 20,
        "basic dXNlcjpwYXNz",
        "https://u:p@h/",
        "?sig=abc&",
        "AKIA" + "A" * 16,
        "ghp_" + "b" * 36,
        "token=x",
        "api_key=",
        "\\",
        '"',
        "\n",
        "\b",
        "\x1f",
        "\t",
        "earer ",
        "://",
        "@",
        "=",
        "é",
        "ACME-12345678-SECRET",
        "-",
        "_",
        "\\u0041",
        "sk-",
        "u001f",
        "xoxb-" + "1" * 12,
    ]
)
_texts = st.lists(st.one_of(_pieces, st.text(max_size=8)), max_size=12).map("".join)
_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), _texts),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(_texts, children, max_size=4),
    max_leaves=12,
)


@pytest.fixture
def user_pattern() -> Iterator[None]:
    set_secret_patterns([r"ACME-\d{8}-SECRET"])
    try:
        yield
    finally:
        set_secret_patterns([])


@hyp_settings(max_examples=300, deadline=None)
@given(_values, st.booleans())
def test_scrubbed_json_stays_json(value: Any, ensure_ascii: bool) -> None:
    # Deliberately careless user patterns too: one may match a quote, one a backslash, one numbers.
    for patterns in ([], [r"ACME-\d{8}-SECRET", r'[a-z]"[a-z]', r"x\\+", r"\d+"]):
        set_secret_patterns(patterns)
        try:
            text = json.dumps(value, ensure_ascii=ensure_ascii)
            out = scrub(text)
            json.loads(out)  # raises if scrubbing broke the JSON
            if not patterns:  # the built-in ones never add or remove a quote or a backslash
                assert out.count('"') == text.count('"') and out.count("\\") == text.count("\\")
        finally:
            set_secret_patterns([])


def test_secrets_inside_json_strings_are_found() -> None:
    value = {
        "a": f"line\n{OPENAI_ARG}",
        "b": f"\\{AWS_AKIA}",
        "c": f"tab\t{GITHUB_CLASSIC}",
        "d": f"\x1f{ANTHROPIC_OUT}",
        "e": [f"https://u:{URL_ARG_PASSWORD}@h/"],
    }
    for ensure_ascii in (False, True):
        out = scrub(json.dumps(value, ensure_ascii=ensure_ascii))
        for secret in (OPENAI_ARG, AWS_AKIA, GITHUB_CLASSIC, ANTHROPIC_OUT, URL_ARG_PASSWORD):
            assert secret not in out
        assert json.loads(out)["a"] == f"line\n{REDACTED}"


# --- extra patterns ------------------------------------------------------------------------
def test_user_patterns_are_added_replaced_and_validated(user_pattern: None) -> None:
    assert scrub("id ACME-31415926-SECRET, sk-" + "z" * 20) == f"id {REDACTED}, {REDACTED}"
    set_secret_patterns([re.compile(r"corp-[a-f0-9]{12}", re.IGNORECASE)])
    assert scrub("CORP-0123456789AB and ACME-31415926-SECRET") == f"{REDACTED} and ACME-31415926-SECRET"
    assert [p.pattern for p in secret_patterns()] == [r"corp-[a-f0-9]{12}"]
    with pytest.raises(ValueError, match="invalid secret pattern"):
        set_secret_patterns(["ok-[0-9]+", "broken("])
    with pytest.raises(ValueError, match="empty string"):
        set_secret_patterns(["a*"])
    with pytest.raises(ValueError):
        set_secret_patterns([b"bytes"])  # type: ignore[list-item]
    assert [p.pattern for p in secret_patterns()] == [r"corp-[a-f0-9]{12}"]  # a failed call changes nothing
    set_secret_patterns("single-[0-9]{4}")  # type: ignore[arg-type]  # one string: one pattern
    assert scrub("single-1234") == REDACTED


def test_env_patterns_one_per_line(monkeypatch: pytest.MonkeyPatch) -> None:
    from tracer import _serialize

    try:
        _serialize.load_env_secret_patterns("envone-[0-9]{4}\n\nenvtwo-[a-z]{4}|envthree")
        set_secret_patterns(["user-[0-9]{4}"])
        assert scrub("envone-1234 envtwo-abcd envthree user-5678") == " ".join([REDACTED] * 4)
        with pytest.raises(ValueError):
            _serialize.load_env_secret_patterns("(")
    finally:
        _serialize.load_env_secret_patterns(None)
        set_secret_patterns([])


def test_an_invalid_env_pattern_is_reported_not_raised_at_import() -> None:
    code = "import tracer._serialize as s; print(len(s.secret_patterns()))"
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        env={**__import__("os").environ, "SPYGLASS_SECRET_PATTERNS": "ok-[0-9]+\n("},
    )
    assert done.returncode == 0 and done.stdout.strip() == "0"
    assert "SPYGLASS_SECRET_PATTERNS ignored" in done.stderr


def test_a_user_pattern_on_numbers_keeps_json_valid(user_pattern: None) -> None:
    set_secret_patterns([r"\d{16}"])
    text = json.dumps({"card": 4111111111111111, "note": "card 4111111111111111", "n": [12345678901234567]})
    assert json.loads(scrub(text)) == {"card": REDACTED, "note": f"card {REDACTED}", "n": [12345678901234567]}
    assert scrub("card 4111111111111111") == f"card {REDACTED}"


# --- one way to end a span ---------------------------------------------------------------------
def test_decorators_and_integrations_end_spans_the_same_way() -> None:
    from integrations._core import Invocation
    from tracer._call import Call
    from tracer._span_end import SpanEnd

    assert issubclass(Call, SpanEnd) and issubclass(Invocation, SpanEnd)
    for cls in (Call, Invocation):  # neither keeps an ending of its own
        assert "_end" not in vars(cls) and "_claim" not in vars(cls)


def test_openai_error_record_is_scrubbed_like_a_decorated_one() -> None:
    """Synthetic: a 401 quoting the key, through the real client on a MockTransport."""
    from opentelemetry.trace import StatusCode

    from tracer import attributes as A

    from .openai_support import Spans

    spans = Spans()
    spy_openai.instrument(tracer_provider=spans.provider)
    try:
        body = {"error": {"message": f"Incorrect API key provided: {OPENAI_401}", "code": "invalid_api_key"}}
        sync, _ = clients(lambda request: json_response(401, body))
        import openai

        with pytest.raises(openai.AuthenticationError):
            sync.chat.completions.create(model="gpt-4o-mini", messages=USER_ONLY_PROMPT)
    finally:
        spy_openai.uninstrument()
    [span] = spans.finished()
    [event] = span.events
    assert event.name == A.EXCEPTION_EVENT
    assert set(event.attributes) == {A.EXCEPTION_TYPE, A.EXCEPTION_MESSAGE, A.EXCEPTION_STACKTRACE}
    assert event.attributes[A.EXCEPTION_TYPE] == "openai.AuthenticationError"
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description.startswith("AuthenticationError: Error code: 401")
    assert span.attributes[A.HTTP_RESPONSE_STATUS_CODE] == 401
    for text in (span.status.description, *event.attributes.values()):
        assert OPENAI_401 not in text and REDACTED in text or text == "openai.AuthenticationError"
