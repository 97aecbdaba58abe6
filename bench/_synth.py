"""Synthetic but realistic content for the store benchmarks, generated offline and seeded.

Text is built from a fixed pool of sentences over a vocabulary of common English words,
domain words and made-up words, so that it compresses like prose rather than like
repeated filler. Two marker words are planted at known rates for text search:
``RARE_WORD`` in about 1 in 2,000 LLM answers and ``COMMON_WORD`` in about 1 in 50.

``staging_batch`` writes rows in ``tracer.store._rows.STAGING_SCHEMA`` directly, with the
attribute layout the decorators produce (checked against real spans: see ``bench_store``),
so a million spans can be built without creating OpenTelemetry span objects.
"""

from __future__ import annotations

import json
import random
from typing import Any

import pyarrow as pa

from tracer.store._rows import STAGING_SCHEMA

#: Bump when the generated data changes, so that a cached store is rebuilt.
GENERATOR_VERSION = 2
RARE_WORD = "Quetzalcoatlite"
COMMON_WORD = "Zanzibar"

_COMMON = [
    "the",
    "of",
    "and",
    "to",
    "in",
    "is",
    "that",
    "for",
    "it",
    "as",
    "was",
    "with",
    "be",
    "by",
    "on",
    "not",
    "this",
    "are",
    "or",
    "from",
    "at",
    "which",
    "but",
    "have",
    "an",
    "they",
    "you",
    "were",
    "there",
    "been",
    "one",
    "all",
    "we",
    "can",
    "has",
    "their",
    "if",
    "more",
    "when",
    "will",
    "would",
    "who",
    "so",
    "no",
]
_DOMAIN = [
    "model",
    "retrieval",
    "context",
    "answer",
    "question",
    "document",
    "policy",
    "customer",
    "refund",
    "shipping",
    "order",
    "account",
    "invoice",
    "billing",
    "subscription",
    "plan",
    "upgrade",
    "error",
    "latency",
    "token",
    "prompt",
    "embedding",
    "vector",
    "index",
    "database",
    "query",
    "cache",
    "region",
    "server",
    "deploy",
    "release",
    "feature",
    "bug",
    "ticket",
    "support",
    "agent",
    "escalation",
    "warranty",
    "product",
    "price",
    "discount",
    "contract",
    "renewal",
    "onboarding",
    "integration",
    "webhook",
    "dashboard",
    "report",
    "export",
    "import",
    "permission",
    "role",
    "audit",
    "compliance",
    "storage",
    "backup",
    "restore",
    "migration",
    "schema",
]
_SYLLABLES = [
    "ka",
    "lo",
    "mi",
    "ra",
    "ten",
    "sul",
    "vor",
    "en",
    "is",
    "ta",
    "pre",
    "dum",
    "cal",
    "ri",
    "on",
    "ex",
    "ver",
    "ge",
    "na",
    "bo",
    "tri",
    "sen",
    "mar",
    "pol",
    "fu",
    "qua",
    "zen",
    "dro",
    "lin",
]


