"""Whole tasks through the evaluator on the real engine: multi-turn ultimatum games end to end."""
from __future__ import annotations

import json

import pytest

from vbench import evaluator

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def avatars4(tmp_path_factory):
    from vbench.data.synthetic import build_synthetic_avatars

    return build_synthetic_avatars(tmp_path_factory.mktemp("data") / "avatars", n=4, seed=0)


def test_ultimatum_solo_games_run_on_vllm_end_to_end(vllm_runner, avatars4, tmp_path, monkeypatch):
    # the session's engine, handed in as a Runner instance: used on the run's image store, closed by its fixture
    monkeypatch.setattr(vllm_runner, "store", vllm_runner.store)  # restored afterwards
    before = vllm_runner.calls
    res = evaluator.evaluate(vllm_runner, tasks="ultimatum_solo", dataset=str(avatars4), limit=3, repeats=1,
                             gen_kwargs="max_tokens=16", output_path=tmp_path / "out", cache_dir=tmp_path / "cache",
                             show_progress=False)["ultimatum_solo"]
    assert res.model.backend == "vllm" and vllm_runner.calls > before
    [samples] = list((tmp_path / "out").rglob("samples.jsonl"))
    records = [json.loads(line) for line in samples.read_text().splitlines() if line.strip()]
    assert len(records) == 3
    for rec in records:  # each game: several turns, each answered by the engine
        turns = rec["turns"]
        assert len(turns) >= 2 and all(t.get("response") is not None or t.get("probs") for t in turns)
