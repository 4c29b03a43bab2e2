"""Sweep planning, the local executor, fsspec output URLs and cache snapshots (no Ray needed)."""
from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from vbench.cli.main import main
from vbench.scale.caches import merge_snapshot, snapshot
from vbench.scale.plan import SweepConfig, plan_cells


def test_jobs_reserve_what_their_model_needs():
    cfg = SweepConfig.model_validate({"models": {
        "big": {"model": "vllm", "model_args": "pretrained=org/m,tensor_parallel_size=4,pipeline_parallel_size=2"},
        "spread": {"model": "vllm", "model_args": "pretrained=org/s,tensor_parallel_size=4,"
                                                  "distributed_executor_backend=ray"},
        "api": {"model": "openai", "model_args": "model=gpt-4o"},
        "cpu": {"model": "hf", "model_args": "pretrained=org/c,device=cpu"},
        "gpu": {"model": "hf", "model_args": "pretrained=org/n"},
        "pinned": {"model": "dummy", "resources": {"num_cpus": 2, "num_gpus": 0.5}}}})
    cells = {c.model_label: c for c in plan_cells(cfg, [], ["aggressiveness_rating"], gpus_available=True)}
    gpus = {label: c.jobs[0].resources.num_gpus for label, c in cells.items()}
    assert gpus == {"big": 8, "spread": 0, "api": 0, "cpu": 0, "gpu": 1, "pinned": 0.5}
    assert plan_cells(cfg, ["gpu"], ["aggressiveness_rating"])[0].jobs[0].resources.num_gpus == 0  # no GPU in cluster


def test_shards_and_cell_keys():
    cfg = SweepConfig.model_validate({"shards": 3, "tasks": {"ultimatum_solo": {"shards": 2}}})
    cells = plan_cells(cfg, ["dummy"], ["aggressiveness_rating", "ultimatum_solo"])
    assert [len(c.jobs) for c in cells] == [3, 2]
    assert [j.shard for j in cells[1].jobs] == [(1, 2), (2, 2)]
    assert cells[0].run_dir == "dummy/aggressiveness_rating"
    other = plan_cells(cfg.model_copy(update={"seed": 1}), ["dummy"], ["aggressiveness_rating"])
    assert other[0].jobs[0].cell_key != cells[0].jobs[0].cell_key  # changed settings: not "finished"


def _sweep(out: str, avatars: Path, *extra: str) -> int:
    return main(["sweep", "--models", "dummy", "--tasks", "aggressiveness_rating,ultimatum_solo", "--dataset",
                 str(avatars), "--limit", "3", "--repeats", "1", "--gen_kwargs", "max_tokens=6", "--shards", "2",
                 "--quiet", "--output_path", out, *extra])


def test_local_sweep_to_an_fsspec_url_equals_a_folder_sweep(avatars, tmp_path, isolated_cache, capsys):
    assert _sweep(str(tmp_path / "folder"), avatars) == 0
    assert _sweep(f"file://{tmp_path / 'url'}", avatars) == 0
    for task in ("aggressiveness_rating", "ultimatum_solo"):
        a, b = tmp_path / "folder" / "dummy" / task, tmp_path / "url" / "dummy" / task
        assert (a / "samples.jsonl").read_bytes() == (b / "samples.jsonl").read_bytes()
        assert json.loads((a / "results.json").read_text())["metrics"] == json.loads((b / "results.json").read_text())["metrics"]
    assert "2 cells done" in capsys.readouterr().out
    assert _sweep(f"file://{tmp_path / 'url'}", avatars) == 0  # finished cells are skipped
    assert "0 cells done, 2 skipped" in capsys.readouterr().out


def test_a_partial_cell_resumes(avatars, tmp_path, isolated_cache, capsys):
    from vbench.evaluator import evaluate

    out = tmp_path / "out"
    evaluate(model="dummy", tasks="aggressiveness_rating", dataset=str(avatars), limit=3, repeats=1,
             gen_kwargs="max_tokens=6", output_path=out, shard=(1, 2), show_progress=False)
    before = (out / "dummy" / "aggressiveness_rating" / "shard-1-of-2" / "samples.jsonl").read_bytes()
    assert _sweep(str(out), avatars) == 0
    assert (out / "dummy" / "aggressiveness_rating" / "shard-1-of-2" / "samples.jsonl").read_bytes() == before
    assert (out / "dummy" / "aggressiveness_rating" / "results.json").exists()


def test_bad_sweep_input_is_one_line(tmp_path, capsys):
    cfg = tmp_path / "s.yaml"
    cfg.write_text("models: {a: {model: dummy, colour: red}}\n")
    for argv, needle in ((["--models", "dumy", "--tasks", "aggressiveness_rating"], "Did you mean 'dummy'"),
                         (["--models", "dummy", "--tasks", "aggressivness"], "Did you mean 'aggressiveness_rating'"),
                         (["--config", str(cfg), "--tasks", "aggressiveness_rating"], "colour"),
                         (["--models", "dummy", "--tasks", "aggressiveness_rating", "--executor", "ray",
                           "--ray-address", "127.0.0.1:1"], "no Ray cluster reachable")):
        code = main(["sweep", *argv, "--output_path", str(tmp_path / "o")])
        err = capsys.readouterr().err.strip()
        assert code == 2 and needle in err and len(err.splitlines()) == 1, err
    assert not (tmp_path / "o").exists()


