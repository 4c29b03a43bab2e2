"""isq_induction on a tiny random LLaVA through the transformers runner (real log-prob choices)."""
from __future__ import annotations

import pytest

from vbench.evaluator import evaluate
from vbench.types import Record


def test_tiny_vlm_end_to_end(tiny_llava, feed_corpus, tmp_path):
    pytest.importorskip("transformers")
    kw = dict(model="hf", model_args=f"pretrained={tiny_llava},device=cpu", tasks=["isq_induction"],
              dataset=str(feed_corpus), task_args={"trials": 1, "scrolls": 2, "n": 1, "platforms": "tiktok"},
              output_path=tmp_path / "out", cache_dir=tmp_path / "cache", show_progress=False)
    res = evaluate(**kw)["isq_induction"]
    assert res.counts.n_error == 0 and res.counts.n_ok == 3
    assert res.counts.scheduler_steps == 2 and res.counts.model_calls == 2 * (1 + 1 + 6)
    (out,) = {p.parent for p in (tmp_path / "out").glob("*/isq_induction/results.json")}
    records = [Record.model_validate_json(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    for r in records:
        assert all(t.method == "logprobs" and abs(sum(t.probs.values()) - 1) < 1e-6 for t in r.turns)
        scores = r.outputs["scores"]
        if r.sample["strategy"] == "isq":
            assert all(100 * 4 / 60 - 1e-9 <= s <= 100 + 1e-9 for s in scores)
            assert r.outputs["watched"] == [int(s > 60) for s in scores]
        else:
            assert all(0 <= s <= 1 for s in scores) and r.outputs["watched"] == [int(s > 0.5) for s in scores]
    assert (out / "isq_curves.png").exists()
    again = evaluate(**kw)["isq_induction"]
    assert again.counts.model_calls == 0 and again.metrics == res.metrics
