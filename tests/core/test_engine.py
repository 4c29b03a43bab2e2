"""The episode engine: episodes advance independently, yet records never depend on arrival order."""
from __future__ import annotations

import asyncio
import hashlib
import json
import threading

import pytest

from vbench.evaluator import build_task, evaluate
from vbench.images import ImageStore
from vbench.planning import episode_specs, plan
from vbench.runners.api_common import FatalBackendError
from vbench.runners.base import Runner, RunnerArgs
from vbench.runners.dummy import DummyArgs, DummyRunner
from vbench.runners.scheduler import EpisodeSpec, Scheduler
from vbench.samples_log import canonical
from vbench.tasks.base import TaskContext
from vbench.types import Message, Request, Response


class DelayedDummy(DummyRunner):
    """The dummy's answers, each after a random sleep drawn from (request, salt): a new arrival order
    per salt. A native async runner, so the engine awaits each request on its own."""

    native_async = True

    def __init__(self, salt: int, max_delay: float = 0.02):
        super().__init__(DummyArgs())
        self.salt = salt
        self.max_delay = max_delay
        self.arrivals: list[str] = []

    async def answer(self, request: Request) -> Response:
        h = hashlib.sha256(f"{self.salt}|{request.cache_key('x')}".encode()).digest()
        await asyncio.sleep(self.max_delay * h[0] / 255)
        self.arrivals.append(request.cache_key("x"))
        return self.run([request])[0]


def _pair_specs(avatars, tmp_path, n_samples: int = 6):
    ctx = TaskContext(store=ImageStore(tmp_path / "img"), dataset=str(avatars), seed=0)
    task = build_task("ultimatum_pair", {"images_per_level": 1}, ctx)
    samples = task.samples()[:n_samples]
    return task, lambda: episode_specs(task, samples, plan([s.id for s in samples], 2, 0, task.name))


def _play(task, specs, runner, **kw) -> tuple[list[str], dict, list[str]]:
    """(canonical records in episode order, metrics, episode ids in the order on_record saw them)."""
    records = []
    Scheduler({"default": runner}, task_name=task.name, **kw).run(specs, records.append)
    seen = [r.episode_id for r in records]
    records.sort(key=lambda r: (r.index, r.repeat))
    return [json.dumps(canonical(r), sort_keys=True) for r in records], task.metrics(records), seen


def test_random_answer_delays_give_identical_records_and_metrics(avatars, tmp_path):
    task, specs = _pair_specs(avatars, tmp_path)
    base_records, base_metrics, _ = _play(task, specs(), DummyRunner(DummyArgs()))
    orders = []
    for salt in (1, 2):
        runner = DelayedDummy(salt)
        records, metrics, seen = _play(task, specs(), runner, in_order=False)
        assert records == base_records
        assert json.dumps(metrics, sort_keys=True) == json.dumps(base_metrics, sort_keys=True)
        orders.append((runner.arrivals, seen))
    assert orders[0][0] != orders[1][0]  # the delays really reordered the answers


def test_batch_size_1_and_64_give_identical_samples(avatars, tmp_path, isolated_cache):
    outs = []
    for bs in (1, 64):
        res = evaluate(model="dummy", tasks="ultimatum_pair", dataset=str(avatars), limit=4, batch_size=bs,
                       output_path=tmp_path / f"bs{bs}", use_cache=False, show_progress=False)["ultimatum_pair"]
        outs.append((next((tmp_path / f"bs{bs}").glob("*/ultimatum_pair/samples.jsonl")).read_bytes(),
                     json.dumps(res.metrics, sort_keys=True)))
    assert outs[0] == outs[1]


@pytest.mark.slow
def test_batch_size_1_and_64_give_the_same_records_on_a_tiny_hf_model(avatars, tiny_llava, tmp_path, isolated_cache):
    """Same texts word for word; probabilities equal up to float noise (left padding and batch-mates
    change logits in the last bits, as the README's reproducibility section says)."""
    outs = []
    for bs in (1, 64):
        evaluate(model="hf", model_args=f"pretrained={tiny_llava},device=cpu", tasks="aggressiveness_rating",
                 dataset=str(avatars), limit=6, batch_size=bs, output_path=tmp_path / f"bs{bs}", use_cache=False,
                 show_progress=False, gen_kwargs="temperature=1,max_tokens=6")
        text = next((tmp_path / f"bs{bs}").glob("*/aggressiveness_rating/samples.jsonl")).read_text()
        outs.append([json.loads(line) for line in text.splitlines()])
    assert [r["episode_id"] for r in outs[0]] == [r["episode_id"] for r in outs[1]] and len(outs[0]) == 6
    for a, b in zip(*outs):
        assert [t["response"] for t in a["turns"]] == [t["response"] for t in b["turns"]]
        for ta, tb in zip(a["turns"], b["turns"]):
            assert (ta["probs"] is None) == (tb["probs"] is None)
            for option, p in (ta["probs"] or {}).items():
                assert tb["probs"][option] == pytest.approx(p, abs=1e-6)