def _cache(path: Path, rows: dict[str, str]) -> None:
    path.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path / "cache.sqlite")
    db.execute("CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, value TEXT NOT NULL, created REAL)")
    db.executemany("INSERT OR REPLACE INTO responses VALUES (?, ?, 0)", rows.items())
    db.commit()
    db.close()


def test_cache_snapshots_merge_without_overwriting(tmp_path):
    _cache(tmp_path / "driver", {"k1": "driver"})
    _cache(tmp_path / "worker", {"k1": "worker", "k2": "new"})
    (tmp_path / "worker" / "images" / "ab").mkdir(parents=True)
    (tmp_path / "worker" / "images" / "ab" / "abcd.png").write_bytes(b"png")
    snapshot(tmp_path / "worker", tmp_path / "snap")
    assert merge_snapshot(tmp_path / "snap", tmp_path / "driver") == 1
    assert merge_snapshot(tmp_path / "snap", tmp_path / "driver") == 0  # idempotent
    rows = dict(sqlite3.connect(tmp_path / "driver" / "cache.sqlite").execute("SELECT key, value FROM responses"))
    assert rows == {"k1": "driver", "k2": "new"}
    assert (tmp_path / "driver" / "images" / "ab" / "abcd.png").read_bytes() == b"png"


@pytest.mark.parametrize("spec", ["0/2", "3/2", "1/0", "a/b", "1"])
def test_shard_specs(spec, capsys):
    code = main(["eval", "--model", "dummy", "--tasks", "aggressiveness_rating", "--shard", spec])
    assert code == 2 and len(capsys.readouterr().err.strip().splitlines()) == 1


def test_live_table_renders(avatars, tmp_path, isolated_cache):
    import io

    from rich.console import Console

    from vbench.scale.plan import apply_overrides
    from vbench.scale.sweep import run_sweep

    buf = io.StringIO()
    cfg = apply_overrides(SweepConfig(), {"output_path": str(tmp_path / "o"), "dataset": str(avatars), "limit": 2})
    board = run_sweep(cfg, ["dummy"], ["aggressiveness_rating"], console=Console(file=buf, force_terminal=True,
                                                                                 width=150), live=True)
    assert board.counts()["done"] == 1
    assert "aggressiveness_rating" in buf.getvalue() and "done" in buf.getvalue()


def test_model_roles_in_a_sweep_equal_the_eval_flags(avatars, tmp_path, isolated_cache, capsys):
    """A model entry's `model_roles` reach the tasks that have those roles (and only those), exactly as
    `vbench eval --model-role` would; a role no task of the sweep has is a one-line error."""
    cfg = tmp_path / "s.yaml"
    cfg.write_text(f"""
dataset: {avatars}
limit: 2
repeats: 1
gen_kwargs: max_tokens=6
models:
  mixed: {{model: dummy, model_args: "reply=40", model_roles: {{player_b: {{model: dummy, model_args: "reply=60"}}}}}}
tasks:
  ultimatum_pair: {{}}
  aggressiveness_rating: {{}}
""")
    assert main(["sweep", "--config", str(cfg), "--quiet", "--output_path", str(tmp_path / "sw")]) == 0
    assert main(["eval", "--model", "dummy", "--model_args", "reply=40", "--model-role", "player_b=dummy:reply=60",
                 "--tasks", "ultimatum_pair", "--dataset", str(avatars), "--limit", "2", "--repeats", "1",
                 "--gen_kwargs", "max_tokens=6", "--output_path", str(tmp_path / "ev"), "--quiet"]) == 0
    (swept,) = (tmp_path / "sw").glob("*/ultimatum_pair")
    (direct,) = (tmp_path / "ev").glob("*/ultimatum_pair")
    assert (swept / "samples.jsonl").read_bytes() == (direct / "samples.jsonl").read_bytes()
    res = json.loads((swept / "results.json").read_text())
    assert set(res["roles"]) == {"player_b"} and "player_b=dummy:reply=60" in res["run"]["command"]
    (rating,) = (tmp_path / "sw").glob("*/aggressiveness_rating/results.json")
    assert json.loads(rating.read_text())["roles"] == {}  # a task without that role runs the main model only
    capsys.readouterr()
    cfg.write_text(cfg.read_text().replace("player_b:", "player_z:"))
    assert main(["sweep", "--config", str(cfg), "--quiet", "--output_path", str(tmp_path / "bad")]) == 2
    err = capsys.readouterr().err.strip()
    assert "no task of this sweep has a role 'player_z'" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "bad").exists()


def test_a_cell_with_roles_reserves_the_gpus_of_every_model():
    cfg = SweepConfig.model_validate({"models": {"duel": {
        "model": "vllm", "model_args": "pretrained=org/a,tensor_parallel_size=2",
        "model_roles": {"player_b": {"model": "vllm", "model_args": "pretrained=org/b,tensor_parallel_size=2"},
                        "judge": {"model": "openai", "model_args": "model=gpt-4o"}}}}})
    (cell,) = plan_cells(cfg, [], ["ultimatum_pair"], gpus_available=True)
    assert cell.jobs[0].resources.num_gpus == 4 and cell.run_dir == "org_a__judge_gpt-4o__player_b_org_b/ultimatum_pair"
