"""The viewer's pure parts: message parsing, document matching, diffs, the span tree, escaping,
the list table and the ``spyglass view`` command line. No Streamlit app run here."""

from __future__ import annotations

import datetime as _dt
import json
from typing import Any

import pytest

from tracer import attributes as A
from viewer import _launch, _trace_list
from viewer import _messages as M
from viewer._safe import md
from viewer._tree import tree, waterfall


def test_genai_messages_by_role_with_tool_calls_and_responses() -> None:
    msgs = M.messages(
        json.dumps(
            [
                {"role": "user", "parts": [{"type": "text", "content": "weather in Paris?"}]},
                {
                    "role": "assistant",
                    "parts": [{"type": "tool_call", "id": "c1", "name": "weather", "arguments": {"city": "Paris"}}],
                },
                {"role": "tool", "parts": [{"type": "tool_call_response", "id": "c1", "response": "rainy"}]},
            ]
        )
    )
    assert [m.role for m in msgs] == ["user", "assistant", "tool"]
    call = msgs[1].parts[0]
    assert (call.kind, call.name, call.id, json.loads(call.text)) == ("tool_call", "weather", "c1", {"city": "Paris"})
    assert msgs[2].parts[0].text == "rainy" and msgs[2].parts[0].id == "c1"


def test_output_text_tool_calls_finish_reason_and_refusal() -> None:
    out = M.output(
        {
            A.GEN_AI_OUTPUT_MESSAGES: json.dumps(
                [
                    {
                        "role": "assistant",
                        "finish_reason": "stop",
                        "parts": [
                            {"type": "text", "content": "Hi"},
                            {"type": "tool_call", "name": "f", "arguments": "{}"},
                        ],
                    },
                    {"role": "assistant", "refusal": "I can't help with that."},
                ]
            )
        }
    )
    assert out.text == "Hi" and [p.name for p in out.tool_calls] == ["f"]
    assert out.finish_reasons == ("stop",) and out.refusals == ["I can't help with that."]
    assert M.output({A.GEN_AI_OUTPUT_MESSAGES: "[]", A.GEN_AI_RESPONSE_FINISH_REASONS: ["length"]}).finish_reasons == (
        "length",
    )


def test_prompt_parts_and_openinference_fallback() -> None:
    p = M.prompt(
        {
            A.GEN_AI_SYSTEM_INSTRUCTIONS: json.dumps([{"type": "text", "content": "Be brief."}]),
            A.GEN_AI_TOOL_DEFINITIONS: json.dumps([{"name": "f"}]),
            A.PROMPT_TEMPLATE: "Q: {q}",
            A.PROMPT_VARIABLES: json.dumps({"q": "why"}),
            A.PROMPT_VERSION: "v3",
            A.GEN_AI_INPUT_MESSAGES: json.dumps([{"role": "user", "content": "old style"}]),
        }
    )
    assert p.system_instructions == ("Be brief.",) and p.tool_definitions == ({"name": "f"},)
    assert (p.template, p.variables, p.version) == ("Q: {q}", {"q": "why"}, "v3")
    assert p.messages[0].parts[0].text == "old style" and p.raw_input is None
    # decorators only: a plain string, or JSON of the arguments
    assert M.prompt({A.OI_INPUT_VALUE: "just a question"}).raw_input == "just a question"
    assert json.loads(M.prompt({A.OI_INPUT_VALUE: '{"q": "x", "k": 3}'}).raw_input or "") == {"q": "x", "k": 3}
    assert M.output({A.OI_OUTPUT_VALUE: "plain"}).raw_output == "plain"


def test_malformed_values_do_not_raise() -> None:
    cut = '[{"role": "user", "parts": [{"type": "text", "content": "abc…[spyglass: truncated 9 chars]'
    assert M.messages(cut)[0].parts[0].text == cut  # shown as text, not lost
    assert M.messages(json.dumps({"role": "user", "parts": ["bare string"]}))[0].parts[0].text == "bare string"
    assert M.messages(json.dumps([42]))[0].role == "unknown"
    assert M.messages(None) == () and M.prompt({}).raw_input is None


