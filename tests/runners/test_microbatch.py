"""The micro-batcher: batches up to the batch size, keeps an episode's requests together, joins its thread."""
from __future__ import annotations

import asyncio
import threading

import pytest

from vbench.runners.base import Runner, RunnerArgs
from vbench.runners.loop import shared_loop
from vbench.runners.microbatch import MicroBatcher
from vbench.types import Message, Request, Response


class Recorder(Runner):
    backend = "recorder"

    def __init__(self, batch_size: int, gate: threading.Event | None = None, fail: bool = False):
        super().__init__(RunnerArgs(), batch_size=batch_size)
        self.batches: list[list[str]] = []
        self.gate = gate
        self.fail = fail

    def run(self, requests):
        if self.gate is not None:
            self.gate.wait(timeout=10)
        self.batches.append([r.messages[-1].text for r in requests])
        if self.fail:
            raise RuntimeError("backend down")
        return [Response(text=r.messages[-1].text.upper()) for r in requests]


def _reqs(*texts: str) -> list[Request]:
    return [Request(messages=(Message.user(t),)) for t in texts]


def test_groups_stay_whole_and_batches_never_exceed_the_batch_size():
    gate = threading.Event()
    runner = Recorder(batch_size=3, gate=gate)

    async def go():
        mb = MicroBatcher(runner, asyncio.get_running_loop())
        futures = []
        for g in ("a", "b", "c"):  # three episodes, each yielding a pair (e.g. generate + choose)
            futures += mb.submit(_reqs(f"{g}1", f"{g}2"))
        futures += mb.submit(_reqs(*[f"big{i}" for i in range(7)]))  # one yield larger than a batch
        gate.set()
        answers = await asyncio.gather(*futures)
        return mb, [a.text for a in answers]

    mb, texts = shared_loop().run(go())
    mb.close()
    assert texts == ["A1", "A2", "B1", "B2", "C1", "C2"] + [f"BIG{i}" for i in range(7)]
    assert all(len(b) <= 3 for b in runner.batches)
    for g in ("a", "b", "c"):  # a pair is never split across batches
        assert any(b[:2] == [f"{g}1", f"{g}2"] or b[-2:] == [f"{g}1", f"{g}2"] for b in runner.batches)
    assert [t for b in runner.batches for t in b if t.startswith("big")] == [f"big{i}" for i in range(7)]


def test_a_backend_failure_reaches_every_waiting_request_and_close_joins_the_worker():
    runner = Recorder(batch_size=4, fail=True)

    async def go():
        mb = MicroBatcher(runner, asyncio.get_running_loop())
        results = await asyncio.gather(*mb.submit(_reqs("x", "y")), return_exceptions=True)
        return mb, results

    mb, results = shared_loop().run(go())
    assert all(isinstance(r, RuntimeError) and "backend down" in str(r) for r in results)
    mb.close()
    assert not mb._thread.is_alive()


def test_requests_still_queued_at_close_are_cancelled():
    gate = threading.Event()
    runner = Recorder(batch_size=1, gate=gate)

    async def submit():
        mb = MicroBatcher(runner, asyncio.get_running_loop())
        return mb, mb.submit(_reqs("first")) + mb.submit(_reqs("second"))

    mb, futures = shared_loop().run(submit())
    closer = threading.Thread(target=mb.close)
    closer.start()
    gate.set()  # let the batch in progress finish; the queued one must not run
    closer.join(timeout=30)
    assert not closer.is_alive() and not mb._thread.is_alive()

    async def outcomes():
        await asyncio.sleep(0.05)
        return [f.cancelled() or (f.done() and f.result().text == "FIRST") for f in futures]

    assert shared_loop().run(outcomes()) == [True, True]
    assert runner.batches in ([["first"]], [])
    with pytest.raises(RuntimeError):
        shared_loop().run(submit_after_close(mb))


async def submit_after_close(mb: MicroBatcher):
    return mb.submit(_reqs("late"))
