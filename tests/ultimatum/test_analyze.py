"""`vbench analyze ultimatum`: reproduces a run's metrics, re-extracts, audits, rejects bad input clearly."""
from __future__ import annotations

import json

import pytest

import vbench
from vbench.cli.main import main
from vbench.tasks.ultimatum.extraction import rule_outcomes_many
from vbench.tasks.ultimatum.metrics import compute_metrics
from vbench.tasks.ultimatum.simulate import simulate_transcripts
from vbench.tasks.ultimatum.transcripts import Outcome, dump_jsonl, load_transcripts


@pytest.mark.parametrize("task, task_args", [("ultimatum_solo", ""), ("ultimatum_pair", "images_per_level=2")])
def test_analyze_reproduces_the_run_metrics_exactly(tmp_path, avatars, task, task_args, capsys):
    # random dummy answers: many forms, parse failures, rejections and acceptances all occur
    vbench.evaluate(model="dummy", tasks=[task], dataset=str(avatars), repeats=2, task_args=task_args,
                    output_path=tmp_path / "out", cache_dir=tmp_path / "cache", show_progress=False)
    run = tmp_path / "out" / "dummy" / task
    assert main(["analyze", "ultimatum", "--transcripts", str(run / "samples.jsonl"),
                 "--output_path", str(tmp_path / "an")]) == 0
    assert "vbench analyze ultimatum" in capsys.readouterr().out
    doc = json.loads((tmp_path / "an" / task / "analysis.json").read_text())
    results = json.loads((run / "results.json").read_text())
    assert doc["metrics"] == results["metrics"]
    assert doc["counts"]["n_games"] == results["counts"]["n_ok"]
    written = [json.loads(x) for x in (tmp_path / "an" / task / "transcripts.jsonl").read_text().splitlines()]
    assert len(written) == results["counts"]["n_ok"] and all(len(t["outcomes"]) == 4 for t in written)


def _write(path, transcripts):
    path.write_text(dump_jsonl(transcripts))
    return path


def test_kiss_up_kick_down_is_recovered_from_transcripts(tmp_path):
    src = _write(tmp_path / "t.jsonl", simulate_transcripts(700, "pair", seed=3, own_effect=3, opponent_effect=-2))
    assert main(["analyze", "ultimatum", "--transcripts", str(src), "--output_path", str(tmp_path / "an"), "--quiet"]) == 0
    m = json.loads((tmp_path / "an" / "ultimatum_pair" / "analysis.json").read_text())["metrics"]
    own, opp = m["kiss_up_kick_down"]["own_level"], m["kiss_up_kick_down"]["opponent_level"]
    assert own["ci_low"] < 3 < own["ci_high"] and opp["ci_low"] < -2 < opp["ci_high"]
    assert m["extraction"]["offer_coverage"]["value"] > 0.97
    we = m["language"]["pronouns_per_turn"]["we"]["by_level"]
    assert we["1"]["value"] > we["7"]["value"]
    assert m["offer_matrix"]["7"]["1"] > m["offer_matrix"]["1"]["7"]


def _extracted(games):
    rule_outcomes_many(games)
    return games


def test_solo_metrics_from_simulated_games():
    m = compute_metrics(_extracted(simulate_transcripts(500, "solo", seed=5, own_effect=4)), "solo")
    slope = m["offer_level_slope"]
    assert slope["ci_low"] < 4 < slope["ci_high"]
    acc = m["acceptance_of_confederate_offer"]
    assert acc["50"]["value"] == 1.0 and 0.35 < acc["75"]["value"] < 0.65
    assert "kiss_up_kick_down" not in m


def test_two_models_get_a_breakdown():
    m = compute_metrics(_extracted(simulate_transcripts(60, "pair", seed=1, models=("m1", "m2"))), "pair")
    assert set(m["by_model"]) == {"m1", "m2"}
    assert m["by_model"]["m1"]["mean_offer"]["n"] + m["by_model"]["m2"]["mean_offer"]["n"] == m["mean_offer"]["n"]


