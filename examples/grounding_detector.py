"""Check RAG answers with a learned hallucination detector when one is on this machine, and
with the offline model either way, side by side.

    pip install 'spyglass[detector]'
    python examples/grounding_detector.py                     # looks for LettuceDetect
    python examples/grounding_detector.py path/to/model       # a folder, or a Hugging Face id

The detector is a token classifier of the LettuceDetect kind: a folder with ``tokenizer.json``,
``config.json`` and ``model.onnx`` (ONNX Runtime, no torch) or PyTorch weights (needs torch and
transformers). A Hugging Face id is looked up in the local cache only; nothing is downloaded.
Without a detector the example says why and shows the offline model alone.
"""

from __future__ import annotations

import sys

from tracer import grounding

DEFAULT_MODEL = "KRLabsOrg/lettucedect-base-modernbert-en-v1"

CASES = [
    (
        "How long does the L2 lamp's battery last?",
        ["The L2 lamp battery lasts 12 hours and charges over USB-C in 3 hours."],
        "The battery lasts 12 hours. It charges over USB-C in 3 hours.",
    ),
    (
        "Where is the L2 lamp made?",
        ["The L2 lamp battery lasts 12 hours and charges over USB-C in 3 hours."],
        "The battery lasts 12 hours. The lamp is made in Norway by Fjord Power since 2019.",
    ),
]


def show(name: str, report: grounding.GroundingReport) -> None:
    print(f"  {name}: {report.verdict} (P = {report.probability:.2f}, scorer {report.scorer})")
    for s in report.ranked:
        print(f"    {s.probability:.2f}  {s.text}")


def main(argv: list[str]) -> int:
    spec = argv[1] if len(argv) > 1 else DEFAULT_MODEL
    try:
        detector: grounding.TokenDetector | None = grounding.TokenDetector(spec)
    except grounding.DetectorUnavailable as exc:
        print(f"no detector: {exc}\n(the offline model alone below)\n")
        detector = None
    for question, documents, answer in CASES:
        print(f"Q: {question}\nA: {answer}")
        show("offline", grounding.check(answer, documents, question))
        if detector is not None:
            show("detector", grounding.check(answer, documents, question, scorer=detector))
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
