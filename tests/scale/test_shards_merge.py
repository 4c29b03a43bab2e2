"""Sharded eval + merge equals the unsharded run; parts that do not belong together are refused."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from vbench.cli.main import main
from vbench.evaluator import evaluate
from vbench.planning import shard_of

INVOCATION_RUN = {"command", "started_at", "finished_at", "duration_s", "batch_size"}
INVOCATION_COUNTS = {"model_calls", "cache_hits", "scheduler_steps"}


def comparable(results_path: Path) -> dict:
    """results.json without the fields that describe one invocation rather than the run."""
    obj = json.loads(results_path.read_text())
    obj["run"] = {k: v for k, v in obj["run"].items() if k not in INVOCATION_RUN}
    obj["counts"] = {k: v for k, v in obj["counts"].items() if k not in INVOCATION_COUNTS}
    return obj


def run_dir(out: Path, task: str) -> Path:
    (found,) = out.glob(f"*/{task}")
    return found


@pytest.mark.parametrize("task,args", [("aggressiveness_rating", {}),
                                       ("ultimatum_solo", {"repeats": 2, "limit": 3, "gen_kwargs": "max_tokens=8"})])
def test_sharded_eval_and_merge_equal_the_unsharded_run(avatars, tmp_path, isolated_cache, capsys, task, args):
    whole = tmp_path / "whole"
    evaluate(model="dummy", tasks=task, dataset=str(avatars), output_path=whole, show_progress=False, **args)
    sharded = tmp_path / "sharded"
    for i in (1, 2, 3):
        evaluate(model="dummy", tasks=task, dataset=str(avatars), output_path=sharded, show_progress=False,
                 shard=(i, 3), **args)
    parts = sorted(run_dir(sharded, task).glob("shard-*-of-3"))
    assert len(parts) == 3
    n = 0
    for i, part in enumerate(parts, 1):  # each part holds exactly the episodes its ids hash to (maybe none)
        ids = [json.loads(line)["episode_id"] for line in (part / "samples.jsonl").read_text().splitlines()]
        assert all(shard_of(e, 3) == i for e in ids)
        assert json.loads((part / "results.json").read_text())["run"]["shard"]["index"] == i
        n += len(ids)
    assert n == json.loads((run_dir(whole, task) / "results.json").read_text())["counts"]["n_episodes"]
    assert main(["merge", *map(str, parts), "--output_path", str(tmp_path / "merged")]) == 0
    merged = run_dir(tmp_path / "merged", task)
    assert (merged / "samples.jsonl").read_bytes() == (run_dir(whole, task) / "samples.jsonl").read_bytes()
    assert comparable(merged / "results.json") == comparable(run_dir(whole, task) / "results.json")
    assert sorted(p.name for p in merged.iterdir() if not p.name.startswith(".")) == \
        sorted(p.name for p in run_dir(whole, task).iterdir() if not p.name.startswith("."))


def test_resume_works_per_shard(avatars, tmp_path, isolated_cache):
    out = tmp_path / "out"
    first = evaluate(model="dummy", tasks="aggressiveness_rating", dataset=str(avatars), output_path=out,
                     show_progress=False, shard=(2, 2))["aggressiveness_rating"]
    again = evaluate(model="dummy", tasks="aggressiveness_rating", dataset=str(avatars), output_path=out,
                     show_progress=False, shard=(2, 2))["aggressiveness_rating"]
    assert again.samples_sha256 == first.samples_sha256 and again.counts.n_episodes == first.counts.n_episodes < 12


def _bad(capsys, argv: list[str]) -> str:
    code = main(argv)
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert err.startswith("vbench: error:") and len(err.splitlines()) == 1 and "Traceback" not in err
    return err


def test_merge_refuses_parts_that_do_not_belong_together(avatars, tmp_path, isolated_cache, capsys):
    out = tmp_path / "out"
    for i in (1, 2):
        evaluate(model="dummy", tasks="aggressiveness_rating", dataset=str(avatars), output_path=out,
                 show_progress=False, shard=(i, 2))
    evaluate(model="dummy", tasks="aggressiveness_rating", dataset=str(avatars), output_path=tmp_path / "seed1",
             show_progress=False, shard=(2, 2), seed=1)
    task_dir = run_dir(out, "aggressiveness_rating")
    one = task_dir / "shard-1-of-2"
    merged = tmp_path / "merged"
    assert "shard 2/2" in _bad(capsys, ["merge", str(one), "--output_path", str(merged)])
    other_seed = run_dir(tmp_path / "seed1", "aggressiveness_rating") / "shard-2-of-2"
    assert "run.seed differs" in _bad(capsys, ["merge", str(one), str(other_seed), "--output_path", str(merged)])
    assert "given twice" in _bad(capsys, ["merge", str(one), str(one), "--output_path", str(merged)])
    # a record moved into the wrong part (hashes fixed up so only the membership check can catch it)
    moved = tmp_path / "moved"
    shutil.copytree(task_dir, moved / "m" / "aggressiveness_rating")
    a, b = moved / "m" / "aggressiveness_rating" / "shard-1-of-2", moved / "m" / "aggressiveness_rating" / "shard-2-of-2"
    line = (b / "samples.jsonl").read_text().splitlines(keepends=True)[0]
    _rewrite(a, (a / "samples.jsonl").read_text() + line)
    assert "belongs to shard 2" in _bad(capsys, ["merge", str(a), str(b), "--output_path", str(merged)])
    assert "not a whole run" not in capsys.readouterr().err
    assert not merged.exists()  # nothing half-written
    assert "between 1 and N" in _bad(capsys, ["eval", "--model", "dummy", "--tasks", "aggressiveness_rating",
                                              "--shard", "3/2"])
    assert "I/N" in _bad(capsys, ["eval", "--model", "dummy", "--tasks", "aggressiveness_rating", "--shard", "x"])


def _rewrite(part: Path, text: str) -> None:
    import hashlib

    (part / "samples.jsonl").write_text(text)
    res = json.loads((part / "results.json").read_text())
    res["samples_sha256"] = hashlib.sha256(text.encode()).hexdigest()
    (part / "results.json").write_text(json.dumps(res))


def test_submit_refuses_a_lone_shard_and_skips_merged_ones(avatars, tmp_path, isolated_cache, capsys):
    out = tmp_path / "out"
    for i in (1, 2):
        evaluate(model="dummy", tasks="aggressiveness_rating", dataset=str(avatars), output_path=out,
                 show_progress=False, shard=(i, 2))
    shard_dir = run_dir(out, "aggressiveness_rating") / "shard-1-of-2"
    err = _bad(capsys, ["submit", str(shard_dir), "--to", str(tmp_path / "ds"), "--dry-run"])
    assert "vbench merge" in err
    assert main(["merge", str(run_dir(out, "aggressiveness_rating")), "--output_path", str(out)]) == 0
    capsys.readouterr()
    assert main(["submit", str(out), "--to", str(tmp_path / "ds"), "--dry-run"]) == 0
    assert "1 file(s) checked" in capsys.readouterr().out
