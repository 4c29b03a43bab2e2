"""`Session`: runners and cache closed on success, error and Ctrl-C; nothing half-written."""
import json
import os
import signal
import time

import pytest

from vbench.cli.main import main
from vbench.evaluator import evaluate
from vbench.runners.cache import ResponseCache
from vbench.runners.dummy import DummyArgs, DummyRunner
from vbench.session import Session


@pytest.fixture
def closes(monkeypatch):
    """Every DummyRunner and ResponseCache close, in order."""
    seen: list[str] = []
    real_cache_close = ResponseCache.close

    def cache_close(self):
        seen.append("cache")
        real_cache_close(self)

    monkeypatch.setattr(DummyRunner, "close", lambda self: seen.append(f"runner:{self.args.reply}"))
    monkeypatch.setattr(ResponseCache, "close", cache_close)
    return seen


CTRL_C = "ctrl-c"


def _failing_run(exc: BaseException | str, after: int = 0):
    """DummyRunner.run that answers ``after`` batches, then raises ``exc`` (CTRL_C: a real SIGINT to this
    process, which Python raises as KeyboardInterrupt in the main thread wherever the run is waiting)."""
    real = DummyRunner.run
    calls = {"n": 0}

    def run(self, requests):
        calls["n"] += 1
        if calls["n"] > after:
            if exc == CTRL_C:
                os.kill(os.getpid(), signal.SIGINT)
                time.sleep(2)  # the interrupt arrives long before this ends
            raise exc if isinstance(exc, BaseException) else RuntimeError("no interrupt arrived")
        return real(self, requests)

    return run


def _leftovers(out):
    """Files an interrupted or failed run left in its output folder (a lock or temp file would be a bug; the
    call tally is kept on purpose: answers paid for before the failure are cached and counted on resume)."""
    return sorted(p.name for p in out.rglob("*") if p.is_file() and not p.name.endswith(".tally.json")) \
        if out.exists() else []


@pytest.mark.parametrize("exc, raised", [(RuntimeError("backend down"), RuntimeError), (CTRL_C, KeyboardInterrupt)])
def test_runners_and_cache_are_closed_when_a_runner_raises(exc, raised, avatars, tmp_path, isolated_cache, closes,
                                                           monkeypatch):
    monkeypatch.setattr(DummyRunner, "run", _failing_run(exc, after=1))
    out = tmp_path / "out"
    with pytest.raises(raised):
        evaluate(model="dummy", model_args="reply=a", model_roles={"player": ("dummy", "reply=b")},
                 tasks="ultimatum_solo", dataset=str(avatars), limit=2, repeats=1, batch_size=1,
                 output_path=out, show_progress=False)
    assert closes == ["cache", "runner:b", "runner:a"]  # each once, the last built first
    assert _leftovers(out) == []  # no results.json, no torn samples, no lock or temp file


def test_ctrl_c_on_the_command_line_exits_130_and_a_rerun_completes(avatars, tmp_path, monkeypatch, closes):
    monkeypatch.setenv("VBENCH_CACHE", str(tmp_path / "cache"))
    import vbench.images as images

    monkeypatch.setattr(images, "_default", None)
    out = tmp_path / "out"
    args = ["eval", "--model", "dummy", "--tasks", "aggressiveness_rating", "--dataset", str(avatars),
            "--limit", "4", "--batch_size", "2", "--output_path", str(out), "--quiet"]
    real_run = DummyRunner.run
    monkeypatch.setattr(DummyRunner, "run", _failing_run(CTRL_C, after=1))
    assert main(args) == 130
    assert closes == ["cache", "runner:None"] and not list(out.rglob("results.json"))
    left = [p for p in out.rglob("*") if p.is_file() and p.name != ".samples.jsonl.tally.json"]
    assert [p.name for p in left] in ([], ["samples.jsonl"])  # nothing half-written; finished episodes kept
    kept = [json.loads(line) for p in left for line in p.read_text().splitlines()]
    assert all(r["status"] == "ok" for r in kept)  # an episode whose answers arrived may be kept, whole
    monkeypatch.setattr(DummyRunner, "run", real_run)
    assert main(args) == 0
    res = json.loads(next(out.glob("*/aggressiveness_rating/results.json")).read_text())
    # The first batch's two answers were paid once: whether the interrupt came before or after an episode they
    # finished was written (a race by design), the rerun resumes that episode (two calls each) or reuses the
    # cached answers; it never asks again, so the run pays what an uninterrupted one does.
    assert res["counts"]["n_ok"] == 4 and 2 * len(kept) + res["counts"]["cache_hits"] >= 2
    assert res["counts"]["model_calls"] == 8


def test_a_failing_close_does_not_stop_the_others(tmp_path, closes, monkeypatch):
    session = Session(tmp_path / "cache")
    first = session.add_runner("default", "dummy", "reply=a")
    session.add_runner("player", "dummy", "reply=b")
    assert session.cache is not None

    def boom():
        raise OSError("device busy")

    monkeypatch.setattr(first, "close", boom)
    with pytest.raises(ValueError, match="the run's own error"):
        with session:
            raise ValueError("the run's own error")  # stays the error the caller sees
    assert closes == ["cache", "runner:b"] and session.closed


def test_ctrl_c_during_shutdown_closes_everything_then_is_raised(tmp_path, closes, monkeypatch):
    session = Session(tmp_path / "cache")
    session.add_runner("default", "dummy", "reply=a")
    second = session.add_runner("player", "dummy", "reply=b")

    def interrupted():
        raise KeyboardInterrupt

    monkeypatch.setattr(second, "close", interrupted)
    _ = session.cache
    with pytest.raises(KeyboardInterrupt):
        session.close()
    assert closes == ["cache", "runner:a"]
    session.close()  # closing twice is a no-op
    assert closes == ["cache", "runner:a"]


def test_runner_instances_are_used_not_owned_and_no_cache_file_before_first_use(tmp_path, closes):
    own = DummyRunner(DummyArgs(reply="mine"))
    with Session(tmp_path / "cache") as session:
        assert session.add_runner("default", own) is own and own.store is session.store
        built = session.add_runner("judge", "dummy", "reply=built")
        assert built.store is session.store
    assert closes == ["runner:built"]  # the handed-in runner stays open for its owner
    assert not (tmp_path / "cache" / "cache.sqlite").exists()  # the cache was never asked
    with Session(tmp_path / "cache", use_cache=False) as session:
        session.add_runner("default", own)
        assert session.cache is None and session.scheduler().cache is None
