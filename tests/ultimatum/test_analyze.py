"""`vbench analyze ultimatum`: reproduces a run's metrics, re-extracts, audits, rejects bad input clearly."""
from __future__ import annotations

import json

import pytest

import vbench
from vbench.cli.main import main
from vbench.tasks.ultimatum.extraction import RULES, rule_outcomes_many
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
    assert all(o["extractor"] == RULES for t in audited for o in t["outcomes"])
    assert kept["extraction"]["fields_given"] == 30 * 8 and kept["extraction"]["fields_extracted"] == 0
    assert new["extraction"]["fields_given"] == 0 and new["extraction"]["fields_extracted"] == 30 * 8


def _rows(n, seed=2):
    return [g.model_dump(mode="json") for g in simulate_transcripts(n, "pair", seed=seed)]


def _analyze(tmp_path, rows, *flags):
    src = tmp_path / "t.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert main(["analyze", "ultimatum", "--transcripts", str(src), "--output_path", str(tmp_path / "an"), "--quiet",
                 *flags]) == 0
    doc = json.loads((tmp_path / "an" / "ultimatum_pair" / "analysis.json").read_text())
    audited = [json.loads(x) for x in (tmp_path / "an" / "ultimatum_pair" / "transcripts.jsonl").read_text().splitlines()]
    return doc, audited


def test_partial_outcomes_are_kept_and_the_rest_extracted(tmp_path):
    rows = _rows(4)
    rows[0]["outcomes"] = [{"round": 2, "proposer": "b", "offer": 7}]  # accepted not given
    rows[1]["outcomes"] = [{"round": r, "proposer": "ab"[(r + 1) % 2], "offer": 1, "accepted": False}
                           for r in range(1, 5)]
    doc, audited = _analyze(tmp_path, rows, "--keep-outcomes")
    ex = doc["extraction"]
    assert (ex["fields_given"], ex["fields_extracted"]) == (1 + 8, 4 * 8 - 9)
    first = {o["round"]: o for o in audited[0]["outcomes"]}
    assert first[2]["offer"] == 7 and first[2]["accepted"] is not None and first[2]["extractor"] == f"given+{RULES}"
    assert first[1]["extractor"] == RULES and first[1]["offer"] not in (None, 7)
    assert all(o["offer"] == 1 and o["extractor"] == "given" for o in audited[1]["outcomes"])
    assert all(o["extractor"] == RULES for t in audited[2:] for o in t["outcomes"])


def test_impossible_given_labels_are_dropped_and_counted(tmp_path):
    rows = _rows(3)
    rows[0]["outcomes"] = [{"round": 1, "proposer": "a", "offer": 150, "accepted": "maybe"},
                           {"round": 2, "proposer": "b", "offer": -3, "accepted": 1},
                           {"round": 9, "proposer": "a", "offer": 50}, "not an outcome"]
    doc, audited = _analyze(tmp_path, rows, "--keep-outcomes")
    assert doc["extraction"]["dropped_labels"] == {"offer_out_of_range": 2, "accepted_invalid": 1, "outcome_invalid": 2}
    assert doc["extraction"]["fields_given"] == 1  # round 2's accepted=1
    rounds = {o["round"]: o for o in audited[0]["outcomes"]}
    assert rounds[2]["accepted"] is True and 0 <= rounds[1]["offer"] <= 100 and 0 <= rounds[2]["offer"] <= 100
    doc, _ = _analyze(tmp_path, rows)  # re-extraction reads the same file too
    assert doc["extraction"]["dropped_labels"]["offer_out_of_range"] == 2 and doc["extraction"]["fields_given"] == 0


def test_integer_image_ids(tmp_path):
    rows = _rows(2)
    rows[0]["players"]["a"]["image_id"] = 17
    _, audited = _analyze(tmp_path, rows)
    assert audited[0]["players"]["a"]["image_id"] == "17"


def test_no_language_skips_only_the_language_block(tmp_path):
    rows = _rows(40)
    with_lang, _ = _analyze(tmp_path, rows)
    without, _ = _analyze(tmp_path, rows, "--no-language")
    assert without["metrics"]["language"]["skipped"] and without["metrics"]["language"]["n_turns"] == 0
    assert with_lang["metrics"]["language"]["n_turns"] == 40 * 8
    with_lang["metrics"].pop("language"), without["metrics"].pop("language")
    assert with_lang["metrics"] == without["metrics"]


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


def test_windowed_vader_scores_equal_the_stock_analyzer():
    import random

    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    from vbench.analysis.text import sentiment

    vocab = ("I you we not never no least at very kind of sort so this without doubt but good bad great GREAT "
             "terrible fair unfair accept reject happy sad love hate the offer deal is isn't don't hardly "
             "extremely barely insult honor generous greedy yeah right cut me some slack ! ? . , :) :(").split()
    rng = random.Random(7)
    stock = SentimentIntensityAnalyzer()
    texts = [" ".join(rng.choice(vocab) for _ in range(rng.randint(1, 120))) for _ in range(400)]
    assert [sentiment(t) for t in texts] == [stock.polarity_scores(t)["compound"] for t in texts]