def test_documents_in_prompt_exact_normalised_or_not() -> None:
    rows = [
        {"position": 0, "document_id": "a", "content": "Paris is the capital.", "score": 0.9, "metadata": "{}"},
        {
            "position": 1,
            "document_id": "b",
            "content": "Berlin   is\nin GERMANY.",
            "score": 0.5,
            "metadata": '{"src": "wiki"}',
        },
        {"position": 2, "document_id": "c", "content": "Bananas.", "score": None, "metadata": None},
        {"position": 3, "document_id": "d", "content": "  ", "score": None, "metadata": None},
    ]
    llm = {
        A.GEN_AI_INPUT_MESSAGES: json.dumps(
            [
                {
                    "role": "user",
                    "parts": [{"type": "text", "content": "Context: Paris is the capital. berlin is in germany. Q?"}],
                }
            ]
        )
    }
    docs = M.documents(rows, [llm])
    assert [(d.rank, d.id, d.in_prompt) for d in docs] == [
        (1, "a", "exact"),
        (2, "b", "normalised"),
        (3, "c", None),
        (4, "d", None),
    ]
    assert docs[1].metadata == {"src": "wiki"}
    # decorator spans: the documents are inside JSON of the arguments, quotes and newlines escaped
    quoted = {"position": 0, "document_id": "q", "content": 'He said "yes"\nthen left.', "score": 1.0, "metadata": None}
    args = {A.OI_INPUT_VALUE: json.dumps({"docs": [{"content": quoted["content"]}], "question": "?"})}
    assert M.documents([quoted], [args])[0].in_prompt == "exact"
    assert M.documents(rows[:1], [])[0].in_prompt is None  # no LLM span: nothing to match against


def test_decision_diff() -> None:
    [d] = M.decisions(
        [
            {
                "name": "pii",
                "verdict": "modify",
                "reason": "email",
                "score": None,
                "action": "mask",
                "before_text": "mail me at a@b.c",
                "after_text": "mail me at [email]",
                "span_id": "s",
            }
        ]
    )
    assert "-mail me at a@b.c" in d.diff and "+mail me at [email]" in d.diff
    assert M.diff("same", "same") == "" and M.diff(None, None) == ""


def test_usage_model_parameters_and_exceptions() -> None:
    span = {
        "input_tokens": 5,
        "output_tokens": 2,
        "cost_usd": 0.1,
        "duration_ms": 40.0,
        "attributes": {
            A.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK: 0.012,
            A.GEN_AI_REQUEST_TEMPERATURE: 0.0,
            A.GEN_AI_REQUEST_MODEL: "m",
            "other": 1,
        },
    }
    u = M.usage(span)
    assert u["ttft_ms"] == pytest.approx(12.0) and u["latency_ms"] == 40.0
    assert M.model_parameters(span["attributes"]) == {A.GEN_AI_REQUEST_MODEL: "m", A.GEN_AI_REQUEST_TEMPERATURE: 0.0}
    events = [
        {
            "span_id": "s",
            "name": A.EXCEPTION_EVENT,
            "attributes": json.dumps(
                {A.EXCEPTION_TYPE: "ValueError", A.EXCEPTION_MESSAGE: "bad", A.EXCEPTION_STACKTRACE: "Traceback ..."}
            ),
        },
        {"span_id": "other", "name": A.EXCEPTION_EVENT, "attributes": "{}"},
    ]
    assert M.exceptions(events, "s") == [{"type": "ValueError", "message": "bad", "stacktrace": "Traceback ..."}]


