"""Turn any Python value into bounded, secret-free JSON text for a span attribute.

``json.dumps(default=...)`` is not enough: it recurses into cycles (ValueError), calls
``repr`` that may raise, refuses ints over 4,300 digits, writes ``NaN`` (not JSON) and has
no notion of size. We first walk the value into plain JSON types with explicit limits, then
encode once. A value over the size limit is re-walked with tighter limits so that it stays
valid JSON; only as a last resort is the encoded text itself cut.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as _dt
import decimal
import enum
import json
import marshal
import math
import os
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from itertools import islice
from pathlib import PurePath
from typing import Any

from ._guard import logger
from ._settings import Settings

TRUNCATION_MARKER = "…[spyglass: truncated {n} chars]"
REDACTED = "[REDACTED]"

# Keys whose values are secrets wherever they appear (headers, kwargs, config dicts).
_SECRET_KEY = re.compile(
    r"(api[_-]?key|authorization|password|passwd|secret|private[_-]?key|cookie|x-api-key"
    r"|(access|auth|refresh|session|id|bearer)[_-]?token|^token$)",
    re.IGNORECASE,
)
# ``int.__repr__`` (so ``json.dumps``) raises beyond 4,300 digits (CPython's
# ``sys.get_int_max_str_digits``); 10,000 bits is about 3,000 digits.
_MAX_INT_BITS = 10_000
_BIG_INT = 2**_MAX_INT_BITS
# How many times an over-long value is re-walked with tighter limits before its text is cut.
_SHRINK_ATTEMPTS = 6
_MIN_STRING_CHARS = 64


# Keys repeat across calls ("role", "content", "id"...): remember the regex's answer.
_secret_keys: dict[str, bool] = {}
_SECRET_KEY_CACHE_SIZE = 4096


def _is_secret_key(name: str) -> bool:
    found = _secret_keys.get(name)
    if found is None:
        found = _SECRET_KEY.search(name) is not None
        if len(_secret_keys) >= _SECRET_KEY_CACHE_SIZE:
            _secret_keys.clear()  # keys built from data: start over rather than grow
        _secret_keys[name] = found
    return found


# --- secrets in text --------------------------------------------------------------------
# Token shapes replaced wherever they appear in text, JSON text included (every captured
# value, exception message, status, attribute we set, and the lead's export-time pass over
# each span's encoded attributes). JSON safety: no pattern consumes or produces ``"`` or
# ``\``, and none starts in the middle of an escape (``\bearer…`` is a backspace and
# "earer…"), so valid JSON stays valid JSON.
#
# Where a token may start: not after a letter, digit or ``_`` (``task-list``, ``risk-free``),
# nor after a single backslash (inside an escape); but right after a whole escape (``\n``,
# ``\uXXXX``) or an escaped backslash, as a string in JSON text reads "line\nsk-…".
_START = (
    r"(?:(?<![A-Za-z0-9_\\])|(?<=(?<!\\)\\[nrtbf])|(?<=(?<!\\)\\\\)"
    r"|(?<=\\u[0-9a-fA-F]{4}))"
)
# One regex per shape, each starting with a literal (the engine then jumps straight to the
# candidates) and run only when its hint is in the text: one alternation of all of them, with
# a leading lookbehind for the start rule, cost ~300 ns per character of every text.
_TOKEN_SHAPES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (hint, re.compile(pattern))
    for hint, pattern in (
        ("sk-", r"sk-[A-Za-z0-9_\-]{16,}"),  # OpenAI (sk-, sk-proj-, sk-svcacct-), Anthropic (sk-ant-)
        ("AKIA", r"AKIA[A-Z0-9]{16}(?![A-Za-z0-9])"),  # AWS access key ids (long-lived)
        ("ASIA", r"ASIA[A-Z0-9]{16}(?![A-Za-z0-9])"),  # ... and temporary
        ("gh", r"gh[pousr]_[A-Za-z0-9]{36,}"),  # GitHub tokens (personal, OAuth, user, server, refresh)
        ("github_pat_", r"github_pat_[A-Za-z0-9_]{22,}"),  # GitHub fine-grained personal tokens
        ("xox", r"xox[abposr]-[A-Za-z0-9\-]{10,}"),  # Slack
        ("AIza", r"AIza[A-Za-z0-9_\-]{35}"),  # Google API keys
        ("Bearer", r"Bearer\s+[A-Za-z0-9._~+/=\-]{16,}"),  # bearer tokens (base64 and JWT alphabets)
        ("bearer", r"bearer\s+[A-Za-z0-9._~+/=\-]{16,}"),
    )
)
_BASIC_SHAPES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (word, re.compile(rf"{word}\s+(?P<b64>[A-Za-z0-9+/]{{6,}}={{0,2}})(?![A-Za-z0-9+/=])"))
    for word in ("Basic", "basic")
)
_USERINFO = re.compile(r"://[^\s/?#\"\\<>]+@")
# ``name=value`` where the name says secret: URL query strings (OTel's url.query list: sig,
# Signature, X-Goog-Signature, AWSAccessKeyId; X-Amz-Credential...) and env-style lines.
# Names are whole words, maybe prefixed (``client_secret``, ``DB_PASSWORD``): ``max_tokens=``
# is left alone.
_ASSIGNED_NAME = (
    r"(?i:(?:[a-z0-9]+[_-])*(?:api[_-]?key|apikey|(?:secret|private|access)[_-]?key|secret"
    r"|password|passwd|pwd|token|sig|signature|awsaccesskeyid|credential))"
)
_TOKEN_START = re.compile(_START)
_ASSIGNED = re.compile(_ASSIGNED_NAME)
_ASSIGNED_VALUE = re.compile(r"[^\s&#\"'\\<>]+")
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")
_MAX_NAME = 64
# OTel semantic conventions, url.full: "username and password SHOULD be redacted and
# attribute's value SHOULD be https://REDACTED:REDACTED@www.example.com/"; query values of
# sensitive keys are replaced by "REDACTED" (https://opentelemetry.io/docs/specs/semconv/url/url).
_URL_CREDENTIALS = "://REDACTED:REDACTED@"
_QUERY_REDACTED = "REDACTED"


def _token(m: re.Match[str]) -> str:
    # Where a token may start (see _START): not inside a word ("task-list..."), nor an escape.
    return REDACTED if _TOKEN_START.match(m.string, m.start()) is not None else m.group()


def _basic(m: re.Match[str]) -> str:
    if _TOKEN_START.match(m.string, m.start()) is None:
        return m.group()
    if _is_basic_credentials(m.group("b64")):
        return REDACTED
    return m.group()  # "basic understanding": not credentials (tokens in it are found on their own)


def _scrub_builtin(text: str) -> str:
    for hint, shape in _TOKEN_SHAPES:
        if hint in text:
            text = shape.sub(_token, text)
    for word, shape in _BASIC_SHAPES:
        if word in text:
            text = shape.sub(_basic, text)
    if "@" in text and "://" in text:
        text = _USERINFO.sub(_URL_CREDENTIALS, text)
    if "=" in text:
        text = _scrub_assignments(text)
    return text


def _scrub_assignments(text: str) -> str:
    """``name=value`` with a secret-looking name: the value becomes ``REDACTED``. Found from
    each ``=``, looking back for the name (a whole word, maybe prefixed: ``DB_PASSWORD``)."""
    out: list[str] = []
    done = 0
    eq = text.find("=")
    while eq != -1:
        start = eq
        while start > 0 and eq - start < _MAX_NAME and text[start - 1] in _NAME_CHARS:
            start -= 1
        if (
            start < eq
            and (start == 0 or text[start - 1] not in _NAME_CHARS)
            and _TOKEN_START.match(text, start) is not None
            and _ASSIGNED.fullmatch(text, start, eq) is not None
        ):
            value = _ASSIGNED_VALUE.match(text, eq + 1)
            if value is not None:
                out.append(text[done : eq + 1])
                out.append(_QUERY_REDACTED)
                done = value.end()
                eq = text.find("=", done)
                continue
        eq = text.find("=", eq + 1)
    if not out:
        return text
    out.append(text[done:])
    return "".join(out)


def _is_basic_credentials(token: str) -> bool:
    """Whether ``token`` is base64 of ``user:password`` (so "Basic understanding" is not)."""
    try:
        decoded = base64.b64decode(token + "=" * (-len(token) % 4), validate=True).decode("utf-8")
    except ValueError:  # binascii.Error and UnicodeDecodeError are both ValueErrors
        return False
    return ":" in decoded and decoded.isprintable()


# Extra patterns: ``set_secret_patterns`` plus SPYGLASS_SECRET_PATTERNS. Replaced as a whole
# (never mutated), so a scrub running on another thread sees one set or the other.
_env_patterns: tuple[re.Pattern[str], ...] = ()
_user_patterns: tuple[re.Pattern[str], ...] = ()
_extra_patterns: tuple[re.Pattern[str], ...] = ()
SECRET_PATTERNS_ENV = "SPYGLASS_SECRET_PATTERNS"
# What user patterns never see: quotes and escapes of JSON text (see _scrub_extra).
_JSON_SEPARATOR = re.compile(r'("|\\(?:u[0-9a-fA-F]{4}|.)?)', re.DOTALL)
_JSON_OUTSIDE_STRINGS = re.compile(r"[\s{}\[\]:,0-9.eE+\-truefalsn]*")
_JSON_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?")
_NUMBER_CHARS = frozenset("0123456789.eE+-")


def _compile_patterns(patterns: Iterable[str | re.Pattern[str]]) -> tuple[re.Pattern[str], ...]:
    if isinstance(patterns, (str, re.Pattern)):
        patterns = [patterns]  # one pattern given alone: not a sequence of one-character patterns
    out = []
    for p in patterns:
        if isinstance(p, re.Pattern):
            compiled = p
        elif isinstance(p, str):
            try:
                compiled = re.compile(p)
            except re.error as exc:
                raise ValueError(f"invalid secret pattern {p!r}: {exc}") from None
        else:
            raise ValueError(  # noqa: TRY004 - configure() reports every bad setting as ValueError
                f"a secret pattern is a regex string or re.Pattern, not {type(p).__name__}"
            )
        if not isinstance(compiled.pattern, str):
            raise ValueError(f"secret pattern {compiled.pattern!r} is a bytes pattern; text patterns only")  # noqa: TRY004
        if compiled.search("") is not None:
            raise ValueError(f"secret pattern {compiled.pattern!r} matches the empty string")
        out.append(compiled)
    return tuple(out)


def set_secret_patterns(patterns: Iterable[str | re.Pattern[str]]) -> None:
    """Add regexes whose matches are replaced by ``[REDACTED]``, on top of the built-in token
    shapes, everywhere text is scrubbed. Each call replaces the patterns of the previous one
    (``set_secret_patterns([])`` removes them); those of ``SPYGLASS_SECRET_PATTERNS`` stay.

    A pattern never matches across a ``"`` or a backslash (JSON text stays valid JSON).
    Raises ``ValueError`` for an invalid regex, or one that matches the empty string.
    """
    global _user_patterns, _extra_patterns
    compiled = _compile_patterns(patterns)
    _user_patterns = compiled
    _extra_patterns = _env_patterns + compiled


def secret_patterns() -> tuple[re.Pattern[str], ...]:
    """The extra patterns in force: from ``SPYGLASS_SECRET_PATTERNS``, then ``set_secret_patterns``."""
    return _extra_patterns


def load_env_secret_patterns(value: str | None) -> None:
    """Read ``SPYGLASS_SECRET_PATTERNS``: one regex per line (or several joined with ``|``)."""
    global _env_patterns, _extra_patterns
    _env_patterns = _compile_patterns([line for line in (value or "").splitlines() if line.strip()])
    _extra_patterns = _env_patterns + _user_patterns


def _scrub_extra(text: str, patterns: tuple[re.Pattern[str], ...]) -> str:
    # A user's regex knows nothing of JSON: it runs between quotes and escapes only, and in
    # JSON text (what lies outside strings is numbers and punctuation only) it may replace
    # outside strings only a whole number, by the string "[REDACTED]".
    parts = _JSON_SEPARATOR.split(text) if '"' in text or "\\" in text else [text]
    inside = [False] * len(parts)  # [text, separator, text, ..., text]
    in_string = False
    for i in range(0, len(parts), 2):
        inside[i] = in_string
        if i + 1 < len(parts) and parts[i + 1] == '"':
            in_string = not in_string
    is_json = all(inside[i] or _JSON_OUTSIDE_STRINGS.fullmatch(parts[i]) for i in range(0, len(parts), 2))
    for i in range(0, len(parts), 2):
        part = parts[i]
        if part:
            outside_json = is_json and not inside[i]
            for p in patterns:
                part = p.sub(_whole_number if outside_json else REDACTED, part)
            parts[i] = part
    return "".join(parts)


def _whole_number(m: re.Match[str]) -> str:
    text, start, end = m.string, m.start(), m.end()
    whole = (
        _JSON_NUMBER.fullmatch(m.group()) is not None
        and (start == 0 or text[start - 1] not in _NUMBER_CHARS)
        and (end == len(text) or text[end] not in _NUMBER_CHARS)
    )
    return f'"{REDACTED}"' if whole else m.group()


def scrub(text: str) -> str:
    """``text`` with the secrets it holds replaced: API keys and tokens (OpenAI, Anthropic,
    AWS, GitHub, Slack, Google, Bearer, Basic), URL credentials, secret query parameters,
    and the matches of :func:`set_secret_patterns`. Safe on JSON text.

    Runs on every captured value: substring tests (one-character ones first, a ``memchr``
    each) decide whether the regex runs at all, so text without any hint costs little.
    """
    text = _scrub_builtin(text)
    extra = _extra_patterns
    if extra:
        text = _scrub_extra(text, extra)
    return text


def scrub_attribute(key: str, value: Any) -> Any:
    """A value the user sets on a span directly (``SpanHandle.set_attribute``, static
    attributes): a secret-named key hides it whole, text is scrubbed, other types pass."""
    if _is_secret_key(key):
        return REDACTED
    t = type(value)
    if t is str:
        return encodable(scrub(value))
    if t is list or t is tuple:
        return tuple(encodable(scrub(v)) if isinstance(v, str) else v for v in value)
    return value


def truncate(text: str, limit: int, omitted: int = 0) -> tuple[str, bool]:
    """Cut ``text`` to ``limit`` characters plus a visible marker.

    ``omitted`` counts characters that belong to the value but were never kept (a traced
    stream stops buffering once past the limit), so that the marker's count stays exact.
    """
    over = len(text) - limit
    if over <= 0 and not omitted:
        return text, False
    return text[:limit] + TRUNCATION_MARKER.format(n=max(over, 0) + omitted), True


def encodable(text: str) -> str:
    """``text`` without lone surrogates (``os.fsdecode``, broken JSON...): they are legal in a
    Python ``str`` but not in UTF-8, and one of them makes the exporter fail a whole batch."""
    if text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def safe_str(value: object) -> str:
    try:
        return str(value)
    except Exception:  # a user __str__ that raises must not break capture
        return _safe_repr(value)


def _safe_repr(value: object) -> str:
    try:
        return repr(value)
    except Exception:  # a user __repr__ that raises must not break capture
        return f"<unrepresentable {type(value).__qualname__}>"


def _bytes(value: bytes | bytearray | memoryview) -> str:
    raw = bytes(value)
    head = base64.b64encode(raw[:48]).decode("ascii")
    return f"<{len(raw)} bytes, base64 head: {head}{'…' if len(raw) > 48 else ''}>"


class _Walker:
    """One walk of one value. ``cut`` tells whether anything was left out."""

    __slots__ = ("cut", "longest", "max_chars", "max_depth", "max_items", "path", "widest")

    def __init__(self, max_chars: int, max_items: int, max_depth: int) -> None:
        self.max_chars = max_chars
        self.max_items = max_items
        self.max_depth = max_depth
        self.path: set[int] = set()
        self.cut = False
        # Longest string kept (marker aside) and most items in one container: a retry shrinks these.
        self.longest = 0
        self.widest = 0

    def walk(self, v: Any, depth: int) -> Any:
        # Exact-type checks first: this runs for every value of every traced call, and
        # ``type(v) is`` costs a fraction of ``isinstance`` (of an ABC above all).
        t = type(v)
        if t is str:
            return v if len(v) <= self.longest else self._str(v)
        if v is None or t is bool or t is float and math.isfinite(v):
            return v
        if t is int and -_BIG_INT < v < _BIG_INT:
            return v
        if t is dict or t is list or (t is tuple and not hasattr(v, "_asdict")):
            return self._container(v, depth)
        return self._scalar_or_other(v, depth)

    def _str(self, v: str) -> str:
        kept = len(v)
        if kept > self.max_chars:
            self.cut = True
            kept = self.max_chars
            v = truncate(v, kept)[0]
        self.longest = max(self.longest, kept)
        return v

    def _scalar_or_other(self, v: Any, depth: int) -> Any:
        """Subclasses of the JSON types, and everything else."""
        if isinstance(v, str):
            return self._str(v)
        if isinstance(v, int):  # bool cannot be subclassed: only int subclasses (IntEnum...) here
            return v if v.bit_length() <= _MAX_INT_BITS else f"<int of {v.bit_length()} bits>"
        if isinstance(v, float):
            return v if math.isfinite(v) else str(v)  # NaN and Infinity are not JSON
        if isinstance(v, enum.Enum):
            return self.walk(v.value, depth)
        return self._container(v, depth)

    def _container(self, v: Any, depth: int) -> Any:
        if depth >= self.max_depth:
            self.cut = True
            return f"<max depth: {type(v).__qualname__}>"
        key = id(v)
        if key in self.path:
            return f"<cycle: {type(v).__qualname__}>"
        self.path.add(key)
        try:
            return self._other(v, depth + 1)
        except Exception as exc:  # a property, __iter__, model_dump... of the user's that raises
            return f"<unserializable {type(v).__qualname__}: {type(exc).__name__}>"
        finally:
            self.path.discard(key)

    def _other(self, v: Any, depth: int) -> Any:
        t = type(v)
        if t is dict:
            return self._mapping(v.items(), len(v), depth)
        if t is list or t is tuple:
            return self._sequence(v, len(v), depth)
        if isinstance(v, (bytes, bytearray, memoryview)):
            return _bytes(v)
        if isinstance(v, (_dt.datetime, _dt.date, _dt.time)):
            return v.isoformat()
        if isinstance(v, (decimal.Decimal, uuid.UUID, PurePath, _dt.timedelta)):
            return str(v)
        if isinstance(v, Mapping):
            return self._mapping(v.items(), len(v), depth)
        if isinstance(v, tuple) and hasattr(v, "_asdict"):  # namedtuple: keep the field names
            return self._mapping(zip(v._fields, v), len(v), depth)  # type: ignore[attr-defined]
        if isinstance(v, (list, tuple)):
            return self._sequence(v, len(v), depth)
        if isinstance(v, AbstractSet):
            return self._set(v, depth)
        if dataclasses.is_dataclass(v) and not isinstance(v, type):
            # Through _mapping, like a dict, so that a field named api_key is redacted too.
            fields = dataclasses.fields(v)
            return self._mapping(((f.name, getattr(v, f.name, None)) for f in fields), len(fields), depth)
        if callable(getattr(v, "model_dump", None)) and not isinstance(v, type):  # pydantic v2
            return self._model(v, depth)
        if callable(getattr(v, "tolist", None)) and hasattr(v, "dtype"):  # numpy arrays and scalars
            return self._array(v, depth)
        if isinstance(v, Sequence):  # deque, range, user sequences
            return self._sequence(v, len(v), depth)
        return self._str(_safe_repr(v))

    def _mapping(self, items: Iterable[tuple[Any, Any]], total: int, depth: int) -> dict[str, Any]:
        self.widest = max(self.widest, total)
        out: dict[str, Any] = {}
        for i, (k, item) in enumerate(items):
            if i >= self.max_items:
                self.cut = True
                out["…"] = f"[spyglass: {total - self.max_items} more items]"
                break
            name = k if isinstance(k, str) else _safe_repr(k)
            out[name] = REDACTED if _is_secret_key(name) else self.walk(item, depth)
        return out

    def _sequence(self, items: Iterable[Any], total: int, depth: int) -> list[Any]:
        self.widest = max(self.widest, total)
        out = [self.walk(item, depth) for item in islice(items, self.max_items)]
        if total > self.max_items:
            self.cut = True
            out.append(f"[spyglass: {total - self.max_items} more items]")
        return out

    def _set(self, v: AbstractSet[Any], depth: int) -> list[Any]:
        if len(v) <= self.max_items:
            # Sorted so that equal sets give equal text; only small ones, as it costs a repr each.
            return self._sequence(sorted(v, key=_safe_repr), len(v), depth)
        return self._sequence(v, len(v), depth)

    def _model(self, v: Any, depth: int) -> Any:
        try:
            dumped = v.model_dump(mode="json")
        except Exception:  # a model that cannot dump itself (custom serializer raising): show its repr
            return self._str(_safe_repr(v))
        return self.walk(dumped, depth)

    def _array(self, v: Any, depth: int) -> Any:
        size = getattr(v, "size", 1)
        if isinstance(size, int) and size > self.max_items:  # big arrays: a summary, not a listing
            self.cut = True
            reshape = getattr(v, "reshape", None)
            flat: Any = reshape(-1) if callable(reshape) else None
            head = flat[: self.max_items].tolist() if flat is not None else list(v.tolist())[: self.max_items]
            return {"shape": list(getattr(v, "shape", ())), "dtype": str(v.dtype), "head": self.walk(head, depth)}
        return self.walk(v.tolist(), depth)


def _encode(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


# --- fast path: the C encoder straight on the value ------------------------------------
# Its text is accepted only when the walker could not have produced anything else: plain
# JSON types only, nothing over a limit, no secret-looking key, no key that is not a str.
_c_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode
# Over the lowered text: every word ``_SECRET_KEY`` finds in a key (``^token$`` as the JSON
# key ``"token"``, ``$`` also before a trailing newline). Matches inside values only cost a
# walk. Each of its words contains one of ``_SECRET_HINTS``: substring tests come first, as
# an alternation of words costs a pass per word at every position.
_SECRET_HINTS = ("key", "auth", "passw", "secret", "cookie", "token")
_SECRET_WORD = re.compile(
    r"api[_-]?key|authorization|passw(?:or)?d|secret|private[_-]?key|cookie"
    r"|(?:access|auth|refresh|session|id|bearer)[_-]?token|\"token(?:\\n)?\""
)
# Keys the encoder wrote for bool/None/number keys: the walker uses ``repr`` (True, None),
# and 1 and "1" would be one key there. Conservative: any key ending in a digit.
_NON_STR_KEY = re.compile(r'":(?:(?<=[0-9]":)|(?<="true":)|(?<="false":)|(?<="null":))')
# Non-ASCII characters that ``re.I`` matches to an ASCII letter, or that lower() to one.
_CASEFOLD_ASCII = ("\u0130", "\u0131", "\u017f", "\u212a")
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_INNERMOST = re.compile(r"[\[{][^\[\]{}]*[\]}]")
# Digits of 2**_MAX_INT_BITS: an int the walker keeps has at most as many.
_BIG_INT_DIGITS = len(str(_BIG_INT))
_LONG_DIGITS = re.compile(rf"[0-9]{{{_BIG_INT_DIGITS}}}")


def _deeper_than(skeleton: str, max_depth: int) -> bool:
    """Whether containers nest more than ``max_depth`` levels in JSON text without strings."""
    for _ in range(max_depth):
        skeleton, n = _INNERMOST.subn("0", skeleton)
        if not n:
            return False
    return "[" in skeleton or "{" in skeleton


def _fast_json(value: Any, s: Settings) -> str | None:
    """The walker's JSON text for ``value`` (before scrubbing) when the C encoder alone gives
    exactly it, else ``None``."""
    try:
        text = _c_encode(value)  # raises on other types, NaN, cycles, ints over 4,300 digits
    except Exception:
        return None
    n = len(text)
    # Every string is shorter than the whole text: none is cut, and nothing is re-walked.
    if n > s.max_value_chars:
        return None
    if text.isascii():
        low = text.lower()
    else:
        for ch in _CASEFOLD_ASCII:
            if ch in text:
                return None
        low = text.lower()
    for hint in _SECRET_HINTS:
        if hint in low:
            if _SECRET_WORD.search(low) is not None:
                return None
            break
    if _NON_STR_KEY.search(text) is not None:
        return None
    if n >= _BIG_INT_DIGITS and _LONG_DIGITS.search(text) is not None:
        return None  # an int the walker writes as "<int of N bits>"
    skeleton = None
    # A container of k items has k-1 commas, and nesting needs brackets: count in the text
    # first (strings included, so an overestimate), then in its skeleton without strings.
    if text.count(",") >= s.max_items:
        skeleton = _JSON_STRING.sub('""', text)
        if skeleton.count(",") >= s.max_items:
            return None
    if text.count("[") + text.count("{") > s.max_depth:
        if skeleton is None:
            skeleton = _JSON_STRING.sub('""', text)
        if _deeper_than(skeleton, s.max_depth):
            return None
    try:
        # Exact dict/list/tuple/str/int/float/bool/None only (subclasses raise here): a
        # namedtuple, an IntEnum, a str or dict subclass go through the walker as before.
        marshal.dumps(value)
    except Exception:
        return None
    return text


def _bounded_json(value: Any, s: Settings) -> tuple[str, bool]:
    """JSON text of ``value`` within ``s.max_value_chars``, valid JSON whenever possible."""
    fast = _fast_json(value, s)
    if fast is not None:
        return scrub(fast), False
    text = ""
    limit = s.max_value_chars
    max_chars, max_items = limit, s.max_items
    for _ in range(_SHRINK_ATTEMPTS):
        walker = _Walker(max_chars, max_items, s.max_depth)
        text = scrub(_encode(walker.walk(value, 0)))
        if len(text) <= limit:
            return text, walker.cut
        # Too long: cut long strings harder first (keeps every item), then drop items.
        ratio = limit / len(text)
        if walker.longest > _MIN_STRING_CHARS:
            max_chars = max(_MIN_STRING_CHARS, int(min(max_chars, walker.longest) * ratio * 0.9))
        else:
            max_items = max(1, int(min(max_items, walker.widest) * ratio * 0.9))
    return truncate(text, limit)


def to_text(value: Any, s: Settings, omitted: int = 0) -> tuple[str, bool, bool]:
    """Encode ``value`` for an attribute: returns ``(text, is_json, truncated)``.

    Strings are kept as they are (``text/plain``); everything else becomes JSON. ``omitted``
    is for strings only: see :func:`truncate`.
    """
    if isinstance(value, str):
        text, cut = truncate(scrub(value), s.max_value_chars, omitted)
        return encodable(text), False, cut
    text, cut = _bounded_json(value, s)
    return encodable(text), True, cut


def _load_env_patterns() -> None:
    try:
        load_env_secret_patterns(os.environ.get(SECRET_PATTERNS_ENV))
    except ValueError as exc:  # at import: a bad setting must not stop the app from starting
        logger.error("spyglass: %s ignored: %s", SECRET_PATTERNS_ENV, exc)


_load_env_patterns()
