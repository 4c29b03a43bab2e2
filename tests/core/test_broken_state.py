"""Broken state: a damaged cache, a concurrent run, an interrupted run or a failing backend never leaves a
traceback, a mixed folder, an empty samples file or a result that differs from an uninterrupted run."""
from __future__ import annotations

import json
import logging
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from vbench.cli.main import main
from vbench.errors import UsageError
from vbench.evaluator import evaluate
from vbench.runners.cache import ResponseCache
from vbench.runners.dummy import DummyRunner
from vbench.types import Response

ROOT = Path(__file__).resolve().parents[2]


def _eval(data, out, cache, *extra: str) -> list[str]:
    return ["eval", "--model", "dummy", "--tasks", "aggressiveness_rating", "--dataset", str(data),
            "--output_path", str(out), "--cache-dir", str(cache), "--batch_size", "4", "--quiet", *extra]


def _files(out: Path) -> tuple[Path, dict]:
    run = next(out.glob("*/aggressiveness_rating"))
    return run / "samples.jsonl", json.loads((run / "results.json").read_text())


# -- the response cache -------------------------------------------------------------------------------------------
def _damage(path: Path, how: str) -> None:
    if how == "not_a_database":
        path.write_bytes(b"this is not an sqlite file at all" * 200)
        return
    cache = ResponseCache(path)
    cache.put_many([(f"k{i}", Response(text="x" * 500)) for i in range(400)])
    cache.close()
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    raw = bytearray(path.read_bytes())
    if how == "truncated":
        path.write_bytes(bytes(raw[: len(raw) // 3]))
    else:  # garbage pages in the middle of the b-tree
        for offset in range(4096 * 3, min(len(raw), 4096 * 12)):
            raw[offset] = (offset * 7919) % 251
        path.write_bytes(bytes(raw))


@pytest.mark.parametrize("how", ["not_a_database", "truncated", "garbage_pages"])
def test_damaged_cache_is_moved_aside_and_the_run_goes_on(avatars, tmp_path, capsys, caplog, how):
    cache_dir = tmp_path / "cache"
    cache_dir.mkdir()
    _damage(cache_dir / "cache.sqlite", how)
    with caplog.at_level(logging.WARNING):
        assert main(_eval(avatars, tmp_path / "out", cache_dir)) == 0
    warning = " ".join(r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING)
    aside = list(cache_dir.glob("cache.sqlite.corrupt-*"))
    assert aside and str(cache_dir / "cache.sqlite") in warning and str(aside[0]) in warning
    assert "Traceback" not in capsys.readouterr().err
    db = sqlite3.connect(cache_dir / "cache.sqlite")
    assert db.execute("SELECT COUNT(*) FROM responses").fetchone()[0] > 0  # the fresh cache is in use
    db.close()


# -- one run per output folder ---------------------------------------------------------------------------------------
def test_a_second_run_on_a_locked_folder_is_refused(avatars, tmp_path, capsys):
    out = tmp_path / "out"
    run_dir = out / "dummy" / "aggressiveness_rating"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\nfrom vbench.output_lock import OutputLock\n"
         f"with OutputLock({str(run_dir)!r}):\n    print('locked', flush=True)\n    time.sleep(60)\n"],
        env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        assert main(_eval(avatars, out, tmp_path / "c", "--seed", "5")) == 2
        err = capsys.readouterr().err
        assert f"(pid {holder.pid}) is writing {run_dir}" in err and len(err.strip().splitlines()) == 1
        assert not (run_dir / "samples.jsonl").exists()
    finally:
        holder.kill()
        holder.wait(timeout=30)
    assert main(_eval(avatars, out, tmp_path / "c")) == 0  # a killed holder leaves no lock behind
    assert not list(run_dir.glob(".vbench.lock"))


# -- resume ------------------------------------------------------------------------------------------------------------
def test_resume_is_byte_identical_and_counts_cover_the_whole_run(avatars, tmp_path, monkeypatch, capsys):
    assert main(_eval(avatars, tmp_path / "A", tmp_path / "cA")) == 0
    samples_a, res_a = _files(tmp_path / "A")

    from vbench.samples_log import SamplesLog

    real_finalize = SamplesLog.finalize

    def killed(self, records):
        raise KeyboardInterrupt

    monkeypatch.setattr(SamplesLog, "finalize", killed)  # interrupted after 5 episodes were appended
    assert main(_eval(avatars, tmp_path / "B", tmp_path / "cB", "--limit", "5")) == 130
    monkeypatch.setattr(SamplesLog, "finalize", real_finalize)
    partial = next((tmp_path / "B").glob("*/aggressiveness_rating/samples.jsonl"))
    assert len(partial.read_text().splitlines()) == 5 and not list(partial.parent.glob("results.json"))
    capsys.readouterr()
    assert main([a for a in _eval(avatars, tmp_path / "B", tmp_path / "cB") if a != "--quiet"]) == 0
    samples_b, res_b = _files(tmp_path / "B")
    assert samples_b.read_bytes() == samples_a.read_bytes()
    assert res_b["samples_sha256"] == res_a["samples_sha256"]
    assert res_b["counts"]["model_calls"] == res_a["counts"]["model_calls"] == 24
    # a run served entirely from the cache writes the same bytes as one that asked the model
    assert main(_eval(avatars, tmp_path / "C", tmp_path / "cA")) == 0
    samples_c, res_c = _files(tmp_path / "C")
    assert res_c["counts"]["cache_hits"] == 24 and samples_c.read_bytes() == samples_a.read_bytes()
    capsys.readouterr()
    assert main([a for a in _eval(avatars, tmp_path / "C", tmp_path / "cA") if a != "--quiet"]) == 0
    assert "resumed: 12 episodes from samples.jsonl, 0 cached responses, 0 model calls" in capsys.readouterr().err


def test_no_temp_file_survives_an_interrupted_final_rewrite(avatars, tmp_path, monkeypatch):
    out = tmp_path / "out"
    real_fsync = os.fsync

    def killed(fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", killed)
    assert main(_eval(avatars, out, tmp_path / "c")) == 130
    run_dir = next(out.glob("*/aggressiveness_rating"))
    assert not list(run_dir.glob(".samples.jsonl.tmp*"))
    monkeypatch.setattr(os, "fsync", real_fsync)
    (run_dir / ".samples.jsonl.tmp99999").write_text("left by a SIGKILL\n")  # what a kill -9 would leave
    assert main(_eval(avatars, out, tmp_path / "c")) == 0
    assert not list(run_dir.glob(".samples.jsonl.tmp*"))


def test_a_backend_failing_before_any_episode_leaves_no_file(avatars, tmp_path, monkeypatch, capsys):
    def unauthorized(self, requests):
        raise UsageError("openai: 401 Unauthorized (check OPENAI_API_KEY)")

    monkeypatch.setattr(DummyRunner, "run", unauthorized)
    assert main(_eval(avatars, tmp_path / "out", tmp_path / "c")) == 2
    assert "401" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


# -- failed runs exit non-zero ------------------------------------------------------------------------------------------
def _failing(fraction_ok: float):
    def run(self, requests):
        out = []
        for req in requests:
            good = int(req.cache_key("x")[:8], 16) / 0xFFFFFFFF < fraction_ok
            out.append(Response(text="4", method="generate") if good else Response.failure("HTTP 500 from server"))
        return out
    return run


def test_every_episode_failing_exits_1_with_a_summary(avatars, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(DummyRunner, "run", _failing(0.0))
    argv = _eval(avatars, tmp_path / "out", tmp_path / "c", "--task_args", "scoring=sampled")
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "12 of 12 episodes failed" in err and "HTTP 500" in err and "Traceback" not in err
    assert _files(tmp_path / "out")[1]["counts"]["n_error"] == 12  # the result is still written


def test_fail_on_error_rate(avatars, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(DummyRunner, "run", _failing(0.5))
    argv = _eval(avatars, tmp_path / "out", tmp_path / "c", "--task_args", "scoring=sampled")
    assert main(argv) == 0  # default: only a run where everything failed fails
    n_error = _files(tmp_path / "out")[1]["counts"]["n_error"]
    assert 0 < n_error < 12
    assert main([*argv, "--fail-on-error", "0"]) == 1
    assert f"{n_error} of 12 episodes failed" in capsys.readouterr().err
    assert main([*argv, "--fail-on-error", "0.99"]) == 0
    assert main([*argv, "--fail-on-error", "2"]) == 2


def test_python_api_counts_cover_previous_invocations(avatars, tmp_path):
    kw = dict(model="dummy", tasks="aggressiveness_rating", dataset=str(avatars), output_path=tmp_path / "o",
              cache_dir=tmp_path / "c", show_progress=False)
    first = evaluate(limit=None, **kw)["aggressiveness_rating"]
    again = evaluate(**kw)["aggressiveness_rating"]
    assert again.counts == first.counts.model_copy(update={"scheduler_steps": 0})


def test_a_damaged_cache_entry_is_a_miss(tmp_path, caplog):
    cache = ResponseCache(tmp_path / "c.sqlite")
    cache.put_many([("good", Response(text="4")), ("bad", Response(text="5"))])
    cache._db.execute("UPDATE responses SET value='{not json' WHERE key='bad'")
    cache._db.commit()
    with caplog.at_level(logging.WARNING):
        found = cache.get_many(["good", "bad"])
    assert set(found) == {"good"} and found["good"].text == "4" and found["good"].cached
    assert "unreadable entry" in caplog.text
    cache.close()


def test_the_cache_committed_tally_wins_over_the_per_record_file(tmp_path):
    """The file tally is written per record and can run ahead of what was committed (answers counted in a
    loop turn that a kill cut short are asked, and counted, again on resume) or behind it; the tally
    committed with the answers is exact, so it wins wherever it has the invocation."""
    from vbench.samples_log import RunTally

    tally = RunTally(tmp_path / "samples.jsonl", "spec")
    tally.update("killed", 5, 1)  # one answer counted, then killed before its commit
    tally.update("no-cache", 3, 0)  # an invocation run without a cache has no committed tally
    committed = {"killed": (4, 1), "unregistered": (9, 9)}
    assert tally.totals(committed) == (4 + 3, 1)
    assert tally.totals() == (8, 1)
