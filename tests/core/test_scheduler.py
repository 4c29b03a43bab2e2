"""The scheduler drives multi-step episodes, batches per role, isolates failures."""
from vbench.runners.base import Runner, RunnerArgs
from vbench.runners.cache import ResponseCache
from vbench.runners.scheduler import EpisodeSpec, Scheduler
from vbench.types import GenParams, Message, Request, Response


class EchoRunner(Runner):
    """Answers 'name:step-text'; records every batch it receives; fails on 'FAIL'."""

    backend = "echo"

    def __init__(self, name: str, batch_size: int = 100):
        super().__init__(RunnerArgs(), batch_size=batch_size)
        self.name = name
        self.batches: list[list[Request]] = []

    def fingerprint_fields(self):
        return {"backend": "echo", "name": self.name}

    def run(self, requests):
        self.batches.append(requests)
        out = []
        for r in requests:
            text = r.messages[-1].text
            out.append(Response.failure("boom") if "FAIL" in text else Response(text=f"{self.name}:{text}"))
        return out


def three_step(tag: str, role_b: str = "default"):
    """A toy 3-turn episode: the reply of each turn feeds the next prompt; alternates roles."""
    history = []
    a = yield [Request(messages=(Message.user(f"{tag}-1"),), gen=GenParams())]
    history.append(a[0].text)
    b = yield [Request(messages=(Message.user(f"{tag}-2"),), role=role_b)]
    history.append(b[0].text)
    c = yield [Request(messages=(Message.user(f"{tag}-3|{history[-1]}"),)),
               Request(messages=(Message.user(f"{tag}-3b"),), role=role_b)]
    history.extend(r.text for r in c)
    return {"history": history}


def specs(n, role_b="default", fail_at=None):
    for i in range(n):
        tag = "FAIL" if i == fail_at else f"e{i}"
        yield EpisodeSpec(episode_id=f"e{i}", index=i, sample={}, gen=three_step(tag, role_b))


def test_three_step_episodes_are_batched_and_feed_each_reply_forward():
    runner = EchoRunner("m", batch_size=4)
    records = []
    stats = Scheduler({"default": runner}).run(specs(5), records.append)
    assert stats.steps == 3  # the most request rounds of one episode
    assert sum(len(b) for b in runner.batches) == stats.requests == stats.model_calls == 20
    assert all(1 <= len(b) <= 4 for b in runner.batches)  # micro-batches never exceed the batch size
    assert [r.episode_id for r in records] == [f"e{i}" for i in range(5)]  # delivered in episode order
    rec = {r.episode_id: r for r in records}
    assert rec["e2"].outputs["history"] == ["m:e2-1", "m:e2-2", "m:e2-3|m:e2-2", "m:e2-3b"]
    assert len(rec["e2"].turns) == 4 and rec["e2"].turns[2].step == 2


def test_roles_are_batched_separately_and_fall_back_to_default():
    a, b = EchoRunner("A"), EchoRunner("B")
    records = []
    Scheduler({"default": a, "other": b}).run(specs(3, role_b="other"), records.append)
    assert all(r.role == "default" for batch in a.batches for r in batch)
    assert all(r.role == "other" for batch in b.batches for r in batch)
    out = {r.episode_id: r.outputs["history"] for r in records}
    assert out["e1"] == ["A:e1-1", "B:e1-2", "A:e1-3|B:e1-2", "B:e1-3b"]


def test_failed_request_closes_only_its_episode_and_is_not_cached(tmp_path):
    runner = EchoRunner("m")
    cache = ResponseCache(tmp_path / "c.sqlite")
    records = []
    stats = Scheduler({"default": runner}, cache).run(specs(4, fail_at=1), records.append)
    by_id = {r.episode_id: r for r in records}
    assert by_id["e1"].status == "error" and "boom" in by_id["e1"].error
    assert all(by_id[e].status == "ok" for e in ("e0", "e2", "e3"))
    assert stats.errors == 1
    # every successful response is cached, the failure is not
    assert len(cache) == 3 * 4
    runner2 = EchoRunner("m")
    records2 = []
    Scheduler({"default": runner2}, cache).run(specs(4, fail_at=1), records2.append)
    sent = [r.messages[-1].text for batch in runner2.batches for r in batch]
    assert sent == ["FAIL-1"]  # only the failed request goes out again


def test_seeds_reach_requests_and_differ_per_episode():
    runner = EchoRunner("m")
    Scheduler({"default": runner}).run(specs(3), lambda r: None)
    first = [r for batch in runner.batches for r in batch if r.messages[-1].text.endswith("-1")]
    seeds = [r.gen.seed for r in first]
    assert len(first) == 3 and all(isinstance(s, int) for s in seeds) and len(set(seeds)) == 3


def test_task_exception_is_recorded_not_raised():
    def broken():
        yield [Request(messages=(Message.user("x"),))]
        raise ValueError("cannot parse")

    records = []
    Scheduler({"default": EchoRunner("m")}).run(
        [EpisodeSpec("bad", 0, {}, broken()), EpisodeSpec("good", 1, {}, three_step("g"))], records.append)
    by_id = {r.episode_id: r for r in records}
    assert by_id["bad"].status == "error" and "cannot parse" in by_id["bad"].error
    assert by_id["good"].status == "ok"
