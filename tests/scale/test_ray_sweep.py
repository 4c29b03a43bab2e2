"""Sweeps on a local Ray cluster (2 CPUs, one per module): same results as the local executor, even when a
worker is killed mid-sweep; the README's "Scaling out" example runs as written."""
from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import pytest

from tests.readme import readme_block, readme_commands
from vbench.cli.main import main
from vbench.output_lock import LOCK_NAME

os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # the test cluster listens on loopback only
ray = pytest.importorskip("ray")
ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def ray_cluster():
    os.environ["PYTHONPATH"] = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()


def write_config(path: Path, avatars: Path, tiny: Path) -> Path:
    # batch size 1: a resumed job batches its requests like an uninterrupted one (float noise from other
    # batch-mates' padding would otherwise show in the last digits of option probabilities)
    path.write_text(f"""
dataset: {avatars}
batch_size: 1
models:
  dummy: {{model: dummy}}
  tiny: {{model: hf, model_args: "pretrained={tiny},device=cpu"}}
tasks:
  aggressiveness_rating: {{limit: 6}}
  ultimatum_solo: {{limit: 2, repeats: 1, gen_kwargs: "max_tokens=6", shards: 2}}
""")
    return path


def comparable(path: Path) -> dict:
    obj = json.loads(path.read_text())
    obj["run"] = {k: v for k, v in obj["run"].items() if k not in ("command", "started_at", "finished_at",
                                                                      "duration_s")}
    obj["counts"] = {k: v for k, v in obj["counts"].items() if k not in ("model_calls", "cache_hits",
                                                                         "scheduler_steps")}
    return obj


class Killer(threading.Thread):
    """SIGKILLs the first worker seen holding a run folder's lock (the job mid-run), once."""

    def __init__(self, out: Path):
        super().__init__(daemon=True)
        self.out, self.killed, self.stop = out, None, threading.Event()

    def run(self) -> None:
        while not self.stop.is_set() and self.killed is None:
            for lock in self.out.rglob(LOCK_NAME) if self.out.exists() else []:
                try:
                    pid = int(lock.read_text().strip())
                except (OSError, ValueError):
                    continue
                if pid != os.getpid() and "tiny" in str(lock):
                    os.kill(pid, signal.SIGKILL)
                    self.killed = str(lock.parent)
                    return
            time.sleep(0.05)


def test_ray_sweep_survives_a_killed_worker_and_equals_the_local_run(ray_cluster, avatars, tiny_llava, tmp_path,
                                                                    capsys):
    cfg = write_config(tmp_path / "sweep.yaml", avatars, tiny_llava)
    local, distributed = tmp_path / "local", tmp_path / "ray"
    argv = ["sweep", "--config", str(cfg), "--quiet", "--cache-dir"]
    assert main([*argv, str(tmp_path / "c1"), "--output_path", str(local)]) == 0
    killer = Killer(distributed)
    killer.start()
    code = main([*argv, str(tmp_path / "c2"), "--output_path", str(distributed), "--executor", "ray"])
    killer.stop.set()
    out = capsys.readouterr()
    assert code == 0, out.err[-2000:]
    assert killer.killed, "no worker was caught mid-run"
    assert "4 cells done" in out.out
    runs = sorted(p.relative_to(local) for p in local.rglob("results.json"))
    assert len(runs) == 4 + 2 * 2  # 4 cells, two of them with 2 shards each
    for rel in runs:
        assert (distributed / rel.parent / "samples.jsonl").read_bytes() == (local / rel.parent / "samples.jsonl").read_bytes()
        assert comparable(distributed / rel) == comparable(local / rel)
    # the workers' caches reached the driver's; no snapshot is left behind in the results
    assert (tmp_path / "c2" / "cache.sqlite").exists() and not (distributed / ".vbench-sweep" / "caches").exists() \
        or not any((distributed / ".vbench-sweep" / "caches").iterdir())
    pointer = json.loads((distributed / "dummy" / "aggressiveness_rating" / "image_store.json").read_text())
    assert pointer["images"] == str((tmp_path / "c2" / "images").resolve())
    # a re-run skips every finished cell
    assert main([*argv, str(tmp_path / "c2"), "--output_path", str(distributed), "--executor", "ray"]) == 0
    assert "0 cells done, 4 skipped" in capsys.readouterr().out


def test_a_failing_cell_does_not_stop_the_others(ray_cluster, avatars, tmp_path, capsys):
    cfg = tmp_path / "sweep.yaml"
    cfg.write_text(f"dataset: {avatars}\nmodels:\n  broken: {{model: hf, model_args: \"pretrained={tmp_path}\"}}\n"
                   "  dummy: {model: dummy}\ntasks:\n  aggressiveness_rating: {limit: 3}\n")
    code = main(["sweep", "--config", str(cfg), "--quiet", "--executor", "ray", "--output_path", str(tmp_path / "o")])
    out = capsys.readouterr()
    assert code == 1
    assert "1 cells done, 0 skipped (finished before), 1 failed" in out.out
    assert (tmp_path / "o" / "dummy" / "aggressiveness_rating" / "results.json").exists()


def test_readme_scaling_out_example_runs_as_written(ray_cluster, avatars, tiny_llava, tmp_path, monkeypatch, capsys):
    commands, yaml_text = readme_commands("## Scaling out"), readme_block("## Scaling out", "yaml")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("VBENCH_CACHE", str(tmp_path / "cache"))
    (tmp_path / "demo").mkdir()
    (tmp_path / "demo" / "avatars").symlink_to(avatars)  # what `vbench demo --out demo` builds
    (tmp_path / "demo" / "tiny-llava").symlink_to(tiny_llava)
    (tmp_path / "sweep.yaml").write_text(yaml_text)
    for cmd in commands:
        assert cmd[0] == "vbench"
        if cmd[1] == "demo":
            continue
        code = main(cmd[1:])
        assert code == 0, f"{' '.join(cmd)}: {capsys.readouterr().err[-2000:]}"
    out = capsys.readouterr().out
    assert "cells done" in out and " 0 failed" in out
