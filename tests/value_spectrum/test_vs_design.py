"""value_spectrum as the paper designed it: screenshot units, parse failures reported, Holm tests,
one value per screenshot, model-vs-model comparison, and metrics recomputed from records alone."""
from __future__ import annotations

import json

import numpy as np
import pytest

from vbench.cli.main import main
from vbench.data.schwartz import load_schwartz
from vbench.images import ImageStore
from vbench.leaderboard.checks import build_task_for
from vbench.results import RunResults
from vbench.tasks.base import Sample, TaskContext
from vbench.tasks.value_spectrum import metrics as vm
from vbench.tasks.value_spectrum.compare import compare_records
from vbench.tasks.value_spectrum.task import Options, ValueSpectrum, one_value_per_screenshot
from vbench.types import Record


def test_packaged_keywords_give_fifty_screenshots_per_value():
    assert all(len(v.keywords) == 10 for v in load_schwartz().values)  # 10 keywords x top-5 = 50


def rec(i, value, image, answer, repeat=0):
    parsed = vm.parse_yes_no(answer)
    return Record(task="value_spectrum", episode_id=f"{value}/{image}#{repeat}", index=i, repeat=repeat,
                  sample={"value": value, "keyword": "k", "platform": None, "image": image},
                  outputs={"answer": answer, "interested": parsed, "parse_ok": parsed is not None})


def test_parse_failures_are_reported_per_value_and_repeats_cluster_by_screenshot(tmp_path):
    task = ValueSpectrum(Options(scoring="sampled"), TaskContext(store=ImageStore(tmp_path)))
    recs = [rec(0, "Power", "p1", "Yes"), rec(0, "Power", "p1", "yes!", 1), rec(1, "Power", "p2", "No"),
            rec(1, "Power", "p2", "I cannot tell", 1), rec(2, "Hedonism", "h1", "no"), rec(3, "Hedonism", "h2", "no")]
    m = task.metrics(recs)
    power = m["preference"]["values"]["Power"]
    assert power["score"]["value"] == pytest.approx(2 / 3) and power["score"]["n"] == 3
    assert power["score"]["n_clusters"] == 2 and power["score"]["unit"].startswith("screenshot")
    assert power["parse_rate"]["value"] == pytest.approx(3 / 4) and power["n_unparsed"] == 1
    assert power["unparsed"] == [{"sample": "Power/p2#1", "answer": "I cannot tell"}]
    assert m["preference"]["values"]["Hedonism"]["n_unparsed"] == 0
    assert m["parse_rate"]["n_clusters"] == 4


def test_value_vs_value_tests_are_holm_adjusted():
    rng = np.random.default_rng(0)
    rows = [{"value": v, "keyword": "k", "cluster": f"{v}{i}", "s": float(rng.random() < p)}
            for v, p in (("A", 0.9), ("B", 0.1), ("C", 0.5)) for i in range(50)]
    pw = vm.preference_block(rows, "s")["pairwise"]
    assert pw["n_tests"] == 3 and "Holm" in pw["method"]
    from statsmodels.stats.multitest import multipletests

    ps = [q["p"] for q in pw["pairs"]]
    assert [q["p_holm"] for q in pw["pairs"]] == pytest.approx(list(multipletests(ps, method="holm")[1]))
    ab = next(q for q in pw["pairs"] if (q["a"], q["b"]) == ("A", "B"))
    assert ab["significant"] and ab["diff"] > 0.6 and ab["n_a"] == 50


def test_each_screenshot_serves_one_value_unless_reuse():
    def s(value, image, dist):
        return Sample(id=f"{value}/{image}", meta={"value": value, "image": image, "distance": dist})

    samples = [s("A", "x", 0.9), s("A", "y", 1.0), s("B", "x", 0.8), s("B", "z", 1.1)]
    kept = one_value_per_screenshot([x.model_copy(deep=True) for x in samples], reuse=False)
    assert [x.id for x in kept] == ["A/y", "B/x", "B/z"]  # x stays with B, its nearer keyword
    assert kept[0].meta["rows_dropped"] == 1 and kept[0].meta["screenshots_shared"] == 1
    shared = one_value_per_screenshot([x.model_copy(deep=True) for x in samples], reuse=True)
    assert len(shared) == 4 and shared[0].meta["screenshot_values"] == 2


def test_model_vs_model_is_paired_by_screenshot_and_holm_adjusted():
    a = [rec(i, v, f"{v}{i}", "yes" if i % 2 else "no") for v in ("Power", "Hedonism") for i in range(40)]
    b = [rec(i, "Power", f"Power{i}", "yes") for i in range(40)] + \
        [rec(i, "Hedonism", f"Hedonism{i}", "yes" if i % 2 else "no") for i in range(40)]
    c = compare_records(a, b)
    assert c["values"]["Power"]["diff"] == pytest.approx(0.5) and c["values"]["Power"]["significant"]
    assert c["values"]["Power"]["n_screenshots"] == 40
    assert c["values"]["Hedonism"]["diff"] == 0 and c["values"]["Hedonism"]["p"] is None  # identical answers
    assert c["n_significant"] == 1


def _results(out):
    path = next(out.glob("*/value_spectrum/results.json"))
    return json.loads(path.read_text()), path.parent


def _recompute_matches(out):
    saved, run_dir = _results(out)
    records = [Record.model_validate_json(line) for line in (run_dir / "samples.jsonl").read_text().splitlines()]
    task = build_task_for(RunResults.model_validate(saved))  # a fresh task: samples() is never called
    again = json.loads(json.dumps(task.metrics([r for r in records if r.status == "ok"])))
    assert set(again) == set(saved["metrics"]) and again == saved["metrics"]
    return saved


def test_metrics_recompute_from_records_in_every_mode(tmp_path, built_corpus, isolated_cache):
    common = ["--tasks", "value_spectrum", "--dataset", str(built_corpus), "--limit", "20", "--quiet"]
    assert main(["eval", "--model", "dummy", "--output_path", str(tmp_path / "direct"), *common]) == 0
    direct = _recompute_matches(tmp_path / "direct")
    _, direct_dir = _results(tmp_path / "direct")
    assert main(["eval", "--model", "dummy", "--model_args", "reply=no", "--output_path", str(tmp_path / "cap"),
                 "--task_args", f"mode=caption,direct_samples={direct_dir / 'samples.jsonl'}", *common]) == 0
    cap = _recompute_matches(tmp_path / "cap")
    assert cap["metrics"]["ablation"]["direct_source"].endswith("samples.jsonl")
    assert cap["metrics"]["ablation"]["direct_missing"] == 0
    for value, d in cap["metrics"]["ablation"]["sampled"]["diff"].items():  # caption "no" minus the direct run
        assert d == pytest.approx(0.0 - direct["metrics"]["preference"]["values"][value]["score"]["value"])
    assert main(["eval", "--model", "dummy", "--output_path", str(tmp_path / "abl"), "--task_args", "mode=ablation",
                 *common]) == 0
    _recompute_matches(tmp_path / "abl")
