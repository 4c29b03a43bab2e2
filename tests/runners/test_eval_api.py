"""`vbench eval` against loopback API servers: the full path, infra errors, resume, zoo and --backend."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.runners.conftest import NEEDS_AIOHTTP, answered, probes

from vbench.evaluator import evaluate

pytest.importorskip("aiohttp", reason=NEEDS_AIOHTTP)
from vbench.testing.api_server import Faults  # noqa: E402

FAST_ARGS = "retry_initial=0.01,retry_max=0.05,timeout=2"


def _read(out: Path, model: str = "X") -> tuple[dict, list[dict]]:
    folder = out / model / "aggressiveness_rating"
    results = json.loads((folder / "results.json").read_text())
    samples = [json.loads(line) for line in (folder / "samples.jsonl").read_text().splitlines()]
    return results, samples


def test_cli_eval_against_an_openai_compatible_server(server, avatars, run_cli, tmp_path):
    srv = server()
    r = run_cli("eval", "--model", "openai", "--model_args", f"model=X,base_url={srv.openai_url}",
                "--tasks", "aggressiveness_rating", "--dataset", str(avatars), "--output_path", "out",
                "--max_concurrency", "8", "--quiet")
    assert r.returncode == 0, r.stderr
    results, samples = _read(tmp_path / "out")
    n = results["counts"]["n_samples"]
    assert n == 12 and results["counts"]["n_ok"] == n and results["counts"]["n_error"] == 0
    assert results["model"]["backend"] == "openai" and results["model"]["model_id"] == "X"
    assert len(answered(srv)) == 2 * n and probes(srv) == 1  # one generate + one choose per image
    assert results["model"]["choice_scoring"] == "first-token-logprobs"  # 1..7 are prefix-free
    for rec in samples:
        assert rec["outputs"]["choice_method"] == "logprobs" and rec["outputs"]["parse_ok"]
        assert abs(sum(rec["outputs"]["probs"].values()) - 1) < 1e-9
    assert "mean_expected_rating" in results["metrics"] and "pearson_human_rating" in results["metrics"]


def _bad_images(avatars: Path, k: int) -> set[bytes]:
    files = sorted(p for p in avatars.iterdir() if p.suffix == ".png")
    return {f.read_bytes() for f in files[:k]}


def test_infra_errors_are_recorded_apart_and_a_rerun_retries_only_them(server, avatars, tmp_path, isolated_cache):
    bad = _bad_images(avatars, 3)
    srv = server(faults=Faults(rule=lambda p, a: "500" if p.images and p.images[0] in bad else None))
    args = f"model=X,base_url={srv.openai_url},max_retries=1,{FAST_ARGS}"
    run = dict(model="openai", model_args=args, tasks="aggressiveness_rating", dataset=str(avatars),
               output_path=tmp_path / "out", show_progress=False)
    res = evaluate(**run)["aggressiveness_rating"]
    assert res.counts.n_episodes == 12 and res.counts.n_error == 3 and res.counts.n_ok == 9
    assert res.counts.error_rate == pytest.approx(0.25)
    assert len(res.errors) == 3 and all("infra error" in e["error"] and "500" in e["error"] for e in res.errors)
    results, samples = _read(tmp_path / "out")
    assert len(samples) == 12 and sum(s["status"] == "error" for s in samples) == 3  # nothing lost
    failed = {s["episode_id"] for s in samples if s["status"] == "error"}

    srv.faults.rule = None  # the outage is over
    sent_before = len(srv.events)
    res2 = evaluate(**run)["aggressiveness_rating"]
    new = [e for e in srv.events[sent_before:] if e.outcome != "400-prompt_logprobs"]
    assert {e.prompt.images[0] for e in new} <= bad  # only the failed episodes were asked again
    assert len(new) <= 2 * len(failed) and res2.counts.model_calls == res.counts.model_calls + len(new)  # whole run
    assert res2.counts.n_ok == 12 and res2.counts.n_error == 0
    _, samples2 = _read(tmp_path / "out")
    assert [s["episode_id"] for s in samples2] == [s["episode_id"] for s in samples]
    assert all(s["status"] == "ok" for s in samples2)


def test_twenty_percent_faults_lose_no_sample(server, avatars, tmp_path, isolated_cache):
    srv = server(faults=Faults(rate=0.2, kinds=("429", "500", "drop", "timeout"), hang=0.6, retry_after=0.01, seed=3))
    res = evaluate(model="openai", model_args=f"model=X,base_url={srv.openai_url},retry_initial=0.01,retry_max=0.05,timeout=0.3",
                   tasks="aggressiveness_rating", dataset=str(avatars), output_path=tmp_path / "out",
                   repeats=3, show_progress=False, max_concurrency=16)["aggressiveness_rating"]
    outcomes = srv.outcomes()
    assert {"429", "500", "drop", "timeout"} <= set(outcomes)  # every kind of fault happened
    assert sum(v for k, v in outcomes.items() if k != "ok") >= 0.1 * len(srv.events)
    assert res.counts.n_ok + res.counts.n_error == res.counts.n_episodes == 36
    _, samples = _read(tmp_path / "out")
    assert len({s["episode_id"] for s in samples}) == len(samples) == 36  # every episode accounted for, once


def test_model_args_never_hold_the_key(server, avatars, tmp_path, isolated_cache, monkeypatch):
    monkeypatch.setenv("VBENCH_TEST_KEY", "sk-topsecret-42")
    srv = server()
    evaluate(model="openai", model_args=f"model=X,base_url={srv.openai_url},api_key_env=VBENCH_TEST_KEY",
             tasks="aggressiveness_rating", dataset=str(avatars), limit=2, output_path=tmp_path / "out",
             show_progress=False)
    assert {e.prompt.api_key for e in srv.events} == {"sk-topsecret-42"}
    for f in (tmp_path / "out").rglob("*"):
        if f.is_file():
            assert "sk-topsecret-42" not in f.read_text()
    results, _ = _read(tmp_path / "out")
    assert results["model"]["model_args"]["api_key_env"] == "VBENCH_TEST_KEY"


def test_zoo_alias_on_the_command_line(run_cli, avatars):
    # no usable vLLM here: the alias runs on its transformers backend, with a one-line notice (offline, that
    # backend then cannot fetch the 7B weights: one more clear line, nothing written)
    r = run_cli("eval", "--model", "qwen-vl", "--tasks", "aggressiveness_rating", "--dataset", str(avatars))
    lines = r.stderr.strip().splitlines()
    assert "cannot run here" in lines[0] and "--backend hf instead" in lines[0] and "Traceback" not in r.stderr
    assert r.returncode != 0 and "Qwen/Qwen2.5-VL-7B-Instruct" in lines[-1]
    explicit = run_cli("eval", "--model", "qwen-vl", "--backend", "vllm", "--tasks", "aggressiveness_rating",
                       "--dataset", str(avatars))
    lines = explicit.stderr.strip().splitlines()
    assert explicit.returncode == 2 and len(lines) == 1 and "--backend hf" in lines[0]
    ls = run_cli("ls", "models")
    for alias in ("qwen-vl", "llava", "internvl", "gpt-4o", "claude-sonnet", "gemini-flash"):
        assert alias in ls.stdout


def test_backend_override_reruns_an_alias_elsewhere(server, avatars, tmp_path, isolated_cache):
    srv = server()
    res = evaluate(model="qwen-vl", backend="openai", model_args=f"base_url={srv.openai_url}",
                   tasks="aggressiveness_rating", dataset=str(avatars), limit=2, output_path=tmp_path / "out",
                   show_progress=False)["aggressiveness_rating"]
    assert res.model.name == "qwen-vl" and res.model.backend == "openai"
    assert {e.prompt.model for e in srv.events} == {"Qwen/Qwen2.5-VL-7B-Instruct"}


def test_backend_override_errors_are_one_line(run_cli):
    r = run_cli("eval", "--model", "gpt-4o", "--backend", "vllm", "--tasks", "aggressiveness_rating")
    assert r.returncode == 2 and "runs on: openai" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    r = run_cli("eval", "--model", "dummy", "--backend", "hf", "--tasks", "aggressiveness_rating")
    assert r.returncode == 2 and "not a model-zoo alias" in r.stderr
    r = run_cli("eval", "--model", "dummy", "--max_concurrency", "0", "--tasks", "aggressiveness_rating")
    assert r.returncode == 2


def test_bad_key_stops_the_cli_with_one_scrubbed_line(server, avatars, tmp_path, isolated_cache, monkeypatch, capsys):
    from vbench.cli.main import main

    monkeypatch.setenv("VBENCH_TEST_KEY", "sk-leaky-777")
    srv = server(echo_key=True)
    code = main(["eval", "--model", "openai", "--model_args",
                 f"model=X,base_url={srv.openai_url},api_key_env=VBENCH_TEST_KEY", "--tasks", "aggressiveness_rating",
                 "--dataset", str(avatars), "--output_path", str(tmp_path / "out"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and "authentication failed" in err
    assert "sk-leaky-777" not in err and "Traceback" not in err
    assert not list((tmp_path / "out").rglob("results.json"))  # no half-written results
