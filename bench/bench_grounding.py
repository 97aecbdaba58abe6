"""Grounding check benchmark: quality on RAGTruth ``dev.jsonl`` next to the shared lexical
baseline (computed in the same run), and the time per ``check`` call.

    python bench/bench_grounding.py              # quality + timing (~10 s)
    python bench/bench_grounding.py --fit        # refit the model on rest.jsonl, print constants

Data: ``../shared/ragtruth`` next to the repo (``SPYGLASS_SHARED`` overrides ``shared``).

Evaluation. ``check`` runs on each whole response with its own sentence splitter; each
labelled sentence of the dataset is then flagged when any of our sentences that overlaps it
(by character offsets) is unsupported. So precision and recall are on the dataset's own
sentences, the same units the baseline is scored on. A response is flagged when any of its
sentences is; it is positive when it has any labelled span.

Baseline: ``baseline.py`` from the shared folder, imported (not copied), union detector at
the README's T=0.37 (which was chosen on dev itself, so it is, if anything, favoured).

Fitting (``--fit``): features from ``tracer.grounding._model.features`` on rest.jsonl's
labelled sentences; one L2 logistic regression per task shape (QA: a question; Summary:
none); the threshold maximises sentence F1 + response F1 over 5-fold out-of-fold
predictions on rest.jsonl (folds by response). dev.jsonl is never used to fit.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tracer import grounding
from tracer.grounding._index import DocumentIndex, view
from tracer.grounding._model import FEATURES, MODELS, features

PRF = tuple[float, float, float]


def data_dir() -> Path:
    shared = Path(os.environ.get("SPYGLASS_SHARED") or REPO.parent / "shared")
    folder = shared / "ragtruth"
    if not (folder / "dev.jsonl").is_file():
        sys.exit(f"RAGTruth data not found at {folder} (set SPYGLASS_SHARED to the folder holding ragtruth/)")
    return folder


def load(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def prf(tp: int, fp: int, fn: int) -> PRF:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return p, r, 2 * p * r / (p + r) if p + r else 0.0


def _tally(counts: list[int], predicted: bool, gold: bool) -> None:
    """counts = [true positives, false positives, false negatives]"""
    if predicted and gold:
        counts[0] += 1
    elif predicted:
        counts[1] += 1
    elif gold:
        counts[2] += 1


def score(pairs: list[tuple[list[bool], list[bool]]]) -> tuple[PRF, PRF]:
    """``pairs``: per response, (predicted flags, gold flags) per dataset sentence."""
    s = [0, 0, 0]
    r = [0, 0, 0]
    for pred, gold in pairs:
        for p, g in zip(pred, gold):
            _tally(s, p, g)
        _tally(r, any(pred), any(gold))
    return prf(*s), prf(*r)


# --- ours -------------------------------------------------------------------------------------


def ours(rec: dict[str, Any]) -> tuple[list[bool], float]:
    """Flags on the dataset's sentences, and the time ``check`` took."""
    t0 = time.perf_counter()
    report = grounding.check(rec["response"], rec["context_documents"], rec["question"])
    elapsed = time.perf_counter() - t0
    flags = []
    for gold in rec["sentences"]:
        flags.append(any(not s.supported for s in report.sentences if s.start < gold["end"] and gold["start"] < s.end))
    return flags, elapsed


