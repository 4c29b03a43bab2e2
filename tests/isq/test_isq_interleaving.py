"""Trials are independent: whatever the order in which their episodes advance, the records are the same.

The episode generators are driven by hand (prime, then one scroll's responses per resume) in a lockstep
round-robin, one trial after another (last first), and a seeded random interleaving; every request each
trial sent and its outputs must be byte-identical across the three, and so must the list of unreadable
images a run skips (``--skip_bad_samples``: the feed re-draws them).
"""
from __future__ import annotations

import json
from collections.abc import Callable

import numpy as np
import pytest

from vbench.evaluator import build_task
from vbench.images import ImageStore
from vbench.runners.base import RunnerArgs
from vbench.runners.dummy import DummyRunner
from vbench.tasks.base import TaskContext
from vbench.types import Request

from tests.isq.conftest import corrupt_images

ARGS = {"trials": 2, "scrolls": 12, "n": 6, "platforms": "tiktok,youtube"}
Pick = Callable[[list[str], int], str]


def drive(corpus, image_dir, pick: Pick) -> tuple[dict[str, list[str]], list[dict[str, str]]]:
    """(episode id -> JSON of every request it sent, then of its outputs; the skipped images).

    ``pick(live, turn)`` names the episode that advances at each turn."""
    ctx = TaskContext(store=ImageStore(image_dir), dataset=str(corpus), seed=3, skip_bad_samples=True)
    task = build_task("isq_induction", ARGS, ctx)
    runner = DummyRunner(RunnerArgs())  # answers are a function of the request alone
    gens = {s.id: task.episode(s, 0, 0) for s in task.samples()}
    pending: dict[str, list[Request] | None] = dict.fromkeys(gens)
    log: dict[str, list[str]] = {sid: [] for sid in gens}
    live, turn = list(gens), 0
    while live:
        sid = pick(live, turn)
        turn += 1
        gen, reqs = gens[sid], pending[sid]
        try:
            reqs = next(gen) if reqs is None else gen.send(runner.run(reqs))
        except StopIteration as stop:
            log[sid].append(json.dumps(stop.value, sort_keys=True))
            live.remove(sid)
            continue
        log[sid].extend(r.model_dump_json() for r in reqs)
        pending[sid] = reqs
    return log, task.skipped


@pytest.mark.parametrize("unreadable", [None, "Hedonism"])
def test_records_do_not_depend_on_how_trials_interleave(corpus_copy, tmp_path, unreadable):
    bad_ids = corrupt_images(corpus_copy, unreadable) if unreadable else set()
    rng = np.random.default_rng(0)
    orders: dict[str, Pick] = {
        "lockstep": lambda live, turn: live[turn % len(live)],
        "one by one, last first": lambda live, turn: live[-1],
        "random": lambda live, turn: live[int(rng.integers(len(live)))],
    }
    runs = {name: drive(corpus_copy, tmp_path / "images", pick) for name, pick in orders.items()}
    reference, skipped = runs.pop("lockstep")
    for name, run in runs.items():
        assert run == (reference, skipped), name
    # the check has teeth: answers vary, and the feeds of a trial's strategies part after the first scroll
    outputs = {sid: json.loads(lines[-1]) for sid, lines in reference.items()}
    assert {w for o in outputs.values() for w in o["watched"]} == {0, 1}
    for platform in ("tiktok", "youtube"):
        feeds = {tuple(outputs[f"{platform}/{s}/t000"]["items"]) for s in ("plain", "simple", "isq")}
        assert len({f[0] for f in feeds}) == 1 and len(feeds) > 1
    assert not bad_ids & {i for o in outputs.values() for i in o["items"]}
    if unreadable:  # each unreadable image listed once, its reason free of run-specific bytes (addresses)
        assert skipped and len({e["sample"] for e in skipped}) == len(skipped)
        assert " at 0x" not in json.dumps(skipped)
    else:
        assert not skipped
