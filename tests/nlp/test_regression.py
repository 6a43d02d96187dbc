"""The accuracy targets on the labelled corpus tests/data/messages.tsv."""

from __future__ import annotations

import pytest

from bench.accuracy import CORPUS, TARGETS, corpus_metrics, load_corpus


@pytest.fixture(scope="module")
def metrics(classifier):
    if not CORPUS.exists():
        pytest.skip("tests/data/messages.tsv not written yet")
    return corpus_metrics(classifier, load_corpus(CORPUS))


def test_corpus_size(metrics):
    assert metrics["n"] >= 600


@pytest.mark.parametrize("key", sorted(TARGETS))
def test_target(metrics, key):
    assert metrics[key] >= TARGETS[key], f"{key} = {metrics[key]:.3f} < {TARGETS[key]}"
