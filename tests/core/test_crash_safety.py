"""A run killed with SIGKILL halfway and re-run equals an uninterrupted run."""
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from vbench.data.synthetic import build_synthetic_avatars

ROOT = Path(__file__).resolve().parents[2]


def _cmd(model, data, out, cache):
    return [sys.executable, "-m", "vbench", "eval", "--model", "hf", "--model_args", f"pretrained={model},device=cpu",
            "--tasks", "aggressiveness_rating", "--dataset", str(data), "--output_path", str(out),
            "--cache-dir", str(cache), "--batch_size", "1", "--quiet"]


def _samples(out) -> bytes:
    return next(Path(out).glob("*/aggressiveness_rating/samples.jsonl")).read_bytes()


@pytest.mark.slow
def test_sigkill_then_resume_matches_uninterrupted(tiny_llava, tmp_path):
    data = build_synthetic_avatars(tmp_path / "data", n=40, seed=3)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    full = subprocess.run(_cmd(tiny_llava, data, tmp_path / "A", tmp_path / "cA"), env=env, capture_output=True,
                          text=True, timeout=300)
    assert full.returncode == 0, full.stderr

    proc = subprocess.Popen(_cmd(tiny_llava, data, tmp_path / "B", tmp_path / "cB"), env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    lines = 0
    while time.time() < deadline and proc.poll() is None:
        found = list((tmp_path / "B").glob("*/aggressiveness_rating/samples.jsonl"))
        lines = found[0].read_bytes().count(b"\n") if found else 0
        if lines >= 15:
            break
        time.sleep(0.02)
    assert proc.poll() is None, "run finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert not list((tmp_path / "B").glob("*/aggressiveness_rating/results.json"))  # no half result

    resumed = subprocess.run(_cmd(tiny_llava, data, tmp_path / "B", tmp_path / "cB"), env=env, capture_output=True,
                             text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    res_a = json.loads(next((tmp_path / "A").glob("*/*/results.json")).read_text())
    res_b = json.loads(next((tmp_path / "B").glob("*/*/results.json")).read_text())
    assert res_b["metrics"] == res_a["metrics"]
    assert res_b["counts"]["n_ok"] == res_a["counts"]["n_ok"] == 40
    assert _samples(tmp_path / "B") == _samples(tmp_path / "A")  # byte for byte: cache hits leave no trace
    assert res_b["samples_sha256"] == res_a["samples_sha256"]
    assert res_b["counts"]["model_calls"] == res_a["counts"]["model_calls"]  # both invocations counted


# -- the asynchronous path: an API eval killed at random points ---------------------------------------------

def _api_cmd(url: str, data, out, cache, concurrency: int, task: str = "ultimatum_pair") -> list[str]:
    return [sys.executable, "-m", "vbench", "eval", "--model", "openai", "--model_args", f"model=X,base_url={url}",
            "--tasks", task, "--dataset", str(data), "--limit", "4", "--output_path", str(out), "--cache-dir",
            str(cache), "--max_concurrency", str(concurrency), "--quiet"]


def _answered_by(srv, start: int, until: float) -> set[str]:
    return {e.key for e in srv.events[start:] if e.outcome == "ok" and e.answered is not None and e.answered <= until}


def _run_and_kill(cmd, env, srv, start: int, after: int) -> float:
    """Start ``cmd``; SIGKILL it once the server answered ``after`` of its requests; the kill time."""
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None:
        if sum(e.answered is not None for e in srv.events[start:]) >= after:
            break
        time.sleep(0.002)
    assert proc.poll() is None, "run finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    killed = time.monotonic()
    proc.wait(timeout=30)
    return killed


@pytest.mark.slow
def test_api_eval_killed_twice_at_random_points_resumes_to_the_same_bytes(avatars, tmp_path):
    """Each answer is cached as it arrives: after a kill, only requests still in flight (at most the
    concurrency) go out again, counted at the server; the resumed run equals an uninterrupted one."""
    pytest.importorskip("aiohttp")
    from vbench.testing.api_server import FakeAPIServer, Latency

    concurrency = 6
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    rng = random.Random(13)
    with FakeAPIServer(latency=Latency(base=0.005, jitter=0.03, slow_rate=0.05, slow=0.4)) as srv:
        cmd = {run: _api_cmd(srv.openai_url, avatars, tmp_path / run, tmp_path / f"c{run}", concurrency)
               for run in ("A", "B")}
        full = subprocess.run(cmd["A"], env=env, capture_output=True, text=True, timeout=300)
        assert full.returncode == 0, full.stderr
        total = len(srv.events)
        start = len(srv.events)
        kills = []
        for _ in range(2):  # kill the first run, then kill its resume, at seeded random points
            begin = len(srv.events)
            killed = _run_and_kill(cmd["B"], env, srv, begin, rng.randint(total // 6, total // 3))
            kills.append((killed, _answered_by(srv, start, killed)))
        resumed = subprocess.run(cmd["B"], env=env, capture_output=True, text=True, timeout=300)
        assert resumed.returncode == 0, resumed.stderr
        events = list(srv.events[start:])
    for killed, answered in kills:  # answered before the kill and asked again after it
        resent = {e.key for e in events if e.t > killed} & answered
        assert len(resent) <= concurrency, (len(resent), len(answered))
    assert len(kills[0][1]) >= total // 6  # the kills really came mid-run, after many answers
    res_a = json.loads(next((tmp_path / "A").glob("*/*/results.json")).read_text())
    res_b = json.loads(next((tmp_path / "B").glob("*/*/results.json")).read_text())
    assert res_b["metrics"] == res_a["metrics"] and res_b["counts"]["n_ok"] == res_a["counts"]["n_ok"] == 20
    assert res_b["samples_sha256"] == res_a["samples_sha256"]
    assert (next((tmp_path / "B").glob("*/ultimatum_pair/samples.jsonl")).read_bytes()
            == next((tmp_path / "A").glob("*/ultimatum_pair/samples.jsonl")).read_bytes())


def test_ctrl_c_stops_an_api_eval_promptly_with_one_line(avatars, tmp_path):
    pytest.importorskip("aiohttp")
    from vbench.testing.api_server import FakeAPIServer

    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with FakeAPIServer(latency=60.0) as srv:  # every answer would take a minute
        proc = subprocess.Popen(_api_cmd(srv.openai_url, avatars, tmp_path / "out", tmp_path / "c", 4), env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 120
        while time.time() < deadline and len(srv.events) < 4 and proc.poll() is None:
            time.sleep(0.01)
        assert proc.poll() is None and len(srv.events) >= 4  # requests in flight
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130
    assert "interrupted" in err and "Traceback" not in err and "terminate called" not in err


def test_a_bad_key_stops_a_multi_turn_api_eval_with_one_line(avatars, tmp_path):
    pytest.importorskip("aiohttp")
    from vbench.testing.api_server import FakeAPIServer

    env = {**os.environ, "PYTHONPATH": str(ROOT), "OPENAI_API_KEY": "sk-secret-123"}
    with FakeAPIServer(echo_key=True) as srv:
        cmd = _api_cmd(srv.openai_url, avatars, tmp_path / "out", tmp_path / "c", 8)
        r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 2
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "authentication failed" in lines[0] and "sk-secret-123" not in r.stderr
    assert not list((tmp_path / "out").glob("*/*/results.json"))