def _span(sid: str, parent: str | None, start: int, name: str = "") -> dict:
    t0 = _dt.datetime(2025, 1, 1)
    return {
        "span_id": sid,
        "parent_span_id": parent,
        "name": name or sid,
        "start_time": t0 + _dt.timedelta(milliseconds=start),
        "duration_ms": 10.0,
        "span_type": "step",
        "status_code": "UNSET",
    }


def test_tree_depth_first_children_by_start_and_orphans_kept() -> None:
    spans = [
        _span("c2", "root", 20),
        _span("root", None, 0),
        _span("c1", "root", 10),
        _span("g", "c1", 11),
        _span("orphan", "not-stored-yet", 5),
    ]
    nodes = tree(spans)
    assert [(n.span_id, n.depth) for n in nodes] == [("root", 0), ("c1", 1), ("g", 2), ("c2", 1), ("orphan", 0)]
    rows = waterfall(nodes)
    assert [r["start_ms"] for r in rows] == [0.0, 10.0, 11.0, 20.0, 5.0]
    assert len({r["key"] for r in rows}) == 5  # unique even when names repeat


def test_tree_survives_a_parent_cycle() -> None:
    nodes = tree([_span("a", "b", 0), _span("b", "a", 1)])
    assert sorted(n.span_id for n in nodes) == ["a", "b"]


def test_md_escapes_markup_in_labels() -> None:
    assert md("**x** <b>y</b> ![i](http://e/x) :red[z]") == (
        "\\*\\*x\\*\\* \\<b\\>y\\<\\/b\\> \\!\\[i\\]\\(http\\:\\/\\/e\\/x\\) \\:red\\[z\\]"
    )
    assert md("a" * 300, limit=10) == "a" * 9 + "…"


def test_trace_table_columns_and_flags() -> None:
    rows = [
        {
            "trace_id": "t",
            "start_time": _dt.datetime(2025, 1, 1),
            "root_name": None,
            "status_code": "ERROR",
            "duration_ms": 3.0,
            "llm_count": 2,
            "input_tokens": 10,
            "output_tokens": None,
            "cost_usd": None,
            "models": ["a", "b"],
            "error_count": 1,
            "blocked_count": 1,
            "flagged_count": 1,
        }
    ]
    df = _trace_list.table(rows)
    r = df.to_dict("records")[0]
    assert r["flags"] == "error, blocked, flagged" and r["tokens"] == 10 and r["models"] == "a, b"
    assert r["root"] == "(root span not ended yet)" and r["hallucination"] == ""
    assert _trace_list.table([]).empty


def test_view_command_binds_localhost_and_finds_the_app_from_anywhere() -> None:
    cmd = _launch.streamlit_command()
    assert cmd[1:4] == ["-m", "streamlit", "run"] and _launch.APP_PATH.is_file()
    assert cmd[cmd.index("--server.address") + 1] == "127.0.0.1"
    assert cmd[cmd.index("--server.port") + 1] == "8501"
    assert cmd[cmd.index("--browser.gatherUsageStats") + 1] == "false"
    assert cmd[cmd.index("--server.headless") + 1] == "true"
    other = _launch.streamlit_command(host="0.0.0.0", port=9000)
    assert other[other.index("--server.address") + 1] == "0.0.0.0"


def test_view_subcommand_is_registered() -> None:
    from tracer.cli import build_parser

    ns = build_parser().parse_args(["view", "--db", "x.duckdb", "--port", "8600", "--host", "0.0.0.0"])
    assert (ns.command, ns.db, ns.port, ns.host) == ("view", "x.duckdb", 8600, "0.0.0.0")
    ns = build_parser().parse_args(["view"])
    assert (ns.port, ns.host) == (8501, "127.0.0.1")


