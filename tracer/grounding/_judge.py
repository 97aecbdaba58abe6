"""An opt-in LLM judge on the ``openai`` client: one chat completion per sentence, asking
how well each document supports it. ``openai`` is imported only when no client is given,
so ``tracer.grounding`` never needs it."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

__all__ = ["LLMJudgeScorer"]

_SYSTEM = (
    "You check whether a claim is supported by source documents. For each document, give a "
    "score from 0 to 1: 1 if the document states or directly implies the whole claim, 0 if it "
    "does not support it or contradicts it, in between for partial support. Use only the "
    'documents, not your own knowledge. Reply with JSON only: {"scores": [one number per '
    "document, in order]}."
)


class LLMJudgeScorer:
    """A :class:`~tracer.grounding.Scorer` that asks an OpenAI chat model.

    ``client`` is an ``openai.OpenAI`` (or compatible) client; without one, a default client
    is built, which reads ``OPENAI_API_KEY``. Sends the documents and the sentence, and
    expects ``{"scores": [...]}``; temperature 0 and a fixed seed for repeatable verdicts.
    Costs one request per sentence: use it on demand, not at export time.
    """

    name = "llm-judge"

    def __init__(
        self, client: Any = None, *, model: str = "gpt-4o-mini", threshold: float = 0.5, max_document_chars: int = 4000
    ) -> None:
        self._client = client
        self.model = model
        self.threshold = threshold
        self.max_document_chars = max_document_chars

    @property
    def client(self) -> Any:
        if self._client is None:
            try:
                import openai
            except ImportError as exc:  # pragma: no cover - depends on the environment
                raise ImportError("LLMJudgeScorer needs the openai package: pip install 'spyglass[openai]'") from exc
            self._client = openai.OpenAI()
        return self._client

    def messages(self, sentence: str, documents: Sequence[str], question: str | None) -> list[dict[str, str]]:
        parts = [f"Document {i}:\n{doc[: self.max_document_chars]}" for i, doc in enumerate(documents)]
        if question:
            parts.append(f"Question the claim answers: {question}")
        parts.append(f"Claim: {sentence}\n\nReply with {len(documents)} scores.")
        return [{"role": "system", "content": _SYSTEM}, {"role": "user", "content": "\n\n".join(parts)}]

    def score(self, sentence: str, documents: Sequence[str], *, question: str | None = None) -> list[float]:
        if not documents:
            return []
        response = self.client.chat.completions.create(
            model=self.model,
            messages=self.messages(sentence, documents, question),
            temperature=0,
            seed=0,
            response_format={"type": "json_object"},
        )
        return parse_scores(response.choices[0].message.content, len(documents))


def parse_scores(content: str | None, n_documents: int) -> list[float]:
    """The judge's ``{"scores": [...]}`` as ``n_documents`` floats clipped to [0, 1].

    Raises ``ValueError`` on anything else: a malformed verdict must not read as "supported"
    or "unsupported" without anyone noticing."""
    try:
        data = json.loads(content or "")
        scores = data["scores"] if isinstance(data, dict) else data
        values = [min(1.0, max(0.0, float(s))) for s in scores]
    except (ValueError, TypeError, KeyError) as exc:
        raise ValueError(f'LLM judge reply is not {{"scores": [numbers]}}: {content!r}') from exc
    if len(values) != n_documents:
        raise ValueError(f"LLM judge gave {len(values)} scores for {n_documents} documents: {content!r}")
    return values
