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
import zlib
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tracer import grounding
from tracer.grounding._features import FEATURES, GROUPS, features
from tracer.grounding._index import DocumentIndex, view
from tracer.grounding._model import MODELS

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


def ours(rec: dict[str, Any], model: str = "v2") -> tuple[list[bool], list[float], float]:
    """Flags and probabilities on the dataset's sentences, and the time ``check`` took."""
    t0 = time.perf_counter()
    report = grounding.check(rec["response"], rec["context_documents"], rec["question"], model=model)
    elapsed = time.perf_counter() - t0
    flags, probs = [], []
    for gold in rec["sentences"]:
        mine = [s for s in report.sentences if s.start < gold["end"] and gold["start"] < s.end]
        flags.append(any(not s.supported for s in mine))
        probs.append(max((s.probability for s in mine), default=0.0))
    return flags, probs, elapsed


def baseline_pairs(folder: Path, path: Path, threshold: float) -> dict[str, list[bool]]:
    spec = importlib.util.spec_from_file_location("ragtruth_baseline", folder / "baseline.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    recs = module.load(str(path))
    return {r["id"]: [s["score"] < threshold or s["ent"] for s in r["sents"]] for r in recs}


def fmt(prf_: PRF) -> str:
    return "{:.3f} / {:.3f} / {:.3f}".format(*prf_)


DETECTORS = {"baseline": "baseline (union, T=0.37)", "v1": "tracer.grounding v1", "v2": "tracer.grounding v2"}


def report_quality(folder: Path) -> None:
    dev = load(folder / "dev.jsonl")
    base = baseline_pairs(folder, folder / "dev.jsonl", 0.37)
    rows: dict[str, dict[str, list[tuple[list[bool], list[bool]]]]] = {}
    curve: list[tuple[list[float], list[bool], str]] = []
    for rec in dev:
        gold = [bool(s["hallucinated"]) for s in rec["sentences"]]
        v1_flags, _, _ = ours(rec, "v1")
        v2_flags, probs, _ = ours(rec, "v2")
        curve.append((probs, gold, rec["task_type"]))
        for group in ("all", rec["task_type"]):
            found = rows.setdefault(group, {name: [] for name in DETECTORS})
            found["baseline"].append((base[rec["id"]], gold))
            found["v1"].append((v1_flags, gold))
            found["v2"].append((v2_flags, gold))
    n_sent = sum(len(r["sentences"]) for r in dev)
    v2 = MODELS["v2"]
    print(
        f"RAGTruth dev.jsonl: {len(dev)} responses, {n_sent} sentences "
        f"({sum(s['hallucinated'] for r in dev for s in r['sentences'])} hallucinated, "
        f"{sum(bool(r['hallucinated_spans']) for r in dev)} responses with one)"
    )
    print(
        "v2 cuts, P(unsupported) sentence / response / low: "
        + "; ".join(f"{t} {m.sentence} / {m.response} / {m.low}" for t, m in v2.items())
        + "; baseline union T=0.37\n"
    )
    print("| task | detector | sentence P / R / F1 | response P / R / F1 |")
    print("|---|---|---|---|")
    for group in ("all", "QA", "Summary"):
        for name, label in DETECTORS.items():
            sent, resp = score(rows[group][name])
            print(f"| {group} | {label} | {fmt(sent)} | {fmt(resp)} |")
    report_curve(curve)
    report_rest(folder)
    report_timing(dev)


def report_curve(curve: list[tuple[list[float], list[bool], str]]) -> None:
    """Precision and recall on dev at a few flag cuts (one cut for sentences and responses,
    as ``configure(grounding_threshold=...)`` sets)."""
    print("\nv2 on dev at one cut for sentences and responses (configure(grounding_threshold=...)):\n")
    print("| P(unsupported) > | sentence P / R / F1 | response P / R / F1 |")
    print("|---|---|---|")
    for cut in (0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6, 0.7):
        sent, resp = score([([p > cut for p in probs], gold) for probs, gold, _ in curve])
        print(f"| {cut:.2f} | {fmt(sent)} | {fmt(resp)} |")


def report_rest(folder: Path) -> None:
    """Out-of-fold figures on rest.jsonl, folds by source document: what the fit saw."""
    rows = feature_rows(load(folder / "rest.jsonl"))
    v1 = [FEATURES.index(f) for f, w in zip(FEATURES, MODELS["v1"]["qa"].weights) if w]
    print(f"\nrest.jsonl, {FOLDS}-fold out-of-fold (folds by source_id; cuts chosen on the same predictions):\n")
    print("| task | features | sentence P / R / F1 | response P / R / F1 |")
    print("|---|---|---|---|")
    for task, d in rows.items():
        v2 = [FEATURES.index(f) for f, w in zip(FEATURES, MODELS["v2"][task].weights) if w]
        for label, columns in ((f"v1 ({len(v1)})", v1), (f"v2 ({len(v2)})", v2)):
            _, sent, resp, _ = best_l2(d, columns)
            print(f"| {task} | {label} | {fmt(sent)} | {fmt(resp)} |")


def report_timing(dev: list[dict[str, Any]]) -> None:
    # A second pass, both models warm (the stem cache filled by the quality pass), interleaved.
    timed: dict[str, list[float]] = {"v1": [], "v2": []}
    for rec in dev:
        for model in ("v1", "v2"):
            timed[model].append(ours(rec, model)[2] * 1000)
    ms, v1 = sorted(timed["v2"]), sorted(timed["v1"])
    print(
        f"\nper check() call over dev (median {statistics.median(len(r['sentences']) for r in dev):.0f} "
        f"sentences, {statistics.median(len(r['context_documents']) for r in dev):.0f} documents): "
        f"v2 median {statistics.median(ms):.2f} ms, p95 {ms[int(0.95 * len(ms))]:.2f} ms, max {ms[-1]:.2f} ms; "
        f"v1 median {statistics.median(v1):.2f} ms, p95 {v1[int(0.95 * len(v1))]:.2f} ms"
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

FOLDS = 5
L2_GRID = (0.3, 1.0, 3.0, 10.0)
GRID = [round(0.02 + 0.01 * i, 2) for i in range(88)]


def fold_of(source_id: str) -> int:
    """Folds by source document: RAGTruth has six responses per source, and a fold that saw
    five of them would score the sixth too well."""
    return zlib.crc32(source_id.encode()) % FOLDS


def feature_rows(recs: list[dict[str, Any]]) -> dict[str, Any]:
    """Per task shape: features, labels, response number and fold of each labelled sentence."""
    import numpy as np

    out: dict[str, dict[str, list[Any]]] = {}
    for k, rec in enumerate(recs):
        task = out.setdefault("qa" if rec["question"] else "summary", {"X": [], "y": [], "g": [], "fold": []})
        index = DocumentIndex(rec["context_documents"], rec["question"])
        n = len(rec["sentences"])
        for i, s in enumerate(rec["sentences"]):
            v = view(s["text"], index.question_stems)
            task["X"].append(features(index, v, index.claims(v), i, n))
            task["y"].append(float(s["hallucinated"]))
            task["g"].append(k)
            task["fold"].append(fold_of(rec["source_id"]))
    return {t: {key: np.array(val) for key, val in d.items()} for t, d in out.items()}


def logistic(X: Any, y: Any, l2: float) -> tuple[float, Any]:
    """L2 logistic regression on standardised columns (Newton's method), returned in the
    raw feature scale: (bias, weights)."""
    import numpy as np

    mu, sd = X.mean(0), X.std(0) + 1e-9
    X1 = np.c_[np.ones(len(X)), (X - mu) / sd]
    w = np.zeros(X1.shape[1])
    reg = l2 * np.diag(np.r_[0.0, np.ones(X1.shape[1] - 1)]) / len(y)
    for _ in range(100):
        p = 1 / (1 + np.exp(-X1 @ w))
        grad = X1.T @ (p - y) / len(y) + reg @ w
        w -= np.linalg.solve((X1.T * (p * (1 - p))) @ X1 / len(y) + reg, grad)
        if np.abs(grad).max() < 1e-10:
            break
    return float(w[0] - (w[1:] * mu / sd).sum()), w[1:] / sd


def predict(model: tuple[float, Any], X: Any) -> Any:
    import numpy as np

    return 1 / (1 + np.exp(-(model[0] + X @ model[1])))


def flags_at(p: Any, g: Any, sentence: float, response: float) -> Any:
    """What ``check`` flags: a sentence above ``sentence``, and a response's likeliest
    sentence when it is above ``response``."""
    import numpy as np

    top = np.zeros(len(p), bool)
    for k in np.unique(g):
        idx = np.flatnonzero(g == k)
        top[idx[np.argmax(p[idx])]] = p[idx].max() > response
    return (p > sentence) | top


def pairs_of(flags: Any, y: Any, g: Any) -> list[tuple[list[bool], list[bool]]]:
    by: dict[int, tuple[list[bool], list[bool]]] = {}
    for f, yi, gi in zip(flags, y, g):
        pred, gold = by.setdefault(int(gi), ([], []))
        pred.append(bool(f))
        gold.append(bool(yi))
    return list(by.values())


def cuts(p: Any, y: Any, g: Any) -> tuple[float, float, float]:
    """(sentence, response, low) cuts from out-of-fold probabilities: the best sentence F1,
    the best response F1 (on each response's likeliest sentence) at or under it, and the highest cut that
    keeps 90% of the hallucinated responses above it."""
    import numpy as np

    sentence = max(GRID, key=lambda t: score(pairs_of(p > t, y, g))[0][2])
    top = np.array([p[g == k].max() for k in np.unique(g)])
    gold = np.array([y[g == k].max() > 0 for k in np.unique(g)])
    response = max(
        [t for t in GRID if t <= sentence],
        key=lambda t: prf(int((top > t)[gold].sum()), int((top > t)[~gold].sum()), int((top <= t)[gold].sum()))[2],
    )
    low = max([t for t in GRID if t <= response and (top[gold] > t).mean() >= 0.9], default=GRID[0])
    return sentence, response, low


def out_of_fold(d: dict[str, Any], columns: Any, l2: float) -> Any:
    import numpy as np

    oof = np.zeros(len(d["y"]))
    for k in range(FOLDS):
        test = d["fold"] == k
        oof[test] = predict(logistic(d["X"][~test][:, columns], d["y"][~test], l2), d["X"][test][:, columns])
    return oof


def oof_scores(d: dict[str, Any], columns: Any, l2: float) -> tuple[PRF, PRF, tuple[float, float, float]]:
    oof = out_of_fold(d, columns, l2)
    c = cuts(oof, d["y"], d["g"])
    sent, resp = score(pairs_of(flags_at(oof, d["g"], c[0], c[1]), d["y"], d["g"]))
    return sent, resp, c


def best_l2(d: dict[str, Any], columns: list[int]) -> tuple[float, PRF, PRF, tuple[float, float, float]]:
    """The L2 strength with the best out-of-fold sentence F1 + response F1, and its figures."""
    tried = {l2: oof_scores(d, columns, l2) for l2 in L2_GRID}
    l2 = max(L2_GRID, key=lambda v: tried[v][0][2] + tried[v][1][2])
    return (l2, *tried[l2])


def select_groups(d: dict[str, Any]) -> list[str]:
    """Backward elimination of feature groups on out-of-fold figures (rest only): drop the
    group whose removal helps most, while one does."""
    groups = list(GROUPS)

    def value(kept: list[str]) -> float:
        _, sent, resp, _ = best_l2(d, [FEATURES.index(f) for g in kept for f in GROUPS[g]])
        return sent[2] + resp[2]

    current = value(groups)
    while len(groups) > 1:
        tried = {g: value([k for k in groups if k != g]) for g in groups}
        drop = max(tried, key=tried.__getitem__)
        if tried[drop] <= current + 1e-9:
            break
        groups.remove(drop)
        current = tried[drop]
        print(f"  dropped {drop}: out-of-fold F1 sum {current:.3f}", file=sys.stderr)
    return groups


def fit(folder: Path) -> None:
    """Fit v2 on rest.jsonl and print its constants (to paste into _model.py)."""
    rows = feature_rows(load(folder / "rest.jsonl"))
    lines = []
    for task, d in rows.items():
        print(f"{task}:", file=sys.stderr)
        groups = select_groups(d)
        columns = [FEATURES.index(f) for g in groups for f in GROUPS[g]]
        l2, sent, resp, (cs, cr, cl) = best_l2(d, columns)
        bias, w = logistic(d["X"][:, columns], d["y"], l2)
        weights = ", ".join(f'"{FEATURES[c]}": {v:.3f}' for c, v in zip(columns, w))
        lines.append(f'        "{task}": Model("v2-{task}", {bias:.3f}, {{{weights}}}, {cs}, {cr}, {cl}),')
        print(
            f"  {int(d['y'].sum())} / {len(d['y'])} positive sentences; groups {', '.join(groups)}; L2 {l2}; "
            f"out-of-fold sentence F1 {sent[2]:.3f}, response F1 {resp[2]:.3f}; cuts {cs} / {cr} / {cl}",
            file=sys.stderr,
        )
    print('    "v2": {\n' + "\n".join(lines) + "\n    },")


def ablate(folder: Path) -> None:
    """Out-of-fold figures on rest with each feature group left out (L2 as fitted)."""
    rows = feature_rows(load(folder / "rest.jsonl"))
    v1 = [FEATURES.index(f) for f, w in zip(FEATURES, MODELS["v1"]["qa"].weights) if w]
    variants = {"v1 features (10)": v1, f"v2, all {len(FEATURES)} features": list(range(len(FEATURES)))}
    for group, names in GROUPS.items():
        variants[f"v2 without {group} ({len(names)})"] = [i for i, f in enumerate(FEATURES) if f not in names]
    print("| features | QA sentence / response F1 | Summary sentence / response F1 |")
    print("|---|---|---|")
    for label, columns in variants.items():
        cells = []
        for task in ("qa", "summary"):
            tried = [oof_scores(rows[task], columns, l2) for l2 in L2_GRID]
            sent, resp, _ = max(tried, key=lambda t: t[0][2] + t[1][2])
            cells.append(f"{sent[2]:.3f} / {resp[2]:.3f}")
        print(f"| {label} | {cells[0]} | {cells[1]} |")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fit", action="store_true", help="refit on rest.jsonl and print the constants")
    parser.add_argument("--ablate", action="store_true", help="out-of-fold figures on rest without each feature group")
    args = parser.parse_args(argv)
    folder = data_dir()
    if args.fit:
        fit(folder)
    elif args.ablate:
        ablate(folder)
    else:
        report_quality(folder)


if __name__ == "__main__":
    main()
