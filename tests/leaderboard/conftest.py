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
    """Three eval runs: two comparable (same data), one on a 6-sample subset (another board); a fourth
    (seed 2) that tests relabel as a hostile model name."""
    import vbench

    root = tmp_path_factory.mktemp("runs")
    cache = root / "cache"
    out = {}
    for name, kwargs in {"seed0": {"seed": 0}, "seed1": {"seed": 1, "model_args": "vocab=1 2 3 4 5 6 7 x"},
                         "subset": {"seed": 0, "limit": 6}, "seed2": {"seed": 2}}.items():
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


PUBLISHED = {"avatars": "vbench-personas/avatars", "screenshots": "vbench-personas/value-spectrum"}
PROPOSE = "I propose $70 for me and $30 for you. I accept your proposal."


def value_split(folder: Path) -> Path:
    """A tiny value-labelled screenshot split (imagefolder) in the value_spectrum layout."""
    import random

    from PIL import Image

    from vbench.tasks.display import schwartz_names

    folder.mkdir(parents=True)
    rng, rows = random.Random(0), []
    for vi, label in enumerate(schwartz_names()):
        for j in range(2):
            name = f"v{vi}_{j}.png"
            Image.new("RGB", (24, 24), (vi * 20, j * 90, 120)).save(folder / name)
            rows.append({"file_name": name, "value": label, "keyword": f"kw{j}", "rank": j, "distance": 0.5,
                         "platform": rng.choice(["tiktok", "youtube"])})
    (folder / "metadata.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return folder


@pytest.fixture(scope="session")
def site_runs(avatars, tmp_path_factory) -> dict:
    """Dummy runs of every task under three 'models' (different canned answers), and the data they used."""
    import vbench
    from vbench.registry import TASKS

    root = tmp_path_factory.mktemp("site-runs")
    split = value_split(root / "split")
    data = {"avatars": avatars, "screenshots": split}
    variants = {"model-a": ("1 2 3 yes", "I propose $70 for me and $30 for you. I accept."),
                "model-b": ("4 5 yes no", "I propose $55 for me and $45 for you. I accept."),
                "model-c": ("6 7 no", "I propose $50 for me and $50 for you. I reject.")}
    jobs = {"aggressiveness_rating": lambda v, r: dict(dataset=str(avatars), model_args=f"vocab={v}"),
            "ultimatum_pair": lambda v, r: dict(dataset=str(avatars), repeats=1, task_args="images_per_level=1",
                                                model_args=f"reply={r}"),
            "ultimatum_solo": lambda v, r: dict(dataset=str(avatars), repeats=1, model_args=f"reply={r}"),
            "value_spectrum": lambda v, r: dict(dataset=str(split), model_args=f"vocab={v}")}
    runs: dict[tuple[str, str], Path] = {}
    for model, (vocab, reply) in variants.items():
        for task, kwargs in jobs.items():
            if task in TASKS and not (task == "ultimatum_solo" and model == "model-c"):
                vbench.evaluate(model="dummy", tasks=[task], output_path=root / model, cache_dir=root / "cache",
                                show_progress=False, **kwargs(vocab, reply))
                runs[(model, task)] = root / model / "dummy" / task
    return {"runs": runs, "data": data, "root": root}


def publish(site_runs: dict, ds: Path) -> list[str]:
    """Write the site runs into ``ds`` as if made on the published datasets (relabelled by variant);
    returns the ``--dataset-copy`` arguments that let the build check their fingerprints."""
    for (model, task), run_dir in site_runs["runs"].items():
        obj = packed(run_dir)
        kind = "screenshots" if task == "value_spectrum" else "avatars"
        obj["results"]["task"]["dataset"] = PUBLISHED[kind]
        obj["results"]["model"]["model_id"] = model
        write_layout(ds, obj)
    return [arg for kind, hub_id in PUBLISHED.items()
            for arg in ("--dataset-copy", f"{hub_id}={site_runs['data'][kind]}")]
