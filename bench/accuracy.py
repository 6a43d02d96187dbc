"""Accuracy of the classifier on the labelled corpus and the real data sets.

    python -m bench.accuracy [--corpus tests/data/messages.tsv] [--errors N]

Prints per-class precision/recall/F1 and confusion matrices on the project corpus,
then — when the shared data sets exist (../shared/datasets relative to the repo
root, or $GRIDBOT_DATASETS) — the figures on fz12345 and tipdm (see their README).
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import time
from collections import Counter
from pathlib import Path

from bot.nlp.classifier import Classifier
from bot.nlp.labels import CATEGORIES, INTENTS, URGENCIES

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "data" / "messages.tsv"

FZ_MAP = {"投诉": "complaint", "举报": "complaint", "咨询": "inquiry",
          "建议": "request", "求助": "request"}

TARGETS = {
    "actionable_f1": 0.95,
    "intent_macro_f1": 0.90,
    "category_accuracy_actionable": 0.90,
    "emergency_recall": 1.00,
    "emergency_precision": 0.90,
}


def datasets_dir() -> Path | None:
    env = os.environ.get("GRIDBOT_DATASETS")
    candidates = [Path(env)] if env else []
    candidates.append(ROOT.parent / "shared" / "datasets")
    for path in candidates:
        if path.is_dir():
            return path
    return None


def load_corpus(path: Path = CORPUS) -> list[dict]:
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)
        return [row for row in reader if row.get("text") is not None and row.get("intent")]


def prf(gold: list[str], pred: list[str], label: str) -> tuple[float, float, float, int]:
    tp = sum(1 for g, p in zip(gold, pred) if g == label and p == label)
    fp = sum(1 for g, p in zip(gold, pred) if g != label and p == label)
    fn = sum(1 for g, p in zip(gold, pred) if g == label and p != label)
    precision = tp / (tp + fp) if tp + fp else (1.0 if not fn else 0.0)
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1, tp + fn


def report(title: str, gold: list[str], pred: list[str], labels, out=sys.stdout) -> float:
    """Print per-class P/R/F1 and the confusion matrix; return macro-F1 over present classes."""
    labels = [lab for lab in labels if lab in gold or lab in pred]
    print(f"\n## {title}  (n={len(gold)}, accuracy {accuracy(gold, pred):.3f})", file=out)
    print(f"{'class':<12}{'prec':>7}{'rec':>7}{'F1':>7}{'n':>6}", file=out)
    f1s = []
    for lab in labels:
        p, r, f, n = prf(gold, pred, lab)
        if n:
            f1s.append(f)
        print(f"{lab:<12}{p:>7.3f}{r:>7.3f}{f:>7.3f}{n:>6}", file=out)
    macro = sum(f1s) / len(f1s) if f1s else 0.0
    print(f"{'macro-F1':<12}{'':>14}{macro:>7.3f}", file=out)
    confusion = Counter(zip(gold, pred))
    width = max(6, max(len(lab) for lab in labels) + 1)
    print("confusion (rows gold, columns predicted):", file=out)
    print(" " * 12 + "".join(f"{lab[:width - 1]:>{width}}" for lab in labels), file=out)
    for g in labels:
        print(f"{g:<12}" + "".join(f"{confusion[(g, p)]:>{width}}" for p in labels), file=out)
    return macro


def accuracy(gold, pred) -> float:
    return sum(g == p for g, p in zip(gold, pred)) / len(gold) if gold else 0.0


def corpus_metrics(classifier: Classifier, rows: list[dict]) -> dict:
    """The target figures on the project corpus (used by the regression test too)."""
    results = [classifier.classify(row["text"]) for row in rows]
    gi = [r["intent"] for r in rows]
    pi = [c.intent for c in results]
    ga = ["actionable" if g != "other" else "other" for g in gi]
    pa = ["actionable" if p != "other" else "other" for p in pi]
    macro = sum(prf(gi, pi, lab)[2] for lab in INTENTS if lab in gi) / len(set(gi))
    act = [(r["category"], c.category) for r, c in zip(rows, results) if r["intent"] != "other"]
    gu = [r["urgency"] for r in rows]
    pu = [c.urgency for c in results]
    ep, er, _, _ = prf(gu, pu, "emergency")
    return {
        "n": len(rows),
        "actionable_f1": prf(ga, pa, "actionable")[2],
        "intent_macro_f1": macro,
        "category_accuracy_actionable": accuracy([a for a, _ in act], [b for _, b in act]),
        "emergency_recall": er,
        "emergency_precision": ep,
        "results": results,
    }


def print_errors(rows, results, limit: int, out=sys.stdout) -> None:
    print(f"\n## errors (first {limit} per field)", file=out)
    for field in ("intent", "category", "urgency"):
        shown = 0
        for row, res in zip(rows, results):
            pred = getattr(res, field)
            if row[field] != pred and (field == "intent" or row["intent"] != "other"):
                print(f"[{field}] gold={row[field]} pred={pred} {row['text'][:80]!r} "
                      f"kw={res.keywords[:6]}", file=out)
                shown += 1
                if shown >= limit:
                    break


def run_corpus(classifier: Classifier, path: Path, errors: int) -> None:
    rows = load_corpus(path)
    m = corpus_metrics(classifier, rows)
    results = m["results"]
    print(f"# Project corpus {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}: {len(rows)} messages")
    report("intent", [r["intent"] for r in rows], [c.intent for c in results], INTENTS)
    ga = ["actionable" if r["intent"] != "other" else "other" for r in rows]
    pa = ["actionable" if c.intent != "other" else "other" for c in results]
    report("actionable (intent != other)", ga, pa, ("actionable", "other"))
    act = [(r["category"], c.category) for r, c in zip(rows, results) if r["intent"] != "other"]
    report("category (gold-actionable messages)", [a for a, _ in act], [b for _, b in act], CATEGORIES)
    report("urgency", [r["urgency"] for r in rows], [c.urgency for c in results], URGENCIES)
    print("\n## targets")
    for key, target in TARGETS.items():
        value = m[key]
        print(f"{key:<32}{value:>7.3f}  target {'=' if key == 'emergency_recall' else '≥'} {target:.2f}  "
              f"{'MET' if value >= target else 'NOT MET'}")
    if errors:
        print_errors(rows, results, errors)


def read_csv(path: Path) -> list[dict]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def run_fz12345(classifier: Classifier, path: Path, errors: int) -> None:
    rows = read_csv(path)
    gold = [FZ_MAP.get(r["label_type"], "complaint") for r in rows]
    pred = [classifier.classify(r["text"]).intent for r in rows]
    actionable = sum(p != "other" for p in pred) / len(pred)
    print(f"\n# fz12345 (Fuzhou 12345 hotline bodies): {len(rows)} messages")
    print(f"actionable (not other): {actionable:.3f}  target ≥ 0.97  {'MET' if actionable >= 0.97 else 'NOT MET'}")
    gq = ["inquiry" if g == "inquiry" else "not" for g in gold]
    pq = ["inquiry" if p == "inquiry" else "not" for p in pred]
    p, r, f, n = prf(gq, pq, "inquiry")
    print(f"inquiry vs 咨询: precision {p:.3f} recall {r:.3f} F1 {f:.3f} (n={n})  target F1 ≥ 0.75  "
          f"{'MET' if f >= 0.75 else 'NOT MET'}")
    report("intent (hotline types mapped; request/complaint border differs)", gold, pred, INTENTS)
    if errors:
        _dataset_errors(rows, gold, pred, errors)


def run_tipdm(classifier: Classifier, path: Path, errors: int) -> None:
    rows = read_csv(path)
    pred = [classifier.classify(r["text"]).intent for r in rows]
    actionable = sum(p != "other" for p in pred) / len(pred)
    print(f"\n# tipdm (message-board posts): {len(rows)} messages")
    print(f"actionable (not other): {actionable:.3f}  target ≥ 0.97  {'MET' if actionable >= 0.97 else 'NOT MET'}")
    print("predicted intents:", dict(Counter(pred).most_common()))
    by_topic: dict[str, list[bool]] = {}
    for row, p in zip(rows, pred):
        by_topic.setdefault(row["label_topic"], []).append(p != "other")
    for topic, flags in sorted(by_topic.items(), key=lambda kv: -len(kv[1])):
        print(f"  {topic:<10} actionable {sum(flags) / len(flags):.3f}  (n={len(flags)})")
    if errors:
        _dataset_errors(rows, ["actionable"] * len(rows), pred, errors)


def _dataset_errors(rows, gold, pred, limit: int) -> None:
    shown = 0
    for row, g, p in zip(rows, gold, pred):
        wrong = (p == "other") if g == "actionable" else (g == "inquiry") != (p == "inquiry") or p == "other"
        if wrong:
            print(f"  gold={g} pred={p} {row['text'][:100]!r}")
            shown += 1
            if shown >= limit:
                break


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--errors", type=int, default=0, help="print up to N errors per field")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    classifier = Classifier()
    if args.corpus.exists():
        run_corpus(classifier, args.corpus, args.errors)
    else:
        print(f"corpus {args.corpus} not found")
    data = datasets_dir()
    if data is None:
        print("\n(no shared data sets: set GRIDBOT_DATASETS or provide ../shared/datasets)")
    else:
        if (data / "fz12345_river_1464.csv").exists():
            run_fz12345(classifier, data / "fz12345_river_1464.csv", args.errors)
        if (data / "tipdm2020_c_sample495.csv").exists():
            run_tipdm(classifier, data / "tipdm2020_c_sample495.csv", args.errors)
    print(f"\n({time.perf_counter() - started:.1f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