# --- hallucination debugging: provenance, grounding results, compare, replay ----------------
def test_truncated_document_is_a_long_enough_prefix() -> None:
    doc = "The Lighthouse L2 comes with a two-year limited warranty covering manufacturing defects."
    hay = "Context:\n[kb-warranty] The Lighthouse L2 comes with a two-year lim"
    found, kept = M.provenance(doc, hay, M.normalise(hay))
    assert found == "truncated" and kept == len("The Lighthouse L2 comes with a two-year lim")
    # a shared opening (every article starts with the product's name) is not a cut
    other = "The Lighthouse L2 is rated IP44."
    assert M.provenance(other, hay, M.normalise(hay)) == (None, None)
    assert M.provenance(doc, doc, M.normalise(doc)) == ("exact", None)


def test_grounding_result_from_an_evaluation_row() -> None:
    from viewer import _grounding as G

    details = {
        "label": "hallucination",
        "score": 0.2,
        "unsupported_numbers": ["18"],
        "sentences": [
            {"text": "A.", "start": 0, "end": 2, "supported": True, "score": 0.9, "best_document_id": "d1"},
            {
                "text": "B 18.",
                "start": 3,
                "end": 8,
                "supported": False,
                "score": 0.2,
                "best_document_id": None,
                "unsupported_numbers": ["18"],
                "unsupported_entities": [],
            },
        ],
    }
    rows = [
        {"name": "grounding", "span_id": "s", "label": "grounded", "score": 1.0, "details": "{}"},
        {"name": "other", "span_id": "s", "label": "x", "score": 0.0, "details": None},
        {
            "name": "grounding",
            "span_id": "s",
            "label": "hallucination",
            "score": 0.2,
            "explanation": "1 of 2",
            "details": json.dumps(details),
        },
    ]
    g = G.for_span(rows, "s")
    assert g is not None and g.suspected and g.numbers == ("18",) and g.entities == ()
    assert [(s.supported, s.best_document_id) for s in g.sentences] == [(True, "d1"), (False, None)]
    assert g.summary() == "hallucination suspected · score 0.20 · 1 of 2 sentences unsupported"
    assert G.for_span(rows, "other-span") is None
    assert G.from_details("not json").sentences == () and G.from_details({"supported": False}).suspected


def test_compare_context_statuses() -> None:
    from viewer import _compare as C

    def doc(rank: int, id_: str, content: str = "") -> M.Document:
        return M.Document(rank, id_, content or id_, None, None, "s", "exact")

    rows = C.context_diff(
        [doc(1, "a"), doc(2, "b"), doc(3, "c"), doc(4, "e", "old")],
        [doc(1, "a"), doc(2, "c"), doc(3, "d"), doc(4, "e", "new")],
    )
    assert [(r["document"], r["status"], r["rank A"], r["rank B"]) for r in rows] == [
        ("a", "same", 1, 1),
        ("b", "removed", 2, None),
        ("c", "moved", 3, 2),
        ("e", "changed", 4, 4),
        ("d", "added", None, 3),
    ]
    assert C.text_diff("One. Two.", "One. Three.").splitlines()[-2:] == ["-Two.", "+Three."]
    assert C.text_diff("same", "same") == ""


DEMO_SPAN = {
    A.GEN_AI_PROVIDER_NAME: "openai",
    A.GEN_AI_OPERATION_NAME: A.OP_CHAT,
    A.GEN_AI_REQUEST_MODEL: "gpt-4o-mini",
    A.GEN_AI_REQUEST_TEMPERATURE: 0.2,
    A.GEN_AI_REQUEST_MAX_TOKENS: 100,
    A.GEN_AI_REQUEST_STOP_SEQUENCES: ["END"],
    A.OI_LLM_INVOCATION_PARAMETERS: json.dumps({"model": "gpt-4o-mini", "tool_choice": "auto", "stream": True}),
    A.GEN_AI_TOOL_DEFINITIONS: json.dumps(
        [{"type": "function", "name": "lookup_order", "description": "d", "parameters": {"type": "object"}}]
    ),
    A.GEN_AI_INPUT_MESSAGES: json.dumps(
        [
            {
                "role": "system",
                "parts": [{"type": "text", "content": "Context:\n[kb-a] Alpha is first.\n[kb-b] Beta is sec"}],
            },
            {"role": "user", "parts": [{"type": "text", "content": "order 1?"}]},
            {
                "role": "assistant",
                "parts": [{"type": "tool_call", "id": "c1", "name": "lookup_order", "arguments": {"order_id": "1"}}],
            },
            {"role": "tool", "parts": [{"type": "tool_call_response", "id": "c1", "response": {"status": "shipped"}}]},
        ]
    ),
}


