"""The contract every task keeps with the leaderboard: metrics() is a pure function of options and records.

Each task runs end to end on the dummy backend; the leaderboard recomputes the metrics from the packed
records alone (no samples(), no dataset) and the result must equal results.json exactly, key for key.
"""
from __future__ import annotations

import json

import pytest

from tests.leaderboard.conftest import PROPOSE, value_split
from vbench.leaderboard.checks import check_submission, diff
from vbench.leaderboard.pack import assemble
from vbench.leaderboard.schema import Limits
from vbench.registry import TASKS

CASES = [
    pytest.param("aggressiveness_rating", {}, id="aggressiveness_rating"),
    pytest.param("ultimatum_solo", {"repeats": 1, "model_args": f"reply={PROPOSE}"}, id="ultimatum_solo"),
    pytest.param("ultimatum_pair", {"repeats": 1, "task_args": "images_per_level=1", "model_args": f"reply={PROPOSE}"},
                 id="ultimatum_pair"),
    pytest.param("value_spectrum", {}, id="value_spectrum"),
    pytest.param("value_spectrum", {"task_args": "mode=ablation"}, id="value_spectrum-ablation"),
    pytest.param("value_spectrum", {"task_args": "mode=caption,direct_samples={direct}"},
                 id="value_spectrum-caption-vs-direct-run"),
    pytest.param("isq_induction", {"task_args": "trials=1,scrolls=6,n=3,platforms=tiktok"}, id="isq_induction"),
]


@pytest.fixture(scope="module")
def data(avatars, tmp_path_factory):
    root = tmp_path_factory.mktemp("contract")
    out = {"avatars": avatars, "screenshots": value_split(root / "split")}
    if "isq_induction" in TASKS:
        from vbench.tasks.isq_induction.synthetic_corpus import build_synthetic_corpus

        out["corpus"] = build_synthetic_corpus(root / "corpus", n_per_value=8, dim=8, seed=0)
    return out


@pytest.mark.parametrize("task, kwargs", CASES)
def test_leaderboard_recomputes_results_json_exactly(task, kwargs, data, tmp_path):
    import vbench

    if task not in TASKS:
        pytest.skip(f"{task} is not registered in this checkout")
    dataset = {"value_spectrum": data["screenshots"], "isq_induction": data.get("corpus")}.get(task, data["avatars"])
    if "{direct}" in kwargs.get("task_args", ""):  # the caption mode compared with an earlier direct run
        vbench.evaluate(model="dummy", tasks=[task], dataset=str(dataset), output_path=tmp_path / "direct",
                        cache_dir=tmp_path / "cache", show_progress=False)
        (direct,) = (tmp_path / "direct").rglob("samples.jsonl")
        kwargs = {**kwargs, "task_args": kwargs["task_args"].format(direct=direct)}
    vbench.evaluate(model="dummy", tasks=[task], dataset=str(dataset), output_path=tmp_path / "out",
                    cache_dir=tmp_path / "cache", show_progress=False, **kwargs)
    (results_path,) = (tmp_path / "out").rglob("results.json")
    submitted = json.loads(results_path.read_text())["metrics"]
    checked = check_submission(assemble(results_path, Limits()), Limits())
    assert checked.ok, checked.reasons
    assert checked.recomputed and checked.metrics is not None
    assert diff(submitted, checked.metrics) == []
    canonical = lambda m: json.dumps(m, sort_keys=True)  # noqa: E731
    assert canonical(checked.metrics) == canonical(submitted)  # exactly, not just within tolerance


def test_the_comparison_sees_keys_on_one_side_only():
    assert diff({"a": {"value": 1.0}}, {"a": {"value": 1.0}, "design": {"pools": 3}}) == \
        ["design: recomputed but missing from the submission"]
    assert diff({"a": {"value": 1.0, "ci_low": 0.5}}, {"a": {"value": 1.0}}) == ["a.ci_low: submitted but not recomputed"]
    assert diff({"a": {"value": 1.0, "ci_low": 0.5}}, {"a": {"value": 1.0, "ci_low": 0.6}}) == \
        ["a.ci_low: submitted 0.5, recomputed 0.6"]
