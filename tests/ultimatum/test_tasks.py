"""Both tasks end to end through the evaluator and scheduler (dummy backend; tiny model when available)."""
from __future__ import annotations

import json
import shutil

import pytest

import vbench
from vbench.errors import UsageError
from vbench.images import ImageStore
from vbench.runners.base import Runner
from vbench.runners.scheduler import EpisodeSpec, Scheduler
from vbench.tasks.base import TaskContext
from vbench.tasks.ultimatum.pair import PairOptions, UltimatumPair
from vbench.tasks.ultimatum.personas import bin_levels
from vbench.types import Response

PROPOSE = "I propose $70 for me and $30 for you."


def _run(tmp_path, task, **kw):
    kw.setdefault("model", "dummy")
    res = vbench.evaluate(tasks=[task], output_path=tmp_path / "out", show_progress=False,
                          cache_dir=tmp_path / "cache", **kw)[task]
    return res


def _records(tmp_path, res, task):
    path = next((tmp_path / "out").glob(f"*/{task}/samples.jsonl"))
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_solo_plays_every_image_in_both_orders(tmp_path, avatars):
    res = _run(tmp_path, "ultimatum_solo", model_args=f"reply={PROPOSE}", dataset=str(avatars), limit=6)
    assert res.counts.n_samples == 6 and res.run.repeats == 5  # 3 images x 2 orders, default 5 repeats
    assert res.counts.n_episodes == 30 and res.counts.n_error == 0
    assert res.counts.scheduler_steps == 4  # lockstep: 4 model turns per game, all games together
    assert res.counts.model_calls == 30 * 4
    recs = _records(tmp_path, res, "ultimatum_solo")
    assert {r["sample"]["order"] for r in recs} == {"first", "second"}
    m = res.metrics
    assert m["mean_offer"]["value"] == 70 and m["offer_by_round"].keys() == {"1", "2", "3", "4"}
    assert m["acceptance_of_confederate_offer"].keys() == {"50", "75"}
    assert m["acceptance_rate"]["value"] == 0  # the fixed reply is a counter-proposal: a rejection
    assert m["extraction"]["counter_proposal_rate"]["value"] == 1


def test_pair_design_levels_and_lockstep(tmp_path, avatars):
    res = _run(tmp_path, "ultimatum_pair", dataset=str(avatars), repeats=1, task_args="images_per_level=1",
               batch_size=64)
    recs = _records(tmp_path, res, "ultimatum_pair")
    levels = {r["sample"]["a"]["level"] for r in recs}
    n = len(levels)
    assert res.counts.n_samples == n * n  # one image per level, all ordered pairs incl. self-pairs
    assert res.counts.scheduler_steps == 8  # 8 turns, every game advanced together
    assert res.counts.model_calls == 8 * n * n
    assert {(r["sample"]["a"]["image_id"], r["sample"]["b"]["image_id"]) for r in recs}.__len__() == n * n
    assert "kiss_up_kick_down" in res.metrics and "offer_matrix" in res.metrics
    design = json.loads((next((tmp_path / "out").glob("*/ultimatum_pair")) / "design.json").read_text())
    assert len(design["personas"]) == n and design["pairs"] == n * n and res.artifacts == ["design.json"]
    assert set(design["images_per_level"]) == {str(lv) for lv in levels}


def test_pair_subsampling_and_limit(tmp_path, avatars):
    ctx = TaskContext(store=ImageStore(tmp_path / "img"), dataset=str(avatars))
    full = UltimatumPair(PairOptions(images_per_level=2), ctx).samples()
    sub = UltimatumPair(PairOptions(images_per_level=2, max_pairs=10, design_seed=3), ctx).samples()
    assert len(sub) == 10 and {s.id for s in sub} <= {s.id for s in full}
    again = UltimatumPair(PairOptions(images_per_level=2, max_pairs=10, design_seed=3), ctx).samples()
    assert [s.id for s in again] == [s.id for s in sub]
    limited = UltimatumPair(PairOptions(images_per_level=2), ctx.model_copy(update={"limit": 7})).samples()
    assert [s.id for s in limited] == [s.id for s in full[:7]]
    no_self = UltimatumPair(PairOptions(images_per_level=2, self_pairs=False), ctx).samples()
    assert all(s.meta["a"]["image"] != s.meta["b"]["image"] for s in no_self)


def test_two_models_by_role(tmp_path, avatars):
    res = _run(tmp_path, "ultimatum_pair", dataset=str(avatars), repeats=1, limit=3,
               task_args="images_per_level=1",
               model_roles={"player_a": ("dummy", f"reply={PROPOSE}"), "player_b": ("dummy", "reply=I accept.")})
    recs = _records(tmp_path, res, "ultimatum_pair")
    for r in recs:
        turns = r["outputs"]["transcript"]["turns"]
        assert {t["text"] for t in turns if t["player"] == "a"} == {PROPOSE}
        assert {t["text"] for t in turns if t["player"] == "b"} == {"I accept."}
        assert {t["role"] for t in r["turns"]} == {"player_a", "player_b"}
    assert res.metrics["offer_by_round"]["1"]["value"] == 70 and res.metrics["offer_by_round"]["2"]["n"] == 0
    assert res.metrics["acceptance_by_round"]["1"]["value"] == 1
    assert set(res.roles) == {"player_a", "player_b"}


