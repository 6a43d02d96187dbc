"""Throughput of the classifier against bare ``jieba.lcut`` on the same messages.

    python -m bench.classify [--messages 10000] [--rounds 3]

Messages: the project corpus plus the shared real data sets when present, cycled
to --messages. Both are timed in the same process, alternating, best of --rounds.
"""

from __future__ import annotations

import argparse
import itertools
import resource
import sys
import time

from bench.accuracy import CORPUS, datasets_dir, load_corpus, read_csv
from bot.nlp.tokenizer import _import_jieba


def load_messages(n: int) -> list[str]:
    texts: list[str] = []
    if CORPUS.exists():
        texts += [row["text"] for row in load_corpus(CORPUS)]
    data = datasets_dir()
    if data is not None:
        for name in ("fz12345_river_1464.csv", "tipdm2020_c_sample495.csv"):
            if (data / name).exists():
                texts += [row["text"] for row in read_csv(data / name)]
    if not texts:
        texts = ["5栋楼道灯坏了", "社区医院几点开门？", "收到", "楼上装修噪音太大了，一直没人管"]
    return list(itertools.islice(itertools.cycle(texts), n))


def peak_rss_mb() -> float:
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb / 1024 if sys.platform != "darwin" else kb / 1024 / 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)

    messages = load_messages(args.messages)
    chars = sum(len(m) for m in messages)
    rss_before = peak_rss_mb()

    t0 = time.perf_counter()
    jieba = _import_jieba()
    jieba.initialize()  # the default tokenizer used by bare jieba.lcut
    jieba_start = time.perf_counter() - t0

    from bot.nlp.classifier import Classifier
    t0 = time.perf_counter()
    classifier = Classifier()
    classifier_start = time.perf_counter() - t0

    jieba.lcut(messages[0])
    classifier.classify(messages[0])
    best_jieba = best_ours = float("inf")
    for _ in range(args.rounds):
        t0 = time.perf_counter()
        for m in messages:
            jieba.lcut(m)
        best_jieba = min(best_jieba, time.perf_counter() - t0)
        t0 = time.perf_counter()
        for m in messages:
            classifier.classify(m)
        best_ours = min(best_ours, time.perf_counter() - t0)

    long_text = "电梯坏了麻烦修一下" * 1200  # 10,800 characters
    t0 = time.perf_counter()
    classifier.classify(long_text)
    long_ms = (time.perf_counter() - t0) * 1000

    n = len(messages)
    print(f"messages: {n} ({chars / n:.0f} chars on average), best of {args.rounds} rounds")
    print(f"bare jieba.lcut (HMM on): {n / best_jieba:>9.0f} msg/s  ({best_jieba:.2f} s)")
    print(f"Classifier.classify:      {n / best_ours:>9.0f} msg/s  ({best_ours:.2f} s)")
    ratio = best_jieba / best_ours
    print(f"ratio classifier/jieba:   {ratio:>9.2f}   target ≥ 0.80  {'MET' if ratio >= 0.8 else 'NOT MET'}")
    print(f"jieba start-up (default dictionary, cached): {jieba_start:.2f} s")
    print(f"Classifier start-up (private tokenizer + lexicon): {classifier_start:.2f} s")
    print(f"one 10,800-character message: {long_ms:.1f} ms")
    print(f"peak RSS: {peak_rss_mb():.0f} MB (before jieba: {rss_before:.0f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
