"""Fixtures: real dummy-backend runs on the synthetic avatars, packed into a local results dataset."""
from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from vbench.leaderboard.checks import line_sha256
from vbench.leaderboard.pack import dumps, layout_path, pack_run

@pytest.fixture(scope="package", autouse=True)
def _private_cache(tmp_path_factory):
    """Builds keep their verdict cache (and images) in a temporary $VBENCH_CACHE, never the user's."""
    import os

    old = os.environ.get("VBENCH_CACHE")
    os.environ["VBENCH_CACHE"] = str(tmp_path_factory.mktemp("vbench-cache"))
    yield
    if old is None:
        os.environ.pop("VBENCH_CACHE", None)
    else:
        os.environ["VBENCH_CACHE"] = old


INJECTED = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'


@pytest.fixture(scope="session")
def runs(avatars, tmp_path_factory) -> dict[str, Path]:
    """Three eval runs: two comparable (same data), one on a 6-sample subset (another board)."""
    import vbench

    root = tmp_path_factory.mktemp("runs")
    cache = root / "cache"
    out = {}
    for name, kwargs in {"seed0": {"seed": 0}, "seed1": {"seed": 1, "model_args": "vocab=1 2 3 4 5 6 7 x"},
                         "subset": {"seed": 0, "limit": 6}}.items():
        res = vbench.evaluate(model="dummy", tasks=["aggressiveness_rating"], dataset=str(avatars),
                              output_path=root / name, cache_dir=cache, show_progress=False,
                              **{"model_args": None, **kwargs})
        assert res["aggressiveness_rating"].counts.n_ok > 0
        out[name] = root / name / "dummy" / "aggressiveness_rating"
    return out


def write_layout(dataset: Path, obj: dict, rel: str | None = None) -> Path:
    """Write a (possibly hostile) submission object into a results-dataset folder."""
    from vbench.leaderboard.schema import Submission

    if rel is None:
        rel = layout_path(Submission.model_validate(obj))
    path = dataset / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj), encoding="utf-8")
    return path


def packed(run_dir: Path) -> dict:
    return json.loads(dumps(pack_run(run_dir / "results.json")))


def reseal(obj: dict) -> dict:
    """Make edited records internally consistent again (hashes, samples_sha256, metrics), like a forger would."""
    from vbench.leaderboard.checks import build_task_for, record_line
    from vbench.results import RunResults
    from vbench.types import Record

    obj["sample_hashes"] = [{"episode_id": r["episode_id"], "sha256": line_sha256(r)} for r in obj["samples"]]
    obj["results"]["samples_sha256"] = hashlib.sha256(b"".join(record_line(r) + b"\n" for r in obj["samples"])).hexdigest()
    res = RunResults.model_validate(obj["results"])
    task = build_task_for(res)
    metrics = task.metrics([Record.model_validate(r) for r in obj["samples"]])
    obj["results"]["metrics"] = json.loads(json.dumps(metrics))
    return obj


@pytest.fixture
def dataset_dir(tmp_path, runs) -> Path:
    """A results dataset with the two comparable runs and the subset run, submitted the normal way."""
    from vbench.cli.main import main

    ds = tmp_path / "results-dataset"
    assert main(["submit", str(runs["seed0"]), str(runs["seed1"]), str(runs["subset"]), "--to", str(ds)]) == 0
    return ds


@pytest.fixture
def copy_run(tmp_path):
    def copy(run_dir: Path) -> Path:
        target = tmp_path / "copies" / run_dir.parent.parent.name / run_dir.name
        shutil.copytree(run_dir, target)
        return target
    return copy