def baseline_pairs(folder: Path, path: Path, threshold: float) -> dict[str, list[bool]]:
    spec = importlib.util.spec_from_file_location("ragtruth_baseline", folder / "baseline.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    recs = module.load(str(path))
    return {r["id"]: [s["score"] < threshold or s["ent"] for s in r["sents"]] for r in recs}


def fmt(prf_: PRF) -> str:
    return "{:.3f} / {:.3f} / {:.3f}".format(*prf_)


def report_quality(folder: Path) -> None:
    dev = load(folder / "dev.jsonl")
    base = baseline_pairs(folder, folder / "dev.jsonl", 0.37)
    times: list[float] = []
    rows: dict[str, dict[str, list[tuple[list[bool], list[bool]]]]] = {}
    for rec in dev:
        gold = [bool(s["hallucinated"]) for s in rec["sentences"]]
        flags, elapsed = ours(rec)
        times.append(elapsed)
        for group in ("all", rec["task_type"]):
            rows.setdefault(group, {"baseline": [], "ours": []})
            rows[group]["baseline"].append((base[rec["id"]], gold))
            rows[group]["ours"].append((flags, gold))
    n_sent = sum(len(r["sentences"]) for r in dev)
    print(
        f"RAGTruth dev.jsonl: {len(dev)} responses, {n_sent} sentences "
        f"({sum(s['hallucinated'] for r in dev for s in r['sentences'])} hallucinated, "
        f"{sum(bool(r['hallucinated_spans']) for r in dev)} responses with one)"
    )
    print(
        f"thresholds: qa P(unsupported) > {MODELS['qa'].threshold}, "
        f"summary > {MODELS['summary'].threshold}; baseline union T=0.37\n"
    )
    print("| task | detector | sentence P / R / F1 | response P / R / F1 |")
    print("|---|---|---|---|")
    for group in ("all", "QA", "Summary"):
        for name in ("baseline", "ours"):
            sent, resp = score(rows[group][name])
            label = "baseline (union, T=0.37)" if name == "baseline" else "tracer.grounding"
            print(f"| {group} | {label} | {fmt(sent)} | {fmt(resp)} |")
    report_timing(dev, times)


def report_timing(dev: list[dict[str, Any]], times: list[float]) -> None:
    ms = sorted(t * 1000 for t in times)
    print(
        f"\nper check() call over dev (median {statistics.median(len(r['sentences']) for r in dev):.0f} "
        f"sentences, {statistics.median(len(r['context_documents']) for r in dev):.0f} documents): "
        f"median {statistics.median(ms):.2f} ms, p95 {ms[int(0.95 * len(ms))]:.2f} ms, max {ms[-1]:.2f} ms"
    )
    # The target case: a 5-sentence answer over 5 documents of ~100 words each (from dev QA).
    passages = [d for r in dev if r["task_type"] == "QA" for d in r["context_documents"]]
    docs = [d for d in passages if 60 <= len(d.split()) <= 140][:5]
    answer = " ".join(" ".join(d.split(". ")[0] for d in docs[i : i + 1]).rstrip(".") + "." for i in range(5))
    question = "What do these passages say?"
    for _ in range(20):  # warm up the stem cache, as at export time after the first spans
        grounding.check(answer, docs, question)
    samples = []
    for _ in range(7):
        t0 = time.perf_counter()
        for _ in range(50):
            grounding.check(answer, docs, question)
        samples.append((time.perf_counter() - t0) / 50 * 1000)
    print(
        f"5-sentence answer over 5 documents ({sum(len(d.split()) for d in docs)} words): "
        f"median {statistics.median(samples):.2f} ms per call (7 x 50 calls)"
    )


# --- fitting ----------------------------------------------------------------------------------


def feature_rows(recs: list[dict[str, Any]]) -> tuple[list[list[float]], list[bool], list[int], list[str]]:
    X, y, groups, tasks = [], [], [], []
    for k, rec in enumerate(recs):
        index = DocumentIndex(rec["context_documents"], rec["question"])
        n = len(rec["sentences"])
        for i, s in enumerate(rec["sentences"]):
            v = view(s["text"], index.question_stems)
            X.append(features(index, v, index.claims(v), index.coverage(v), i, n))
            y.append(bool(s["hallucinated"]))
            groups.append(k)
            tasks.append("qa" if rec["question"] else "summary")
    return X, y, groups, tasks


def fit(folder: Path, l2: float = 1.0) -> None:
    import numpy as np

    X_all, y_all, g_all, t_all = feature_rows(load(folder / "rest.jsonl"))

    def logistic(X: Any, y: Any) -> Any:
        X1 = np.c_[np.ones(len(X)), X]
        w = np.zeros(X1.shape[1])
        reg = l2 * np.diag(np.r_[0.0, np.ones(X1.shape[1] - 1)]) / len(y)
        for _ in range(100):  # Newton's method
            p = 1 / (1 + np.exp(-X1 @ w))
            grad = X1.T @ (p - y) / len(y) + reg @ w
            w -= np.linalg.solve((X1.T * (p * (1 - p))) @ X1 / len(y) + reg, grad)
            if np.abs(grad).max() < 1e-10:
                break
        return w

    def predict(w: Any, X: Any) -> Any:
        return 1 / (1 + np.exp(-(np.c_[np.ones(len(X)), X] @ w)))

    lines = []
    for task in ("qa", "summary"):
        m = np.array([t == task for t in t_all])
        X, y, g = np.array(X_all)[m], np.array(y_all)[m].astype(float), np.array(g_all)[m]
        oof = np.zeros(len(y))
        for k in range(5):
            test = g % 5 == k
            oof[test] = predict(logistic(X[~test], y[~test]), X[test])
        best: tuple[float, float] = (-1.0, 0.5)
        for t in [round(0.02 + 0.01 * i, 2) for i in range(80)]:
            flags = oof > t
            by_resp: dict[int, list[tuple[bool, bool]]] = {}
            for gi, f, yi in zip(g, flags, y):
                by_resp.setdefault(int(gi), []).append((bool(f), bool(yi)))
            sent, resp = score([([a for a, _ in v], [b for _, b in v]) for v in by_resp.values()])
            if sent[2] + resp[2] > best[0] + 1e-12:
                best = (sent[2] + resp[2], t)
        w = logistic(X, y)
        weights = ", ".join(f"{v:.2f}" for v in w[1:])
        lines.append(f'    "{task}": Model("{task}", {w[0]:.2f}, ({weights}), {best[1]}),')
        print(
            f"{task}: {int(y.sum())} / {len(y)} positive sentences; out-of-fold best "
            f"sentence F1 + response F1 = {best[0]:.3f} at {best[1]}",
            file=sys.stderr,
        )
    print("features:", ", ".join(FEATURES), file=sys.stderr)
    print("MODELS = {\n" + "\n".join(lines) + "\n}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fit", action="store_true", help="refit on rest.jsonl and print the constants")
    args = parser.parse_args(argv)
    folder = data_dir()
    if args.fit:
        fit(folder)
    else:
        report_quality(folder)


if __name__ == "__main__":
    main()
