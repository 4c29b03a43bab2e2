"""build → annotate → export → push (folder) → vbench eval on the pushed folder, through the CLI."""
from __future__ import annotations

import json
import statistics

from vbench.annotate.app import create_app
from vbench.annotate.loadtest import _Client
from vbench.annotate.server import ServerThread, open_session
from vbench.cli.main import main


def test_build_annotate_export_push_eval(tiny_sd, tmp_path, run_cli, capsys):
    data, db, pushed = tmp_path / "avatars", tmp_path / "ratings.sqlite", tmp_path / "hub" / "avatars"
    assert main(["data", "build-avatars", "--out", str(data), "--model", str(tiny_sd), "--n", "8", "--batch-size", "4",
                 "--height", "64", "--width", "64", "--steps", "2", "--quiet"]) == 0
    assert "8 generated" in capsys.readouterr().out

    items, store = open_session(str(data), db, ["ana", "ben"], check_every=0)
    votes: dict[str, list[int]] = {}
    links = store.links()  # each rater rates through the key of their personal link
    with ServerThread(create_app(items, store)) as server:
        for rater, offset in (("ana", 0), ("ben", 2)):
            client = _Client(server.url)
            for n, key in enumerate(items.keys[:6]):                 # two images stay unrated
                value = 1 + (n + offset) % 7
                status, _ = client.call("POST", "/api/rate", {"key": links[rater], "item": key, "rating": value})
                assert status == 201
                votes.setdefault(key, []).append(value)
    store.close()

    assert main(["annotate", "export", "--dataset", str(data), "--db", str(db)]) == 0
    assert "6 of 8 images rated (12 ratings from 2 raters)" in capsys.readouterr().out
    assert main(["data", "push", str(data), "--repo", str(pushed)]) == 0

    res = run_cli("eval", "--model", "dummy", "--tasks", "aggressiveness_rating", "--dataset", str(pushed),
                  "--output_path", str(tmp_path / "results"), "--quiet")
    assert res.returncode == 0, res.stderr
    out = tmp_path / "results" / "dummy" / "aggressiveness_rating"
    results = json.loads((out / "results.json").read_text())
    assert results["counts"]["n_samples"] == 8 and results["counts"]["n_error"] == 0
    metrics = results["metrics"]
    assert metrics["pearson_human_expected_rating"]["n"] == 6            # only rated images pair up
    assert metrics["ols_factors"]                                        # factor labels reached the task
    samples = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    by_id = {s["sample"]["id"]: s["sample"] for s in samples}
    for key, given in votes.items():
        assert abs(by_id[key]["human_rating"] - statistics.fmean(given)) < 1e-4
    assert {k for k, s in by_id.items() if s["human_rating"] is None} == set(items.keys[6:])
    assert all(s["sample"]["weapon"] in (0, 1) for s in samples)