def test_levels_from_an_aggressiveness_rating_run(tmp_path, avatars):
    rating = _run(tmp_path, "aggressiveness_rating", dataset=str(avatars), task_args="scoring=choice")
    run_dir = next((tmp_path / "out").glob("*/aggressiveness_rating"))
    expected = {json.loads(line)["sample"]["image"]: json.loads(line)["outputs"]["expected_rating"]
                for line in (run_dir / "samples.jsonl").read_text().splitlines()}
    ctx = TaskContext(store=ImageStore(tmp_path / "img"), dataset=str(avatars))
    task = UltimatumPair(PairOptions(levels_from=str(run_dir), binning="quantile", images_per_level=1), ctx)
    personas = task.personas()
    assert {p.image: p.rating for p in personas} == pytest.approx(expected)
    assert sorted({p.level for p in personas}) == list(range(1, 8))  # 12 images in 7 quantile bins
    assert rating.counts.n_ok == 12


def test_pair_without_levels_is_a_usage_error(tmp_path, avatars):
    data = tmp_path / "norating"
    shutil.copytree(avatars, data)
    rows = [json.loads(x) for x in (data / "metadata.jsonl").read_text().splitlines()]
    (data / "metadata.jsonl").write_text("".join(json.dumps({k: v for k, v in r.items() if k != "human_rating"}) + "\n"
                                                 for r in rows))
    with pytest.raises(UsageError, match="levels_from"):
        _run(tmp_path, "ultimatum_pair", dataset=str(data))
    assert not (tmp_path / "out").exists()
    # the solo study runs without levels (level-based metrics are simply empty)
    res = _run(tmp_path, "ultimatum_solo", dataset=str(data), repeats=1, limit=2, model_args=f"reply={PROPOSE}")
    assert res.metrics["offer_by_level"] == {} and res.metrics["mean_offer"]["value"] == 70


def test_level_binning():
    assert bin_levels([1.2, 4.5, 6.9, None, 9.0], 7, "round") == [1, 5, 7, None, 7]
    assert bin_levels([3.0, 1.0, 2.0, 4.0], 2, "quantile") == [2, 1, 1, 2]


def test_unusable_output_is_counted_not_fatal(tmp_path, avatars):
    res = _run(tmp_path, "ultimatum_pair", dataset=str(avatars), repeats=1, limit=2, model_args="reply=...",
               task_args="images_per_level=1")
    assert res.counts.n_ok == 2 and res.counts.parse_failure_rate == 1.0
    assert res.metrics["extraction"]["offer_coverage"]["value"] == 0
    assert res.metrics["mean_offer"]["value"] is None


class _Flaky(Runner):
    """Fails every request of one game at its third turn; answers the rest."""

    backend = "flaky"

    def __init__(self, bad_image: str):
        super().__init__(Runner.Args(), store=None, batch_size=100)
        self.bad_image = bad_image
        self.batches = 0

    def run(self, requests):
        self.batches += 1
        out = []
        for r in requests:
            first_image = r.messages[1].images[0]
            bad = first_image == self.bad_image and len(r.messages) >= 5
            out.append(Response.failure("boom") if bad else Response(text=PROPOSE))
        return out


def test_a_failing_game_never_stalls_the_others(tmp_path, avatars):
    ctx = TaskContext(store=ImageStore(tmp_path / "img"), dataset=str(avatars))
    task = UltimatumPair(PairOptions(images_per_level=1), ctx)
    everything = task.samples()
    bad = everything[0].meta["a"]["image"]
    clean = [s for s in everything if bad not in (s.meta["a"]["image"], s.meta["b"]["image"])]
    samples = everything[:2] + clean[:4]
    runner = _Flaky(bad)
    records = []
    specs = [EpisodeSpec(episode_id=s.id, index=i, sample=s.meta, gen=task.episode(s, 0, 0)) for i, s in enumerate(samples)]
    stats = Scheduler({"default": runner}).run(specs, records.append)
    failed = [r for r in records if r.status == "error"]
    assert len(failed) == 2 and all(bad in (r.sample["a"]["image"], r.sample["b"]["image"]) for r in failed)
    ok = [r for r in records if r.status == "ok"]
    assert len(ok) + len(failed) == 6 and ok
    assert all(len(r.outputs["transcript"]["turns"]) == 8 for r in ok)
    assert stats.steps == 8


def test_judge_extraction_through_a_role(tmp_path, avatars):
    res = _run(tmp_path, "ultimatum_solo", dataset=str(avatars), repeats=1, limit=2,
               model_args=f"reply={PROPOSE}", task_args="extractor=judge",
               model_roles={"judge": ("dummy", "reply=1")})
    assert res.counts.scheduler_steps == 5  # 4 game turns + one step for all judge calls
    assert res.metrics["extraction"]["extractors"] == ["judge"]
    assert res.metrics["mean_offer"]["value"] == 1 and res.metrics["acceptance_rate"]["value"] == 1
