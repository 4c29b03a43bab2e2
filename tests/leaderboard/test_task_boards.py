"""Every registered task's real output (dummy backend) goes through submit → build with its own charts."""
from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from PIL import Image

from vbench.cli.main import main
from vbench.leaderboard import views
from vbench.registry import TASKS

PROPOSE = "I propose $70 for me and $30 for you. I accept your proposal."


def _value_split(folder: Path) -> Path:
    """A tiny value-labelled screenshot split (imagefolder) in the value_spectrum layout."""
    folder.mkdir(parents=True)
    rng, rows = random.Random(0), []
    for vi, (key, label, _) in enumerate(views.SCHWARTZ):
        for j in range(2):
            name = f"{key}_{j}.png"
            Image.new("RGB", (24, 24), (vi * 20, j * 90, 120)).save(folder / name)
            rows.append({"file_name": name, "value": label, "keyword": f"kw{j}", "rank": j, "distance": 0.5,
                         "platform": rng.choice(["tiktok", "youtube"])})
    (folder / "metadata.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return folder


@pytest.fixture(scope="module")
def task_site(avatars, tmp_path_factory):
    import vbench

    root = tmp_path_factory.mktemp("tasks")
    jobs = {"ultimatum_pair": dict(dataset=str(avatars), repeats=1, task_args="images_per_level=1",
                                   model_args=f"reply={PROPOSE}"),
            "value_spectrum": dict(dataset=str(_value_split(root / "split")))}
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
        ran.append(task)
    assert main(["submit", str(root / "out"), "--to", str(root / "ds")]) == 0
    assert main(["leaderboard", "build", "--from", str(root / "ds"), "--out", str(root / "site"), "--no-paper"]) == 0
    return root / "site", ran


@pytest.mark.parametrize("task, chart", [("ultimatum_pair", "kiss-up"), ("value_spectrum", "radar"),
                                         ("isq_induction", "isq-gain")])
def test_each_task_gets_its_board_and_chart(task_site, task, chart):
    site, ran = task_site
    if task not in ran:
        pytest.skip(f"task {task} is not registered in this checkout")
    report = json.loads((site / "report.json").read_text())
    assert not report["rejected"] and report["accepted"] == len(ran)
    (board,) = [b for b in json.loads((site / "tables" / "index.json").read_text()) if b["task"] == task]
    table = json.loads((site / board["json"]).read_text())
    (row,) = table["rows"]
    assert row["recomputed"] and table["sorted_by"] in table["columns"]
    assert row["metrics"][table["sorted_by"]]["value"] is not None
    charts = list((site / "charts").glob(f"{board['board']}-*-{chart}.svg"))
    assert charts, f"no {chart} chart for {task}"
    assert "<polygon" in charts[0].read_text() or 'class="bar"' in charts[0].read_text()