def test_replay_request_rebuilt_from_the_span() -> None:
    from viewer import _replay as R

    req = R.request_from_span(DEMO_SPAN)
    assert req["model"] == "gpt-4o-mini" and req["temperature"] == 0.2 and req["max_tokens"] == 100
    assert req["stop"] == ["END"] and req["tool_choice"] == "auto" and "stream" not in req
    assert req["tools"] == [
        {"type": "function", "function": {"name": "lookup_order", "description": "d", "parameters": {"type": "object"}}}
    ]
    assert req["messages"][1] == {"role": "user", "content": "order 1?"}
    assert req["messages"][2] == {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "lookup_order", "arguments": '{"order_id": "1"}'}}
        ],
    }
    assert req["messages"][3] == {"role": "tool", "tool_call_id": "c1", "content": '{"status": "shipped"}'}
    assert [(i, role) for i, role, _ in R.editable(req)] == [(0, "system"), (1, "user"), (3, "tool")]
    edited = R.with_texts(req, {1: "order 2?"})
    assert edited["messages"][1]["content"] == "order 2?" and req["messages"][1]["content"] == "order 1?"


def test_replay_without_a_document_whole_or_truncated() -> None:
    from viewer import _replay as R

    req = R.request_from_span(DEMO_SPAN)
    gone, found = R.without_document(req, "Alpha is first.")
    assert found and gone["messages"][0]["content"] == "Context:\n[kb-b] Beta is sec"
    gone, found = R.without_document(req, "Beta is second, after alpha.")  # cut by the budget
    assert found and gone["messages"][0]["content"] == "Context:\n[kb-a] Alpha is first."
    assert R.without_document(req, "Gamma.") == (req, False)


def test_replay_availability() -> None:
    from viewer import _replay as R

    assert R.unavailable(DEMO_SPAN, {"OPENAI_API_KEY": "k"}) is None
    assert "OPENAI_API_KEY" in (R.unavailable(DEMO_SPAN, {}) or "")
    assert "Only OpenAI" in (
        R.unavailable({**DEMO_SPAN, A.GEN_AI_PROVIDER_NAME: "anthropic"}, {"OPENAI_API_KEY": "k"}) or ""
    )
    assert "not captured" in (
        R.unavailable({**DEMO_SPAN, A.GEN_AI_INPUT_MESSAGES: "[{cut"}, {"OPENAI_API_KEY": "k"}) or ""
    )
    assert R.redact("Incorrect API key provided: sk-proj-abcdefghijkl") == "Incorrect API key provided: sk-…"


# --- logical calls, outcome, missing context (issue 9) -------------------------------------
from viewer import _calls, _context, _elsewhere
from viewer import _grounding as G
from viewer import _outcome as O

T0 = _dt.datetime(2025, 1, 1, 12, 0, 0)


def _s(sid: str, parent: str | None, kind: str, name: str, ms: int = 0, **extra: object) -> dict:
    return {
        "span_id": sid,
        "parent_span_id": parent,
        "span_type": kind,
        "name": name,
        "start_time": T0 + _dt.timedelta(milliseconds=ms),
        "attributes": extra.pop("attributes", {}),
        **extra,
    }