class TextPool:
    def __init__(self, seed: int = 7, sentences: int = 20_000) -> None:
        rng = random.Random(seed)
        made_up = ["".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 4))) for _ in range(3_000)]
        vocab = _COMMON * 6 + _DOMAIN * 3 + made_up
        pool = []
        for _ in range(sentences):
            words = [rng.choice(vocab) for _ in range(rng.randint(6, 22))]
            if rng.random() < 0.2:
                words.insert(rng.randrange(len(words)), str(rng.randint(1, 99_999)))
            pool.append(" ".join(words).capitalize() + rng.choice(".....?!"))
        self.sentences = pool
        self.avg = sum(len(s) + 1 for s in pool) / len(pool)
        self.rng = random.Random(seed + 1)

    def text(self, chars: int) -> str:
        k = max(1, round(chars / self.avg))
        return " ".join(self.rng.choices(self.sentences, k=k))

    def docs(self, total_chars: int, n: int) -> list[dict[str, Any]]:
        per = max(40, total_chars // n)
        return [
            {
                "id": f"kb-{self.rng.randrange(1_000_000):06d}",
                "content": self.text(per),
                "score": round(self.rng.uniform(0.3, 0.99), 4),
                "metadata": {"source": self.rng.choice(("wiki", "kb", "faq", "tickets"))},
            }
            for _ in range(n)
        ]


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


# --- the 1M-span store ------------------------------------------------------------------
MODELS = [
    ("gpt-4o-mini", "openai", 0.50),
    ("gpt-4o", "openai", 0.25),
    ("claude-3-5-sonnet", "anthropic", 0.15),
    ("llama-3.1-70b", "meta", 0.10),
]
PROMPT_VERSIONS = ["qa-v1", "qa-v2", "qa-v3", "qa-v4", "qa-v5", "qa-v6"]
ERRORS = [
    ("RateLimitError", "Rate limit reached for requests"),
    ("APITimeoutError", "Request timed out."),
    ("BadRequestError", "This model's maximum context length is 128000 tokens"),
]
VERDICTS = [("pass", 0.5), ("flag", 0.3), ("block", 0.1), ("modify", 0.1)]
SPANS_PER_TRACE = 8
_RESOURCE = dumps(
    {
        "telemetry.sdk.language": "python",
        "telemetry.sdk.name": "opentelemetry",
        "telemetry.sdk.version": "1.45.2",
        "service.name": "rag-service",
    }
)


class StoreGenerator:
    """Traces of 8 spans: pipeline (step) > embed_query (embedding), vector_search (retriever),
    rerank (step), answer (llm), guardrail (postprocess), format_citations (tool),
    suggest_followups (llm). ~2% of traces fail in ``answer``; ~8% carry a guardrail decision."""

    def __init__(
        self, seed: int = 11, start_us: int = 1_735_689_600_000_000, days: float = 30.0, traces: int = 125_000
    ) -> None:
        self.rng = random.Random(seed)
        self.text = TextPool(seed)
        self.t = start_us
        self.step_us = int(days * 86_400e6 / traces)  # mean gap between trace starts
        self.sessions = [f"sess-{i:06d}" for i in range(25_000)]
        self.users = [f"user-{i:05d}" for i in range(3_000)]

    def _id(self, bits: int) -> str:
        return format(self.rng.getrandbits(bits), f"0{bits // 4}x")

    def batch(self, n_traces: int) -> pa.Table:
        cols: dict[str, list[Any]] = {f.name: [] for f in STAGING_SCHEMA}
        for _ in range(n_traces):
            self._trace(cols)
        return pa.Table.from_pydict(cols, schema=STAGING_SCHEMA)

    def _trace(self, cols: dict[str, list[Any]]) -> None:
        r, tx = self.rng, self.text
        self.t += int(r.expovariate(1.0) * self.step_us)
        trace_id, root_id = self._id(128), self._id(64)
        model, provider = r.choices([(m, p) for m, p, _ in MODELS], weights=[w for *_, w in MODELS])[0]
        pv = r.choice(PROMPT_VERSIONS)
        trace_attrs: dict[str, Any] = {"session.id": r.choice(self.sessions), "user.id": r.choice(self.users)}
        trace_attrs["gen_ai.conversation.id"] = trace_attrs["session.id"]
        tags = ["prod"] if r.random() < 0.8 else ["staging", "beta"]
        trace_attrs["spyglass.tags"] = tags
        trace_attrs["tag.tags"] = tags
        failed = r.random() < 0.02
        error = r.choice(ERRORS) if failed else None

        question = tx.text(r.randint(60, 200))
        docs = tx.docs(r.randint(200, 850), r.randint(3, 6))
        answer = tx.text(r.randint(200, 1_000))
        if r.random() < 1 / 2_000:
            answer = answer[:50] + f" {RARE_WORD} " + answer[50:]
        if r.random() < 1 / 50:
            answer = answer[:20] + f" {COMMON_WORD} " + answer[20:]

        # (name, span type, duration µs); children run one after the other inside the root.
        durations = [
            r.randint(20_000, 80_000),
            r.randint(30_000, 400_000),
            r.randint(5_000, 60_000),
            int(r.lognormvariate(14.2, 0.6)),
            r.randint(20_000, 200_000),
            r.randint(5_000, 50_000),
            int(r.lognormvariate(13.6, 0.5)),
        ]
        t, starts = self.t + 1_000, []
        for d in durations:
            starts.append(t)
            t += d + r.randint(100, 2_000)
        root_end = t + 1_000

        def row(
            span_id: str,
            parent: str | None,
            name: str,
            span_type: str,
            start: int,
            end: int,
            attrs: dict[str, Any],
            *,
            status: str = "UNSET",
            message: str | None = None,
            operation: str | None = None,
            prov: str | None = None,
            mdl: str | None = None,
            tokens: tuple[int, int] | None = None,
            cost: float | None = None,
            prompt: str | None = None,
            error_type: str | None = None,
            events: str | None = None,
            documents: str | None = None,
        ) -> None:
            attrs.update(trace_attrs)
            values = {
                "trace_id": trace_id,
                "span_id": span_id,
                "parent_span_id": parent,
                "name": name,
                "kind": "INTERNAL",
                "span_type": span_type,
                "start_time": start,
                "end_time": end,
                "duration_ms": (end - start) / 1_000,
                "status_code": status,
                "status_message": message,
                "service_name": "rag-service",
                "operation": operation,
                "provider": prov,
                "model": mdl,
                "input_tokens": tokens[0] if tokens else None,
                "output_tokens": tokens[1] if tokens else None,
                "cost_usd": cost,
                "session_id": trace_attrs["session.id"],
                "user_id": trace_attrs["user.id"],
                "prompt_version": prompt,
                "tags": tags,
                "error_type": error_type,
                "attributes": dumps(attrs),
                "resource": _RESOURCE,
                "scope": "spyglass",
                "_events": events,
                "_documents": documents,
                # Schema v5: no call here is nested in another (one LLM span per logical call).
                "llm_parent_span_id": None,
                "usage_counted": True,
            }
            for k, v in values.items():
                cols[k].append(v)

        def base(span_type: str, oi_kind: str, fn: str, **extra: Any) -> dict[str, Any]:
            return {
                "spyglass.span.type": span_type,
                "openinference.span.kind": oi_kind,
                **extra,
                "code.function.name": fn,
            }

        def io(attrs: dict[str, Any], value_in: Any, value_out: Any) -> dict[str, Any]:
            for key, value in (("input", value_in), ("output", value_out)):
                if value is None:
                    continue
                is_text = isinstance(value, str)
                attrs[f"{key}.value"] = value if is_text else dumps(value)
                attrs[f"{key}.mime_type"] = "text/plain" if is_text else "application/json"
            return attrs

        def llm(name: str, fn: str, mdl: str, prov: str, inputs: Any, output: str | None) -> dict[str, Any]:
            a = io(
                base(
                    "llm",
                    "LLM",
                    fn,
                    **{
                        "gen_ai.operation.name": "chat",
                        "gen_ai.request.model": mdl,
                        "llm.model_name": mdl,
                        "gen_ai.provider.name": prov,
                        "spyglass.prompt.version": pv,
                    },
                ),
                inputs,
                None,
            )
            tin, tout = len(a["input.value"]) // 4, len(output or "") // 4
            a.update(
                {
                    "gen_ai.usage.input_tokens": tin,
                    "gen_ai.usage.output_tokens": tout,
                    "llm.token_count.prompt": tin,
                    "llm.token_count.completion": tout,
                    "spyglass.cost.usd": round((tin * 2.5 + tout * 10) / 1e6, 6),
                    "llm.token_count.total": tin + tout,
                }
            )
            if output is not None:
                io(a, None, output)
                a["gen_ai.output.messages"] = dumps(
                    [{"role": "assistant", "parts": [{"type": "text", "content": output}]}]
                )
            return a

        ids = [self._id(64) for _ in durations]
        root_status = ("ERROR", f"{error[0]}: {error[1]}") if error else ("UNSET", None)
        row(
            root_id,
            None,
            "rag_pipeline",
            "step",
            self.t,
            root_end,
            io(base("step", "CHAIN", "rag_pipeline"), question, None if error else answer),
            status=root_status[0],
            message=root_status[1],
            error_type=error[0] if error else None,
        )
        row(
            ids[0],
            root_id,
            "embed_query",
            "embedding",
            starts[0],
            starts[0] + durations[0],
            io(base("embedding", "EMBEDDING", "embed_query"), question, {"dimensions": 1536}),
        )
        docs_json = dumps(docs)
        ret = io(
            base("retriever", "RETRIEVER", "vector_search", **{"gen_ai.operation.name": "retrieval"}), question, None
        )
        ret["gen_ai.retrieval.query.text"] = question
        ret["spyglass.documents.count"] = len(docs)
        ret["gen_ai.retrieval.documents"] = docs_json
        ret["output.value"], ret["output.mime_type"] = docs_json, "application/json"
        for i, d in enumerate(docs):
            ret[f"retrieval.documents.{i}.document.id"] = d["id"]
            ret[f"retrieval.documents.{i}.document.content"] = d["content"]
            ret[f"retrieval.documents.{i}.document.score"] = d["score"]
        row(
            ids[1],
            root_id,
            "vector_search",
            "retriever",
            starts[1],
            starts[1] + durations[1],
            ret,
            operation="retrieval",
            documents=docs_json,
        )
        ranked = [{"id": d["id"], "score": d["score"]} for d in docs]
        row(
            ids[2],
            root_id,
            "rerank",
            "step",
            starts[2],
            starts[2] + durations[2],
            io(base("step", "CHAIN", "rerank"), ranked, ranked[:3]),
        )
        a = llm(
            f"chat {model}", "answer", model, provider, {"question": question, "docs": docs}, None if error else answer
        )
        tok = (a["gen_ai.usage.input_tokens"], a["gen_ai.usage.output_tokens"])
        if error:
            a["error.type"] = error[0]
            ev = dumps(
                [
                    {
                        "time_us": starts[3] + durations[3],
                        "name": "exception",
                        "attributes": {
                            "exception.type": error[0],
                            "exception.message": error[1],
                            "exception.stacktrace": "Traceback (most recent call last): ...",
                            "exception.escaped": "True",
                        },
                    }
                ]
            )
            row(
                ids[3],
                root_id,
                f"chat {model}",
                "llm",
                starts[3],
                starts[3] + durations[3],
                a,
                status="ERROR",
                message=f"{error[0]}: {error[1]}",
                operation="chat",
                prov=provider,
                mdl=model,
                tokens=tok,
                cost=a["spyglass.cost.usd"],
                prompt=pv,
                error_type=error[0],
                events=ev,
            )
        else:
            row(
                ids[3],
                root_id,
                f"chat {model}",
                "llm",
                starts[3],
                starts[3] + durations[3],
                a,
                operation="chat",
                prov=provider,
                mdl=model,
                tokens=tok,
                cost=a["spyglass.cost.usd"],
                prompt=pv,
            )
        events = None
        if r.random() < 0.08:
            verdict = r.choices([v for v, _ in VERDICTS], weights=[w for _, w in VERDICTS])[0]
            # The event record_decision() writes (gen_ai.evaluation.result, marked as a decision).
            decision = {
                "gen_ai.evaluation.name": r.choice(("toxicity", "pii", "groundedness")),
                "gen_ai.evaluation.score.label": verdict,
                "gen_ai.evaluation.explanation": tx.text(60),
                "gen_ai.evaluation.score.value": round(r.random(), 3),
                "spyglass.decision.verdict": verdict,
            }
            events = dumps(
                [{"time_us": starts[4] + durations[4] // 2, "name": "gen_ai.evaluation.result", "attributes": decision}]
            )
        row(
            ids[4],
            root_id,
            "guardrail",
            "postprocess",
            starts[4],
            starts[4] + durations[4],
            io(base("postprocess", "GUARDRAIL", "guardrail"), answer[:200], answer[:200]),
            events=events,
        )
        row(
            ids[5],
            root_id,
            "format_citations",
            "tool",
            starts[5],
            starts[5] + durations[5],
            io(
                base(
                    "tool",
                    "TOOL",
                    "format_citations",
                    **{"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "format_citations"},
                ),
                [d["id"] for d in docs],
                "[1] [2] [3]",
            ),
        )
        follow_in = {"answer": answer[: r.randint(200, 600)]}
        f = llm(
            "chat gpt-4o-mini", "suggest_followups", "gpt-4o-mini", "openai", follow_in, tx.text(r.randint(150, 450))
        )
        row(
            ids[6],
            root_id,
            "chat gpt-4o-mini",
            "llm",
            starts[6],
            starts[6] + durations[6],
            f,
            operation="chat",
            prov="openai",
            mdl="gpt-4o-mini",
            tokens=(f["gen_ai.usage.input_tokens"], f["gen_ai.usage.output_tokens"]),
            cost=f["spyglass.cost.usd"],
            prompt=pv,
        )
