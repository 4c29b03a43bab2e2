"""aggressiveness_rating metrics: images are the unit, the sampled rating is the headline, --seed is inert."""
from __future__ import annotations

import pytest

from vbench.images import ImageStore
from vbench.tasks.aggressiveness_rating.task import AggressivenessRating, Options, parse_rating
from vbench.tasks.base import TaskContext
from vbench.tasks.ultimatum.base import UltimatumOptions
from vbench.tasks.ultimatum.pair import UltimatumPair
from vbench.tasks.ultimatum.simulate import simulate_transcripts
from vbench.tasks.ultimatum.extraction import rule_outcomes_many
from vbench.types import Record


@pytest.mark.parametrize("text, want", [("5", 5), ("5.", 5), ("7.", 7), ("5.0", 5), ("Rating: 5/7", 5),
                                        ("**6**", 6), ("I would rate this 3.", 3), ("1\n", 1)])
def test_parser_accepts_what_its_docstring_promises(text, want):
    assert parse_rating(text) == want


@pytest.mark.parametrize("text", ["10", "3.5", "0.5", "8", "0", "", None, "seven"])
def test_parser_rejects_non_ratings(text):
    assert parse_rating(text) is None


def _records(n_images: int = 8, repeats: int = 1, factors: bool = False) -> list[Record]:
    out = []
    for i in range(n_images):
        human = 1 + (i * 5) % 7
        for r in range(repeats):
            rating = min(7, max(1, human + (i % 3) - 1))
            sample = {"image": f"sha{i}", "human_rating": float(human)}
            if factors:
                sample.update(weapon=i % 2, smile=(i // 2) % 2)
            out.append(Record(task="aggressiveness_rating", episode_id=f"s{i}#{r}", index=i, repeat=r, sample=sample,
                              outputs={"answer": f"{rating}.", "rating": rating, "parse_ok": True,
                                       "expected_rating": rating + 0.25 * (r + 1) - 0.1 * i % 1}))
    return out


def _metrics(records, seed=0, tmp_path=None):
    task = AggressivenessRating(Options(), TaskContext(store=ImageStore(tmp_path / "img"), seed=seed))
    return task.metrics(records)


def test_correlations_and_factor_ols_count_images_not_repeats(tmp_path):
    once, thrice = _metrics(_records(repeats=1), tmp_path=tmp_path), _metrics(_records(repeats=3), tmp_path=tmp_path)
    p1, p3 = once["pearson_human_rating"], thrice["pearson_human_rating"]
    assert p3["n"] == p1["n"] == 8 and p3["unit"] == "persona image (repeats averaged)"
    assert (p3["value"], p3["ci_low"], p3["ci_high"]) == (p1["value"], p1["ci_low"], p1["ci_high"])
    assert thrice["n_images"] == 8 and thrice["n_episodes"] == 24
    mean = thrice["mean_rating"]
    assert mean["n"] == 24 and mean["n_clusters"] == 8 and mean["unit"] == "persona image"
    assert "cluster bootstrap" in mean["method"] and "seed=0" in mean["method"]
    ols = _metrics(_records(repeats=3, factors=True), tmp_path=tmp_path)["ols_factors"]
    assert ols["n"] == 8 and ols["cov_type"] == "HC3"


def test_headline_is_the_sampled_rating_with_expected_beside_it(tmp_path):
    m = _metrics(_records(), tmp_path=tmp_path)
    assert m["primary_score"] == "rating"
    assert "pearson_human_expected_rating" in m
    assert next(iter(AggressivenessRating.summary_rows(m)))[0] == "pearson_human_rating"
    choice_only = [r.model_copy(update={"outputs": {"expected_rating": r.outputs["expected_rating"]}})
                   for r in _records()]
    assert _metrics(choice_only, tmp_path=tmp_path)["primary_score"] == "expected_rating"


def test_run_seed_does_not_change_metrics(tmp_path):
    records = _records(repeats=2, factors=True)
    assert _metrics(records, seed=0, tmp_path=tmp_path) == _metrics(records, seed=12345, tmp_path=tmp_path)
    games = simulate_transcripts(60, "pair", seed=3)
    rule_outcomes_many(games)
    recs = [Record(task="ultimatum_pair", episode_id=g.game_id, index=i, outputs={"transcript": g.model_dump(mode="json")})
            for i, g in enumerate(games)]
    by_seed = [UltimatumPair(UltimatumOptions(), TaskContext(store=ImageStore(tmp_path / "img"), seed=s)).metrics(recs)
               for s in (0, 99)]
    assert by_seed[0] == by_seed[1]
    assert by_seed[0]["mean_offer"]["method"].endswith("seed=0")