def test_a_decorator_given_chat_messages_shows_and_replays_the_request_the_client_sent() -> None:
    from viewer import _replay as R

    def msgs(*texts: str) -> str:
        return json.dumps([{"role": "user", "parts": [{"type": "text", "content": t}]} for t in texts])

    # @trace_llm(model=...) def answer(history): adds the system prompt and documents, then calls.
    outer_attrs = {
        **DEMO_SPAN,
        A.GEN_AI_INPUT_MESSAGES: msgs("the question"),  # its arguments
        A.LLM_INNER_CALLS: 1,
        A.LLM_INNER_USAGE: True,
    }
    spans = [
        _s("d", None, "llm", "answer", attributes=outer_attrs),
        _s(
            "c",
            "d",
            "llm",
            "chat gpt-4o-mini",
            1,
            attributes={**DEMO_SPAN, A.GEN_AI_INPUT_MESSAGES: msgs("system + docs", "the question")},
        ),
    ]
    got = _calls.borrowed(_calls.Calls(spans), spans[0])
    assert got is not None and got.content is not None and got.content["span_id"] == "c"
    assert "client call inside" in (R.unavailable(outer_attrs, {"OPENAI_API_KEY": "k"}) or "")
    assert R.unavailable(spans[1]["attributes"], {"OPENAI_API_KEY": "k"}) is None


def test_logical_calls_from_the_tree_from_the_attribute_and_from_the_columns() -> None:
    msgs = {
        A.GEN_AI_INPUT_MESSAGES: json.dumps([{"role": "user", "parts": [{"type": "text", "content": "q"}]}]),
        A.GEN_AI_OUTPUT_MESSAGES: json.dumps([{"role": "assistant", "parts": [{"type": "text", "content": "a"}]}]),
    }
    # A decorator around two stacked client instrumentations: only the innermost has usage.
    spans = [
        _s("s", None, "step", "rag"),
        _s("d", "s", "llm", "answer", 1, model="gpt-4o-mini"),
        _s("c1", "d", "llm", "chat gpt-4o-mini", 2, attributes={**msgs, A.GEN_AI_PROVIDER_NAME: "openai"}),
        _s("c2", "c1", "llm", "ChatCompletion", 3, attributes=msgs, input_tokens=12, output_tokens=5, cost_usd=0.001),
    ]
    calls = _calls.Calls(spans)
    assert [s["span_id"] for s in calls.logical()] == ["d"]
    assert calls.parent("c1")["span_id"] == "d" and calls.parent("c2")["span_id"] == "c1"
    assert [s["span_id"] for s in calls.inner("d")] == ["c1", "c2"]
    assert [calls.usage_counted(s) for s in spans[1:]] == [False, False, True]
    got = _calls.borrowed(calls, spans[1])
    assert got is not None and got.content["span_id"] == "c2"  # the call that answered, innermost last
    assert [s["span_id"] for s in got.usage] == ["c2"] and got.totals == {
        "input_tokens": 12,
        "output_tokens": 5,
        "cost_usd": 0.001,
    }
    assert _calls.where([spans[2]]) == "the openai call inside: chat gpt-4o-mini"
    assert _calls.where(spans[2:]) == "the 2 calls inside: chat gpt-4o-mini, ChatCompletion"
    # Own messages and usage: nothing borrowed.
    assert _calls.borrowed(calls, spans[3]) is None
    # The store's marks win over the tree: a column, else the attribute.
    marked = [
        _s("a", None, "llm", "a"),
        _s("b", None, "llm", "b", attributes={A.LLM_PARENT_SPAN_ID: "a"}),
        _s("c", "a", "llm", "c", llm_parent_span_id=None, usage_counted=True),
    ]
    calls = _calls.Calls(marked)
    assert calls.parent("b")["span_id"] == "a" and calls.parent("c") is None
    assert [s["span_id"] for s in calls.logical()] == ["a", "c"]


