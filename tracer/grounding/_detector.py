"""A learned hallucination detector: a token classifier of the LettuceDetect kind, run locally.

The model reads the documents (and the question) as the first sequence and the answer as the
second, and labels each answer token supported (0) or hallucinated (1), as LettuceDetect's
ModernBERT models were trained on RAGTruth. :class:`TokenDetector` turns those labels into
character spans of the answer, which ``check`` maps onto its own sentences.

Two ways to run it, chosen by what the model folder holds and what is installed:

* ONNX Runtime (``model.onnx`` or ``onnx/model.onnx``; ``pip install 'spyglass[detector]'``):
  small, CPU only, no torch;
* ``transformers`` with torch, for a folder of PyTorch weights (as published on the Hub).

The tokenizer is always the folder's ``tokenizer.json``, read by the ``tokenizers`` library,
so both ways cut and align the text identically. Nothing is downloaded: a model id is looked
up in the local Hugging Face cache only.
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["DetectorUnavailable", "TokenDetector", "load_detector", "resolve_model"]

logger = logging.getLogger("spyglass.grounding")

# The prompts LettuceDetect was trained with (RAGTruth's own): the model expects its first
# sequence to look like them.
_QA = (
    "\nBriefly answer the following question:\n{question}\nBear in mind that your response should be strictly "
    "based on the following {n} passages:\n{context}\nIn case the passages do not contain the necessary "
    'information to answer the question, please reply with: "Unable to answer based on given passages."\noutput:\n'
)
_SUMMARY = "\nSummarize the following text:\n{context}\noutput:\n"


class DetectorUnavailable(RuntimeError):
    """The detector cannot run here: its model is not found, or its libraries are missing."""


def resolve_model(spec: str) -> Path:
    """A model folder from a path or a Hugging Face model id, looked up in the local cache only."""
    path = Path(spec).expanduser()
    if path.is_dir():
        return path
    if spec.count("/") != 1 or path.exists():
        raise DetectorUnavailable(f"no model folder at {spec}")
    try:
        from huggingface_hub import snapshot_download
    except ImportError as exc:
        raise DetectorUnavailable(f"{spec}: not a folder, and huggingface_hub is not installed to look it up") from exc
    try:
        return Path(snapshot_download(spec, local_files_only=True))
    except Exception as exc:  # the hub raises several kinds; all mean "not in the cache"
        raise DetectorUnavailable(
            f"{spec} is not in the local Hugging Face cache ({type(exc).__name__}); download it once with "
            f"`huggingface-cli download {spec}` on a machine that can"
        ) from exc


class TokenDetector:
    """A :class:`~tracer.grounding.Detector` on a local token-classification model.

    ``model``: a folder (``tokenizer.json``, ``config.json``, and ``model.onnx`` or PyTorch
    weights) or a model id in the local Hugging Face cache, such as
    ``KRLabsOrg/lettucedect-base-modernbert-en-v1``. ``threshold``: the support under which a
    sentence is flagged (the model's P(hallucinated) above ``1 - threshold``).
    ``max_length``: tokens per input; the documents are cut to fit, never the answer.

    Raises :class:`DetectorUnavailable` when the model or its libraries are missing.
    """

    def __init__(self, model: str | os.PathLike[str], *, threshold: float = 0.5, max_length: int = 4096) -> None:
        self.folder = resolve_model(os.fspath(model))
        self.threshold = threshold
        self.max_length = max_length
        self.name = f"detector:{Path(os.fspath(model)).name}"
        self._tokenizer = _tokenizer(self.folder, max_length)
        self._label = _hallucinated_label(self.folder)
        onnx = next((p for p in (self.folder / "model.onnx", self.folder / "onnx" / "model.onnx") if p.is_file()), None)
        self.backend = "onnxruntime" if onnx is not None else "transformers"
        self._forward = _onnx(onnx) if onnx is not None else _torch(self.folder)

    def detect(
        self, output: str, documents: Sequence[str], *, question: str | None = None
    ) -> list[tuple[int, int, float]]:
        """Each answer token's character span in ``output`` with its P(hallucinated)."""
        if not output.strip():
            return []
        context = "\n".join(f"passage {i}: {doc}" for i, doc in enumerate(documents, 1))
        prompt = _QA.format(question=question, n=len(documents), context=context) if question else None
        encoding = self._tokenizer.encode(prompt or _SUMMARY.format(context=context), output)
        logits = self._forward([encoding.ids], [encoding.attention_mask])[0]
        spans = []
        for sequence, (start, end), row in zip(encoding.sequence_ids, encoding.offsets, logits):
            if sequence == 1 and end > start:
                spans.append((start, end, _softmax(row)[self._label]))
        return spans


def _tokenizer(folder: Path, max_length: int) -> Any:
    try:
        from tokenizers import Tokenizer
    except ImportError as exc:
        raise DetectorUnavailable("the tokenizers package is missing: pip install 'spyglass[detector]'") from exc
    path = folder / "tokenizer.json"
    if not path.is_file():
        raise DetectorUnavailable(f"{folder} has no tokenizer.json (a fast tokenizer is needed)")
    tokenizer = Tokenizer.from_file(str(path))
    # Cut the documents, never the answer: the answer's tokens are what is labelled.
    tokenizer.enable_truncation(max_length, strategy="only_first")
    tokenizer.no_padding()
    return tokenizer


def _hallucinated_label(folder: Path) -> int:
    """The class index meaning "hallucinated": from ``config.json``'s labels, else 1."""
    try:
        labels = json.loads((folder / "config.json").read_text(encoding="utf-8")).get("id2label") or {}
    except (OSError, ValueError):
        return 1
    for index, name in labels.items():
        if any(word in str(name).lower() for word in ("halluc", "unsupported", "1")):
            return int(index)
    return 1


def _softmax(row: Sequence[float]) -> list[float]:
    top = max(row)
    exps = [math.exp(v - top) for v in row]
    total = sum(exps)
    return [e / total for e in exps]


def _onnx(path: Path) -> Any:
    try:
        import numpy as np
        import onnxruntime
    except ImportError as exc:
        raise DetectorUnavailable("onnxruntime is missing: pip install 'spyglass[detector]'") from exc
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3  # warnings about unused initialisers are not the user's business
    session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    wanted = {i.name for i in session.get_inputs()}

    def forward(ids: list[list[int]], mask: list[list[int]]) -> list[list[list[float]]]:
        feeds = {"input_ids": np.array(ids, dtype=np.int64), "attention_mask": np.array(mask, dtype=np.int64)}
        if "token_type_ids" in wanted:
            feeds["token_type_ids"] = np.zeros_like(feeds["input_ids"])
        result: list[list[list[float]]] = session.run(None, {k: v for k, v in feeds.items() if k in wanted})[0].tolist()
        return result

    return forward


def _torch(folder: Path) -> Any:
    try:
        import torch
        from transformers import AutoModelForTokenClassification
    except ImportError as exc:
        raise DetectorUnavailable(
            f"{folder} has no model.onnx, and running its PyTorch weights needs torch and transformers "
            "(or export it to ONNX once: optimum-cli export onnx --task token-classification)"
        ) from exc
    model = AutoModelForTokenClassification.from_pretrained(str(folder)).eval()

    def forward(ids: list[list[int]], mask: list[list[int]]) -> list[list[list[float]]]:
        with torch.no_grad():
            out = model(input_ids=torch.tensor(ids), attention_mask=torch.tensor(mask))
        result: list[list[list[float]]] = out.logits.tolist()
        return result

    return forward


def load_detector(spec: str | None, *, threshold: float = 0.5) -> TokenDetector | None:
    """The detector for ``spec`` (a folder or model id), or ``None`` with the reason logged
    once, so that the offline model takes over. ``None``/"" means none was asked for."""
    if not spec:
        return None
    try:
        return TokenDetector(spec, threshold=threshold)
    except DetectorUnavailable as exc:
        logger.warning("grounding: using the offline model instead of the detector %s: %s", spec, exc)
    except Exception as exc:  # a damaged model file: still never break the app
        logger.warning("grounding: using the offline model; the detector %s failed to load: %r", spec, exc)
    return None
