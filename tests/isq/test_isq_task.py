"""isq_induction end to end: the evaluator with the dummy backend, and scripted viewers on the scheduler."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from vbench.errors import UsageError
from vbench.evaluator import build_task, evaluate
from vbench.images import ImageStore
from vbench.runners.base import Runner, RunnerArgs
from vbench.runners.scheduler import EpisodeSpec, Scheduler
from vbench.tasks.base import TaskContext
from vbench.tasks.isq_induction.feed_corpus import load_feed_corpus
from vbench.tasks.isq_induction.schwartz import VALUES
from vbench.types import Record, Response

from tests.isq.conftest import corrupt_images

SMALL = {"trials": 2, "scrolls": 20, "n": 10}


def run_eval(corpus, tmp_path: Path, task_args=None, **kw):
    res = evaluate(model="dummy", model_args=kw.pop("model_args", None), tasks=["isq_induction"],
                   dataset=str(corpus), task_args={**SMALL, **(task_args or {})}, output_path=tmp_path / "out",
                   cache_dir=tmp_path / "cache", show_progress=False, **kw)["isq_induction"]
    out = tmp_path / "out" / "dummy" / "isq_induction"
    records = [Record.model_validate_json(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    return res, records, out


def test_default_design_runs_in_lockstep(feed_corpus, tmp_path):
    res, records, out = run_eval(feed_corpus, tmp_path)
    assert res.counts.n_ok == 3 * 3 * 2 and res.counts.n_error == 0
    assert res.counts.scheduler_steps == 20  # one step per scroll, however many trials
    assert res.counts.model_calls == 3 * 2 * 20 * (1 + 1 + 6)  # ISQ: 6 requests per scroll, in one step
    assert set(res.metrics["cells"]) == {f"{s}/{p}" for s in ("plain", "simple", "isq")
                                         for p in ("tiktok", "youtube", "instagram")}
    assert res.artifacts == ["isq_curves.png", "isq_curves.csv"]
    assert (out / "isq_curves.png").stat().st_size > 1000
    corpus = load_feed_corpus(feed_corpus)
    label = {"tiktok": "TikTok", "youtube": "YouTube Shorts", "instagram": "Instagram Reels"}
    by_id = dict(zip(corpus.ids, corpus.platforms))
    for r in records:
        items = r.outputs["items"]
        assert len(items) == len(set(items)) == 20
        assert {by_id[i] for i in items} == {label[r.sample["platform"]]}  # the platform's slice
        isq = r.sample["strategy"] == "isq"
        assert len(r.turns) == 20 * (6 if isq else 1)
    # common random numbers: before any feedback (the first scroll), strategies see the same item
    first = {}
    for r in records:
        first.setdefault((r.sample["platform"], r.sample["trial"]), set()).add(r.outputs["items"][0])
    assert all(len(v) == 1 for v in first.values())
    # one persona per trial index, shared by every platform x strategy cell
    personas = {(r.sample["trial"], r.sample["persona_id"]) for r in records}
    assert len(personas) == 2


def test_rerun_is_free_and_resume_reproduces_the_same_trials(feed_corpus, tmp_path):
    res, records, out = run_eval(feed_corpus, tmp_path)
    again, _, _ = run_eval(feed_corpus, tmp_path)
    assert again.counts.model_calls == res.counts.model_calls and again.metrics == res.metrics  # counts: whole run
    # interrupted run: keep 5 finished trials, re-run; the others replay alongside fewer trials
    lines = (out / "samples.jsonl").read_text().splitlines()
    (out / "samples.jsonl").write_text("\n".join(lines[:5]) + "\n")
    resumed, records2, _ = run_eval(feed_corpus, tmp_path)
    assert resumed.counts.model_calls == res.counts.model_calls and resumed.counts.cache_hits > again.counts.cache_hits
    assert [r.outputs for r in records2] == [r.outputs for r in records]


class PlantedViewer(Runner):
    """Watches exactly the items of one value: yes / 10 for them, no / 1 for everything else."""

    backend = "planted-viewer"

    def __init__(self, liked: set[str]):
        super().__init__(RunnerArgs())
        self.liked = liked

    def run(self, requests):
        out = []
        for req in requests:
            liked = req.messages[-1].images[0] in self.liked
            top = ("yes" if liked else "no") if req.options == ("yes", "no") else ("10" if liked else "1")
            out.append(Response(probs={o: float(o == top) for o in req.options}, method="logprobs"))
        return out


def run_scheduled(corpus, tmp_path, runner_factory, **task_args):
    store = ImageStore(tmp_path / "images")
    task = build_task("isq_induction", task_args, TaskContext(store=store, dataset=str(corpus), seed=0))
    samples = task.samples()
    specs = [EpisodeSpec(episode_id=s.id, index=i, sample=s.meta, gen=task.episode(s, 0, 0))
             for i, s in enumerate(samples)]
    records: list[Record] = []
    scheduler = Scheduler({"default": runner_factory(store)})
    stats = scheduler.run(specs, records.append)
    return task, records, stats


def test_feed_converges_toward_a_planted_preference(feed_corpus, tmp_path):
    corpus = load_feed_corpus(feed_corpus)
    planted = "Hedonism"

    def factory(store):
        return PlantedViewer({store.put(corpus.image(i)).image for i in np.flatnonzero(corpus.values == VALUES.index(planted))})

    task, records, stats = run_scheduled(feed_corpus, tmp_path, factory, trials=2, scrolls=40, n=20,
                                         platform_slice="off")
    assert stats.steps == 40 and all(r.status == "ok" for r in records)
    base = float((corpus.values == VALUES.index(planted)).mean())
    for strategy in ("plain", "simple", "isq"):
        shown = np.array([[v == planted for v in r.outputs["item_values"]] for r in records
                          if r.sample["strategy"] == strategy])
        first, last = shown[:, :20].mean(), shown[:, 20:].mean()
        assert last > first + 0.2 and last > 3 * base, (strategy, first, last)
        watched = np.array([r.outputs["watched"] for r in records if r.sample["strategy"] == strategy])
        assert (watched == shown).all()  # the viewer's decisions reached the feed unchanged
    m = task.metrics(records)
    assert all(c["I_avg"]["value"] > 0 for c in m["cells"].values())


@pytest.mark.parametrize("task_args, message", [
    ({"n": 11}, "larger than half of scrolls=20"),
    ({"strategies": "plain,fancy"}, "unknown 'fancy'"),
    ({"platforms": "myspace"}, "unknown 'myspace'"),
    ({"scrolls": 500, "n": 10}, "distinct items"),
    ({"platform_slice": "require", "platforms": "tiktok", "scrolls": 200, "n": 10}, "no usable tiktok slice"),
])
def test_bad_options_fail_before_any_output(feed_corpus, tmp_path, task_args, message):
    with pytest.raises(UsageError, match=message):
        run_eval(feed_corpus, tmp_path, task_args)
    assert not (tmp_path / "out").exists()


def test_bad_inputs_fail_before_any_output(corpus_copy, tmp_path):
    bad = tmp_path / "personas.jsonl"
    bad.write_text('{"traits": ["I sing."]}\n')
    with pytest.raises(UsageError, match="no target values"):
        run_eval(corpus_copy, tmp_path, {"personas": str(bad)})
    (corpus_copy / "embeddings.npy").unlink()
    with pytest.raises(UsageError, match="no embeddings.npy"):
        run_eval(corpus_copy, tmp_path)
    with pytest.raises(UsageError, match="needs a corpus folder"):
        evaluate(model="dummy", tasks=["isq_induction"], output_path=tmp_path / "out", cache_dir=tmp_path / "c",
                 show_progress=False)
    assert not (tmp_path / "out").exists()


def test_cli_usage_error_is_one_line_exit_2(run_cli, feed_corpus):
    proc = run_cli("eval", "--model", "dummy", "--tasks", "isq_induction", "--dataset", str(feed_corpus),
                   "--task_args", "scrolls=20,n=15", "--output_path", "out", "--quiet")
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "n=15 is larger than half" in proc.stderr


def test_generated_answers_are_parsed(feed_corpus, tmp_path):
    res, records, _ = run_eval(feed_corpus, tmp_path, {"answer": "generate", "platforms": "tiktok"},
                               model_args="reply=Yes.")
    cells = res.metrics["cells"]
    for s in ("plain", "simple"):
        assert cells[f"{s}/tiktok"]["yes_rate"]["value"] == 1.0 and cells[f"{s}/tiktok"]["parse_failure_rate"] == 0
        assert cells[f"{s}/tiktok"]["I_avg"]["value"] == 0.0
    # "Yes." answers no 1-10 question: every ISQ scroll is a parse failure, hence a skip
    assert cells["isq/tiktok"]["parse_failure_rate"] == 1.0 and cells["isq/tiktok"]["yes_rate"]["value"] == 0.0
    assert cells["isq/tiktok"]["I_avg"]["extra"]["n_zero_zero"] == 2
    assert res.counts.parse_failure_rate == pytest.approx(1 / 3)


def test_structured_isq_is_one_request_per_scroll(feed_corpus, tmp_path):
    reply = json.dumps({"visual_appeal": 9, "curiosity_stimulation": 8, "emotional_engagement": 7,
                        "value_expectation": 6, "preference_alignment": "no", "action_desire": "yes"})
    res, records, _ = run_eval(feed_corpus, tmp_path, {"isq_format": "structured", "strategies": "isq",
                                                       "platforms": "youtube"}, model_args={"reply": reply})
    assert res.counts.model_calls == 2 * 20
    (r, _) = records
    assert r.outputs["scores"][0] == pytest.approx((9 + 8 + 7 + 6 + 10 * 0 + 10 * 1) / 60 * 100)
    assert r.outputs["isq_parts"]["value_expectation"][0] == 6 and all(r.outputs["watched"])


def test_unreadable_images_stop_the_trial_or_are_skipped(corpus_copy, tmp_path):
    bad_ids = corrupt_images(corpus_copy, "Power")
    args = {"strategies": "plain", "platforms": "tiktok"}
    res, records, _ = run_eval(corpus_copy, tmp_path / "strict", args)
    assert res.counts.n_error > 0 and "corpus item syn-" in res.errors[0]["error"]
    res, records, _ = run_eval(corpus_copy, tmp_path / "skip", args, skip_bad_samples=True)
    assert res.counts.n_error == 0 and res.skipped_samples
    assert all(not (set(r.outputs["items"]) & bad_ids) and len(r.outputs["items"]) == 20 for r in records)


def test_every_persona_option_and_limit(feed_corpus, tmp_path):
    task = build_task("isq_induction", {"all_personas": True, "strategies": "isq", "platforms": "tiktok",
                                        "scrolls": 10, "n": 5},
                      TaskContext(store=ImageStore(tmp_path / "i"), dataset=str(feed_corpus), limit=7))
    samples = task.samples()
    assert len(samples) == 7 and len({s.meta["persona_id"] for s in samples}) == 7


def test_custom_platform_profile(feed_corpus, tmp_path):
    f = tmp_path / "platforms.yaml"
    f.write_text("myfeed:\n  labels: []\n  explore_start: 1.0\n  explore_decay: 1.0\n  explore_min: 1.0\n"
                 "  memory: 0.5\n  skip_penalty: 0\n  topic_temperature: 1\n  item_temperature: 1\n"
                 "  spill: 0\n  spill_topics: 0\n")
    res, records, _ = run_eval(feed_corpus, tmp_path, {"platform_file": str(f), "platforms": "myfeed",
                                                       "strategies": "plain"})
    assert set(res.metrics["cells"]) == {"plain/myfeed"}
    assert res.metrics["cells"]["plain/myfeed"]["pool"] == "all"  # no labels -> the whole corpus
    f.write_text("myfeed:\n  labels: []\n  explore_start: 2.0\n")
    with pytest.raises(UsageError, match="platform profiles: myfeed.explore_start: Input should be less than or equal to 1"):
        run_eval(feed_corpus, tmp_path / "b", {"platform_file": str(f), "platforms": "myfeed"})


def test_runs_on_a_corpus_from_the_value_spectrum_builder(tiny_clip, tmp_path):
    """The real pipeline: synthetic screenshots → build_corpus (tiny CLIP) → build_split → the feed."""
    from vbench.data.corpus.build import build_corpus
    from vbench.data.corpus.clip import ClipEmbedder
    from vbench.data.corpus.split import build_split
    from vbench.data.corpus.synthetic import build_synthetic_screenshots

    shots = build_synthetic_screenshots(tmp_path / "shots", n=60, seed=3)
    embedder = ClipEmbedder(str(tiny_clip), device="cpu")
    build_corpus(str(shots), tmp_path / "corpus", embedder=embedder, batch_size=16, progress=False)
    build_split(tmp_path / "corpus", top_k=2, embedder=embedder)
    res, records, _ = run_eval(tmp_path / "corpus", tmp_path, {"scrolls": 8, "n": 4, "trials": 1})
    assert res.counts.n_ok == 9 and res.counts.scheduler_steps == 8
    assert {c["pool"] for c in res.metrics["cells"].values()} == {"platform"}  # lower-case labels matched
    assert all(v in VALUES for r in records for v in r.outputs["item_values"])