def test_model_from_the_column_else_the_request() -> None:
    assert _calls.model({"model": "gpt-4o-mini-2024-07-18", "attributes": {}}) == "gpt-4o-mini-2024-07-18"
    assert _calls.model({"attributes": {A.GEN_AI_REQUEST_MODEL: "gpt-4o"}}) == "gpt-4o"
    assert _calls.model({"attributes": {}}) is None


def _decision(
    verdict: str, name: str, before: str | None = None, after: str | None = None, span: str = "g"
) -> dict[str, Any]:
    """A row of the decisions table, as Store.get_trace gives it."""
    return {
        "name": name,
        "verdict": verdict,
        "reason": "why",
        "before_text": before,
        "after_text": after,
        "span_id": span,
    }


def test_outcome_blocked_wins_then_the_last_modification() -> None:
    assert O.of_trace([_decision("pass", "a"), _decision("flag", "b")], []) == O.Outcome(O.DELIVERED)
    out = O.of_trace(
        [_decision("modify", "redact", "x a@b.c", "x [email]"), _decision("block", "policy", "x [email]", "Sorry.")], []
    )
    assert (out.kind, out.headline(), out.received, out.original) == (
        O.BLOCKED,
        "blocked by policy",
        "Sorry.",
        "x a@b.c",
    )
    out = O.of_trace([_decision("modify", "one", "a", "b"), _decision("modify", "two", "b", "c")], [])
    assert (out.kind, out.headline(), out.received, out.original) == (O.MODIFIED, "modified by two", "c", "a")
    # No after text: what the step returned.
    step = _s("g", None, "postprocess", "guard", attributes={A.OI_OUTPUT_VALUE: "returned"})
    assert O.of_trace([_decision("block", "p")], [step], ["the answer"]).received == "returned"
    assert O.of_trace([_decision("block", "p")], [step]).received is None  # it may be the blocked answer
    assert [O.of_row(r) for r in ({"blocked_count": 1, "modified_count": 1}, {"modified_count": 2}, {})] == [
        O.BLOCKED,
        O.MODIFIED,
        O.DELIVERED,
    ]


def test_outcome_applies_to_answers_before_the_step_not_to_a_judge_inside_it() -> None:
    spans = [
        _s("r", None, "step", "rag"),
        _s("a", "r", "llm", "answer", 1),
        _s("g", "r", "postprocess", "guard", 5),
        _s("j", "g", "llm", "judge", 6),
        _s("late", "r", "llm", "followup", 9),
    ]
    out = O.of_trace([_decision("block", "judge_says_no")], spans)
    assert O.affected(out, spans, {"a": "x", "j": "no", "late": "y"}) == {"a"}
    assert O.affected(O.Outcome(O.DELIVERED), spans, {"a": "x"}) == set()


def test_tool_results_from_tool_spans_and_prompts_once_with_the_grounding_ids() -> None:
    prompt = json.dumps(
        [
            {"role": "assistant", "parts": [{"type": "tool_call", "id": "c1", "name": "weather", "arguments": "{}"}]},
            {"role": "tool", "parts": [{"type": "tool_call_response", "id": "c1", "response": "rainy"}]},
            {"role": "tool", "parts": [{"type": "tool_call_response", "id": "c2", "response": "Order shipped."}]},
        ]
    )
    spans = [
        _s("t", None, "tool", "lookup_order", attributes={A.OI_OUTPUT_VALUE: "Order shipped."}),
        _s("t2", None, "tool", "lookup_order", attributes={A.GEN_AI_TOOL_CALL_RESULT: "Order delayed."}),
        _s("l", None, "llm", "answer", attributes={A.GEN_AI_INPUT_MESSAGES: prompt}),
        _s("e", None, "tool", "noop"),
    ]
    found = _context.tool_results(spans)
    assert [(t.id, t.text) for t in found] == [
        ("tool:lookup_order", "Order shipped."),
        ("tool:lookup_order#2", "Order delayed."),
        ("tool:weather", "rainy"),
        ("tool:c2", "Order shipped."),
    ]


