"""Seeded coverage simulation: intervals of the shipped metric code cover the known truth.

Small versions of the real designs (vbench.testing.studies: persona images with random effects as
proposer and as opponent, known slopes and means); benchmarks/bench_coverage.py runs the full designs
with 200 replications. The unit-blind intervals vbench used before are checked on the same data to
under-cover, so this test can tell the two apart.
"""
from __future__ import annotations

from vbench.analysis import stats
from vbench.testing.studies import (Design, RatingDesign, pair_coverage, pair_study, rating_coverage, rating_truth,
                                    solo_coverage)

REPS = 20


def _share(results: list[bool | None]) -> float:
    ok = [r for r in results if r is not None]
    assert len(ok) == len(results), "every replication must give an interval"
    return sum(ok) / len(ok)


def test_pair_intervals_cover_slopes_and_mean():
    design = Design(per_level=3, repeats=1)  # 21 images, 441 ordered pairs, 4 rounds
    runs = [pair_coverage(100 + i, design) for i in range(REPS)]
    for estimand in ("pair own-level slope", "pair opponent-level slope", "pair mean offer"):
        assert _share([r[estimand] for r in runs]) >= 0.85, estimand


def test_pair_proposer_only_clustering_under_covers_the_opponent_slope():
    design = Design(per_level=2, repeats=1)
    hits = []
    for i in range(REPS):
        games, truth = pair_study(100 + i, design)
        y, own, opp, img = [], [], [], []
        for t in games:
            for o in t.outcomes:
                p, r = t.players.seat(o.proposer), t.players.seat("b" if o.proposer == "a" else "a")
                y.append(o.offer), own.append(p.level), opp.append(r.level), img.append(p.image_id)
        c = stats.ols(y, {"own_level": own, "opponent_level": opp}, clusters=img)["coef"]["opponent_level"]
        hits.append(c["ci_low"] <= truth["opp_slope"] <= c["ci_high"])
    assert _share(hits) < 0.6


def test_solo_intervals_cover_slope_and_mean():
    design = Design(per_level=3, repeats=2)  # 21 images x 2 orders x 2 repeats
    runs = [solo_coverage(200 + i, design) for i in range(REPS)]
    for estimand in ("solo slope", "solo mean offer"):
        assert _share([r[estimand] for r in runs]) >= 0.85, estimand


def test_rating_correlation_counts_images_not_repeats():
    design = RatingDesign(images=30, repeats=3)
    truth = rating_truth(design, n=100_000)
    runs = [rating_coverage(300 + i, design, truth) for i in range(REPS * 3)]
    assert _share([r["aggressiveness-human r"] for r in runs]) >= 0.85
