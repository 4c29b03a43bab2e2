"""Every registered task's real output (dummy backend) goes through submit → build with its own charts."""
from __future__ import annotations

import json

import pytest

from tests.leaderboard.conftest import PROPOSE, value_split
from vbench.cli.main import main
from vbench.leaderboard.pack import pack_run
from vbench.registry import TASKS


@pytest.fixture(scope="module")
def task_site(avatars, tmp_path_factory):
    import vbench

    root = tmp_path_factory.mktemp("tasks")
    jobs = {"ultimatum_pair": dict(dataset=str(avatars), repeats=1, task_args="images_per_level=1",
                                   model_args=f"reply={PROPOSE}"),
            "value_spectrum": dict(dataset=str(value_split(root / "split")))}
    if "isq_induction" in TASKS:
        from vbench.tasks.isq_induction.synthetic_corpus import build_synthetic_corpus

        corpus = build_synthetic_corpus(root / "corpus", n_per_value=8, dim=8, seed=0)
        jobs["isq_induction"] = dict(dataset=str(corpus), task_args="trials=1,scrolls=6,n=3,platforms=tiktok")
    ran = []
    for task, kwargs in jobs.items():
        if task not in TASKS:
            continue
        vbench.evaluate(model="dummy", tasks=[task], output_path=root / "out", cache_dir=root / "cache",
                        show_progress=False, **kwargs)
        run_dir = root / "out" / "dummy" / task
        pack_run(run_dir / "results.json")  # every task's metrics() recompute from its records
        assert main(["submit", str(run_dir), "--to", str(root / "ds")]) == 0
        ran.append(task)
    assert main(["leaderboard", "build", "--from", str(root / "ds"), "--out", str(root / "site"), "--no-paper",
                 "--include-synthetic"]) == 0
    return root / "site", ran


@pytest.mark.parametrize("task, chart", [("ultimatum_pair", "coefficients"), ("value_spectrum", "radar"),
                                         ("isq_induction", "curves")])
def test_each_task_gets_its_board_and_chart(task_site, task, chart):
    site, ran = task_site
    assert task in ran
    report = json.loads((site / "report.json").read_text())
    assert not report["rejected"] and report["accepted"] == len(ran)
    (board,) = [b for b in json.loads((site / "tables" / "index.json").read_text()) if b["task"] == task]
    table = json.loads((site / board["json"]).read_text())
    (row,) = table["rows"]
    assert row["recomputed"] and table["sorted_by"] in [c["key"] for c in table["columns"]]
    assert row["metrics"][table["sorted_by"]]["value"] is not None
    charts = list((site / "charts").glob(f"{board['board']}-*-{chart}.svg"))
    assert charts, f"no {chart} chart for {task}"
    svg = charts[0].read_text()
    assert "<polygon" in svg or 'class="bar"' in svg or 'class="curve"' in svg