def test_missing_context_reasons() -> None:
    trace = {"trace_id": "x", "start_time": T0, "end_time": T0, "service_name": "app"}
    answer = {"trace": trace, "spans": [_s("a", None, "llm", "answer")], "documents": []}
    assert _context.needs_hint(answer, [], [])
    assert not _context.needs_hint({"spans": [_s("g", None, "postprocess", "guard")]}, [], [])
    retrieval = {
        "trace_id": "r",
        "root_name": "search_kb",
        "start_time": T0 - _dt.timedelta(seconds=1),
        "service_name": "app",
        "span_types": ["retriever"],
    }
    elsewhere = [
        retrieval,
        {**retrieval, "trace_id": "other-service", "service_name": "web"},
        {**retrieval, "trace_id": "whole-request", "span_types": ["step", "retriever", "llm"]},
    ]
    found = _context.missing(answer, elsewhere)
    assert found.reason == "other trace" and [r["trace_id"] for r in found.traces] == ["r"]
    assert _context.missing(answer, elsewhere[1:]).reason == "not recorded"
    empty = {**answer, "spans": [*answer["spans"], _s("s", None, "retriever", "search_kb")]}
    assert _context.missing(empty, elsewhere) == _context.Missing("empty retriever", retrievers=("search_kb",))


def test_elsewhere_windows_distance_and_the_fix_in_the_users_names() -> None:
    trace = {"start_time": T0, "end_time": T0 + _dt.timedelta(seconds=2)}
    assert _elsewhere.before(trace) == (T0 - _dt.timedelta(seconds=10), T0 + _dt.timedelta(microseconds=1))
    assert _elsewhere.after(trace) == (T0, T0 + _dt.timedelta(seconds=12))
    assert _elsewhere.before({"start_time": None}) is None
    assert _elsewhere.distance({"start_time": T0 - _dt.timedelta(milliseconds=2)}, trace) == "2.0 ms earlier"
    assert _elsewhere.distance({"start_time": T0 + _dt.timedelta(seconds=3)}, trace) == "3.0 s later"
    code = _elsewhere.wrap_example("search_kb", "answer", "length_guard")
    assert "@tracer.trace_step" in code and "docs = search_kb(question)" in code
    assert "return length_guard(answer(question, docs))" in code and 'with tracer.span("pipeline"):' in code
    assert "return answer(question)" in _elsewhere.wrap_example(None, "answer", None)
    assert "docs = search(question)" in _elsewhere.wrap_example("not a name()", None, None)


def test_grounding_names_a_tool_result_as_the_source() -> None:
    g = G.from_details(
        {
            "label": "grounded",
            "sentences": [
                {"text": "Arrives Friday.", "supported": True, "best_document_id": "tool:lookup_order"},
                {"text": "Shipped.", "supported": True, "best_document_id": "tool:lookup_order#2"},
                {"text": "Hi.", "supported": True, "best_document_id": "kb-2"},
            ],
        }
    )
    assert [(s.best_source_kind, s.best_source) for s in g.sentences] == [
        (G.SOURCE_TOOL, "lookup_order"),
        (G.SOURCE_TOOL, "lookup_order#2"),
        (G.SOURCE_DOCUMENT, None),
    ]


def test_list_flags_and_hallucination_say_what_the_user_received() -> None:
    row = {"trace_id": "t", "modified_count": 1, "suspected_hallucination": True}
    r = _trace_list.table([row]).to_dict("records")[0]
    assert r["flags"] == "modified" and r["hallucination"] == "suspected (modified)"
    r = _trace_list.table([{**row, "blocked_count": 1}]).to_dict("records")[0]
    assert r["flags"] == "blocked, modified" and r["hallucination"] == "suspected (blocked)"
    assert _trace_list.table([{**row, "modified_count": 0}]).to_dict("records")[0]["hallucination"] == "suspected"