def _turns(tag: str, n: int):
    out = []
    for k in range(n):
        reply = yield [Request(messages=(Message.user(f"{tag}-{k}"),))]
        out.append(reply[0].text)
    return {"replies": out}


class Straggler(Runner):
    """Answers at once, except e0's first request, which waits until every other episode has been
    recorded (a lockstep engine would make it wait forever; the timeout only keeps a failure finite)."""

    backend = "straggler"
    native_async = True

    def __init__(self, others: int):
        super().__init__(RunnerArgs())
        self.others = others
        self.recorded: list[str] = []
        self.records: dict = {}
        self.release: asyncio.Event | None = None

    def run(self, requests):
        raise AssertionError("the engine awaits answer() for native async runners")

    def on_record(self, rec) -> None:
        self.recorded.append(rec.episode_id)
        self.records[rec.episode_id] = rec
        if len(self.recorded) == self.others and self.release is not None:
            self.release.set()

    async def answer(self, request):
        text = request.messages[-1].text
        if text == "e0-0":
            self.release = asyncio.Event()
            if len(self.recorded) == self.others:
                self.release.set()
            try:
                await asyncio.wait_for(self.release.wait(), timeout=20)
                return Response(text="released")
            except asyncio.TimeoutError:
                return Response(text="timed out")
        return Response(text=f"ok:{text}")


def test_a_straggler_holds_only_its_own_episode():
    runner = Straggler(others=5)
    specs = [EpisodeSpec(f"e{i}", i, {}, _turns(f"e{i}", 4)) for i in range(6)]
    Scheduler({"default": runner}, in_order=False).run(specs, runner.on_record)
    assert runner.recorded[-1] == "e0" and sorted(runner.recorded[:5]) == ["e1", "e2", "e3", "e4", "e5"]
    assert runner.records["e0"].outputs["replies"][0] == "released"  # it waited for the others, not a timeout


def test_in_order_delivery_follows_the_iterator_whatever_finishes_first():
    runner = DelayedDummy(salt=3, max_delay=0.01)
    seen = []
    Scheduler({"default": runner}).run([EpisodeSpec(f"e{i}", i, {}, _turns(f"e{i}", 3)) for i in range(12)],
                                       lambda r: seen.append(r.episode_id))
    assert seen == [f"e{i}" for i in range(12)]


class Rendezvous(Runner):
    """A batch runner whose ``run`` waits for the partner runner to be inside its own ``run``."""

    backend = "rendezvous"

    def __init__(self, name: str, inside: dict[str, threading.Event]):
        super().__init__(RunnerArgs(), batch_size=4)
        self.name = name
        self.inside = inside
        self.saw_partner: list[bool] = []

    def fingerprint_fields(self):
        return {"backend": self.backend, "name": self.name}

    def run(self, requests):
        self.inside[self.name].set()
        partner = "B" if self.name == "A" else "A"
        self.saw_partner.append(self.inside[partner].wait(timeout=10))
        return [Response(text=f"{self.name}:{r.messages[-1].text}") for r in requests]


def test_two_roles_on_different_runners_are_served_at_the_same_time():
    inside = {"A": threading.Event(), "B": threading.Event()}
    a, b = Rendezvous("A", inside), Rendezvous("B", inside)

    def episode(i):
        x = yield [Request(messages=(Message.user(f"a{i}"),))]
        y = yield [Request(messages=(Message.user(f"b{i}"),), role="other")]
        return {"texts": [x[0].text, y[0].text]}

    # one episode asks role A, the other role B first: both runners have work at the same moment
    def crossed(i):
        y = yield [Request(messages=(Message.user(f"b{i}"),), role="other")]
        x = yield [Request(messages=(Message.user(f"a{i}"),))]
        return {"texts": [x[0].text, y[0].text]}

    records = []
    Scheduler({"default": a, "other": b}).run(
        [EpisodeSpec("p", 0, {}, episode(0)), EpisodeSpec("q", 1, {}, crossed(1))], records.append)
    assert all(r.status == "ok" for r in records)
    assert a.saw_partner[0] and b.saw_partner[0]


class FatalAfter(Runner):
    """Async runner: the third request finds a bad key; the others would wait an hour."""

    backend = "fatal"
    native_async = True

    def __init__(self):
        super().__init__(RunnerArgs())
        self.n = 0

    def run(self, requests):
        raise AssertionError

    async def answer(self, request):
        self.n += 1
        if self.n == 3:
            raise FatalBackendError("fatal: authentication failed")
        await asyncio.sleep(3600)
        return Response(text="never")


class BrokenBatch(Runner):
    backend = "broken"

    def run(self, requests):
        raise FatalBackendError("broken: model cannot load")


