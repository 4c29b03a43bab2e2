"""Shared analysis helpers: pronouns, VADER sentiment, parallel map, the bootstrap fast paths."""
from __future__ import annotations

import numpy as np

from vbench.analysis import stats
from vbench.analysis.parallel import map_unique
from vbench.analysis.text import pronoun_counts, sentiment, text_measures


def test_pronoun_groups():
    c = pronoun_counts("We should share ours; I think you'd agree. Let's go, my friend. You're right, us two.")
    assert c == {"we": 4, "i": 2, "you": 2}
    assert pronoun_counts(None) == {"we": 0, "i": 0, "you": 0}
    assert pronoun_counts("Iyou wefriend") == {"we": 0, "i": 0, "you": 0}


def test_sentiment_direction():
    assert sentiment("I happily accept, thank you, friend!") > 0.5
    assert sentiment("This is an insult. I reject your pathetic offer.") < -0.3
    assert sentiment("") is None


def _square(x: int) -> int:
    return x * x


def test_map_unique_parallel_equals_serial():
    items = [i % 37 for i in range(500)]
    assert map_unique(_square, items, workers=2, min_parallel=1) == [x * x for x in items]
    texts = ["I accept, we win together!", "No. I reject.", None, "I accept, we win together!"] * 5
    par = text_measures(texts, workers=2, min_parallel=1)
    ser = text_measures(texts, workers=1)
    assert par == ser and par["we"][0] == 1 and par["sentiment"][2] is None


def test_bootstrap_paths_agree():
    rng = np.random.default_rng(0)
    flags = rng.random(20_000) < 0.3  # few distinct values: multinomial path
    lo, hi = stats.bootstrap_ci(flags.astype(float))
    se = (0.3 * 0.7 / flags.size) ** 0.5
    assert abs((hi - lo) - 2 * 1.96 * se) < 0.2 * 2 * 1.96 * se
    assert lo < flags.mean() < hi
    cont = rng.normal(size=3000)  # many distinct values: chunked index path, same draws as one big matrix
    ref_rng = np.random.default_rng(7)
    ref = cont[ref_rng.integers(0, cont.size, size=(1000, cont.size))].mean(axis=1)
    assert stats.bootstrap_ci(cont, seed=7) == tuple(float(q) for q in np.quantile(ref, [0.025, 0.975]))