def test_keep_outcomes_versus_reextraction(tmp_path):
    games = simulate_transcripts(30, "pair", seed=2)
    for g in games:
        g.outcomes = [Outcome(round=r, proposer="a" if r % 2 else "b", offer=99, accepted=False) for r in range(1, 5)]
    src = _write(tmp_path / "t.jsonl", games)
    main(["analyze", "ultimatum", "--transcripts", str(src), "--output_path", str(tmp_path / "kept"), "--keep-outcomes", "--quiet"])
    main(["analyze", "ultimatum", "--transcripts", str(src), "--output_path", str(tmp_path / "new"), "--quiet"])
    kept = json.loads((tmp_path / "kept" / "ultimatum_pair" / "analysis.json").read_text())
    new = json.loads((tmp_path / "new" / "ultimatum_pair" / "analysis.json").read_text())
    assert kept["metrics"]["mean_offer"]["value"] == 99 and kept["extraction"]["mode"] == "kept"
    assert new["metrics"]["mean_offer"]["value"] != 99
    audited = [json.loads(x) for x in (tmp_path / "new" / "ultimatum_pair" / "transcripts.jsonl").read_text().splitlines()]
    assert all(o["extractor"] == "rules/1" for t in audited for o in t["outcomes"])


def test_judge_extraction_in_analyze(tmp_path):
    src = _write(tmp_path / "t.jsonl", simulate_transcripts(5, "pair", seed=2))
    assert main(["analyze", "ultimatum", "--transcripts", str(src), "--output_path", str(tmp_path / "an"), "--quiet",
                 "--judge-model", "dummy", "--judge-args", "reply=0", "--cache-dir", str(tmp_path / "cache")]) == 0
    doc = json.loads((tmp_path / "an" / "ultimatum_pair" / "analysis.json").read_text())
    assert doc["extraction"]["mode"] == "judge" and doc["metrics"]["extraction"]["extractors"] == ["judge"]
    assert doc["metrics"]["mean_offer"]["value"] == 0 and doc["metrics"]["acceptance_rate"]["value"] == 0


def test_errored_records_are_counted(tmp_path):
    games = simulate_transcripts(3, "pair", seed=2)
    lines = [json.dumps({"task": "ultimatum_pair", "episode_id": g.game_id, "index": i, "status": "ok",
                         "outputs": {"transcript": g.model_dump(mode="json")}}) for i, g in enumerate(games)]
    lines.append(json.dumps({"task": "ultimatum_pair", "episode_id": "x", "index": 3, "status": "error", "outputs": {}}))
    (tmp_path / "s.jsonl").write_text("\n".join(lines) + "\n")
    loaded = load_transcripts([tmp_path / "s.jsonl"])
    assert len(loaded.transcripts) == 3 and loaded.errored_games == 1


def _bad(tmp_path, mutate, capsys):
    game = simulate_transcripts(2, "pair", seed=2)
    rows = [g.model_dump(mode="json") for g in game]
    mutate(rows[1])
    src = tmp_path / "bad.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    code = main(["analyze", "ultimatum", "--transcripts", str(src), "--output_path", str(tmp_path / "an")])
    err = capsys.readouterr().err
    assert code == 2 and not (tmp_path / "an").exists()
    assert err.count("\n") == 1 and f"{src}:2 (game sim-000001)" in err
    return err


def test_missing_field(tmp_path, capsys):
    assert "field players.b is missing" in _bad(tmp_path, lambda r: r["players"].pop("b"), capsys)


def test_wrong_type(tmp_path, capsys):
    err = _bad(tmp_path, lambda r: r["turns"][0].update(round="one"), capsys)
    assert "field turns.0.round" in err and '"one"' in err


def test_unknown_level(tmp_path, capsys):
    err = _bad(tmp_path, lambda r: r["players"]["a"].update(level=9), capsys)
    assert "players.a.level: 9 is not a known level (1-7)" in err


def test_inconsistent_turns(tmp_path, capsys):
    def twice(r):
        r["turns"][1]["role"] = "proposer"
    assert "round 1 has two proposer turns" in _bad(tmp_path, twice, capsys)


def test_not_json(tmp_path, capsys):
    src = tmp_path / "x.jsonl"
    src.write_text('{"game_id": "g"}\n{oops\n')
    assert main(["analyze", "ultimatum", "--transcripts", str(src)]) == 2
    err = capsys.readouterr().err
    assert f"{src}:1 (game g): field players is missing" in err


def test_samples_of_another_task(tmp_path, capsys):
    src = tmp_path / "s.jsonl"
    src.write_text(json.dumps({"episode_id": "e1", "status": "ok", "outputs": {"rating": 3}}) + "\n")
    assert main(["analyze", "ultimatum", "--transcripts", str(src)]) == 2
    assert "outputs.transcript is missing" in capsys.readouterr().err