@pytest.mark.parametrize("runner_cls", [FatalAfter, BrokenBatch])
def test_a_failing_backend_stops_the_run_promptly_and_leaves_no_thread(runner_cls):
    before = {t.ident for t in threading.enumerate()}
    closed = []

    def episode(i):
        try:
            yield from _turns(f"e{i}", 3)
        finally:
            closed.append(i)

    outcome: list[BaseException] = []

    def go():
        try:
            Scheduler({"default": runner_cls(RunnerArgs()) if runner_cls is BrokenBatch else runner_cls()}).run(
                [EpisodeSpec(f"e{i}", i, {}, episode(i)) for i in range(8)], lambda r: None)
        except BaseException as exc:  # noqa: BLE001 - the test inspects it
            outcome.append(exc)

    t = threading.Thread(target=go)
    t.start()
    t.join(timeout=60)
    assert not t.is_alive(), "the run hung after a fatal backend error"
    assert len(outcome) == 1 and isinstance(outcome[0], FatalBackendError)
    assert sorted(closed) == list(range(8))  # every live episode's generator was closed
    leftover = [t for t in threading.enumerate() if t.ident not in before and t.name.startswith("vbench-batch")]
    assert not leftover


def test_seeds_come_from_the_episode_not_the_arrival_order():
    seeds: dict[int, list] = {}
    for salt in (5, 6):
        runner = DelayedDummy(salt)
        sent: list[tuple[str, int]] = []
        orig = runner.answer

        async def spy(req, orig=orig, sent=sent):
            sent.append((req.messages[-1].text, req.gen.seed))
            return await orig(req)

        runner.answer = spy  # type: ignore[method-assign]
        Scheduler({"default": runner}).run([EpisodeSpec(f"e{i}", i, {}, _turns(f"e{i}", 3), seed=i) for i in range(6)],
                                           lambda r: None)
        seeds[salt] = sorted(sent)
    assert seeds[5] == seeds[6]
    assert len({s for _, s in seeds[5]}) == len(seeds[5])


class BatchSensitive(Runner):
    """A batch runner whose answers depend on their batch-mates, as a local model's last bits do (padding),
    and whose batches take a random time drawn from (batch, salt): thread timing differs per salt."""

    backend = "batch-sensitive"

    def __init__(self, salt: int, batch_size: int = 3):
        super().__init__(RunnerArgs(), batch_size=batch_size)
        self.salt = salt
        self.batches: list[tuple[str, ...]] = []

    def run(self, requests):
        import time

        names = tuple(r.messages[-1].text for r in requests)
        h = hashlib.sha256(f"{self.salt}|{names}".encode()).digest()
        time.sleep(0.03 * h[0] / 255)
        self.batches.append(names)
        mates = hashlib.sha256("|".join(names).encode()).hexdigest()[:6]
        return [Response(text=f"{n}@{mates}") for n in names]


def test_batch_runner_rounds_do_not_depend_on_thread_timing():
    """Which requests share a batch follows from the run alone: with answers that depend on batch-mates
    and random batch durations, every run batches (and so answers) the same way."""
    results = []
    for salt in (1, 2, 3):
        runner = BatchSensitive(salt)
        records = []
        specs = [EpisodeSpec(episode_id=f"e{i}", index=i, sample={}, gen=_turns(f"e{i}", 2 + i % 3))
                 for i in range(7)]
        Scheduler({"default": runner}, max_live=5).run(specs, records.append)
        results.append(([r.outputs for r in records], runner.batches))
    assert results[0] == results[1] == results[2]
    assert any(len(b) > 1 for b in results[0][1])  # requests of different episodes did share batches


@pytest.mark.parametrize("runner", [DelayedDummy(salt=5, max_delay=0.005), DummyRunner(DummyArgs())],
                         ids=["async", "batch"])
def test_the_call_tally_is_committed_with_the_answers_it_counts(runner, tmp_path):
    """Whenever a record is delivered (and a crash could strike), the tally the cache holds counts exactly
    the answers it holds: a kill can lose neither a counted answer nor the count of a cached one."""
    from vbench.runners.cache import ResponseCache, TallyKey

    cache = ResponseCache(tmp_path / "c.sqlite")
    seen: list[tuple[int, int]] = []

    def on_record(_rec) -> None:
        seen.append((cache.tallies("run")["inv"][0], len(cache)))

    specs = [EpisodeSpec(f"e{i}", i, {}, _turns(f"e{i}", 3)) for i in range(8)]
    stats = Scheduler({"default": runner}, cache, tally_key=TallyKey("run", "inv")).run(specs, on_record)
    assert len(seen) == 8 and all(calls == rows for calls, rows in seen)
    assert cache.tallies("run") == {"inv": (24, 0)} == {"inv": (stats.model_calls, stats.cache_hits)}
    again = Scheduler({"default": runner}, cache, tally_key=TallyKey("run", "inv2")).run(
        [EpisodeSpec(f"e{i}", i, {}, _turns(f"e{i}", 3)) for i in range(8)], lambda r: None)
    assert again.cache_hits == 24 and cache.tallies("run")["inv2"] == (0, 24)
