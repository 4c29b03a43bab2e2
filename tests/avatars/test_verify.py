"""Factor verification: choose yes/no requests through the scheduler, agreement and flags."""
from __future__ import annotations

import importlib.util
import json

import pytest

from vbench.data.avatars.builder import read_rows
from vbench.data.avatars.verify import REPORT, summarize, verify_avatars
from vbench.errors import UsageError


def test_summarize_flags_factors_that_did_not_render():
    rows = [{"id": "a", "weapon": 1, "smile": 0}, {"id": "b", "weapon": 1, "smile": 1},
            {"id": "c", "weapon": 0, "smile": 1}, {"id": "d", "weapon": 0, "smile": 0}]
    probs = {"a": {"weapon": 0.9, "smile": 0.2}, "b": {"weapon": 0.1, "smile": 0.3},
             "c": {"weapon": 0.7, "smile": 0.8}, "d": {"weapon": 0.2, "smile": None}}
    agreement, flagged = summarize(rows, probs, ["weapon", "smile"], threshold=0.5)
    assert flagged == {"b": ["weapon", "smile"]}
    assert agreement["weapon"].agreement.value == 0.5 and agreement["weapon"].agreement.n == 4
    assert (agreement["weapon"].not_rendered, agreement["weapon"].unwanted) == (1, 1)
    assert agreement["smile"].agreement.n == 3          # a missing answer is left out, not counted as "no"
    assert agreement["smile"].agreement.value == pytest.approx(2 / 3)
    perfect, _ = summarize(rows[:2] + rows[3:], {"a": {"weapon": 1.0}, "b": {"weapon": 1.0}, "d": {"weapon": 0.0}},
                           ["weapon"], 0.5)
    assert perfect["weapon"].kappa == pytest.approx(1.0)


def test_verify_runs_through_the_scheduler_and_cache(built_avatars, fresh_copy, isolated_cache):
    out = fresh_copy(built_avatars)
    report = verify_avatars(out, "dummy", factors=["weapon", "smile"], progress=False)
    rows = read_rows(out)
    assert report.images == len(rows) and report.errors == 0 and set(report.factors) == {"weapon", "smile"}
    for r in rows:  # the written columns and the flags agree with each other and with the labels
        assert 0.0 <= r["vlm_p_weapon"] <= 1.0
        expected = [f for f in ("weapon", "smile") if r[f] == 1 and r[f"vlm_p_{f}"] < 0.5]
        assert r["factor_flags"] == expected
        assert report.flagged.get(r["id"], []) == expected
    saved = json.loads((out / REPORT).read_text())
    assert saved["factors"]["weapon"]["agreement"]["n"] == len(rows)
    from vbench.runners.cache import ResponseCache

    cache = ResponseCache(isolated_cache / "cache.sqlite")
    assert len(cache) == 2 * len(rows)                  # one cached choose answer per image and factor
    cache.close()
    again = verify_avatars(out, "dummy", factors=["weapon", "smile"], progress=False)
    assert again.model_dump() == report.model_dump()


def test_a_build_grown_after_verification_still_loads(built_avatars, fresh_copy, isolated_cache, tiny_sd, small):
    from vbench.data.avatars.builder import BuildSpec, build_avatars
    from vbench.data.loading import load_rows

    out = fresh_copy(built_avatars)
    verify_avatars(out, "dummy", factors=["weapon"], progress=False)
    build_avatars(out, BuildSpec(model_id=str(tiny_sd), **{**small, "n": small["n"] + 2}), batch_size=2, progress=False)
    ds = load_rows(str(out))
    assert len(ds) == small["n"] + 2
    assert sum(p is None for p in ds["vlm_p_weapon"]) == 2        # the new images are not verified yet


@pytest.mark.skipif(importlib.util.find_spec("vbench.runners.hf") is None,
                    reason="the transformers runner (vbench/runners/hf.py) is not on this branch yet")
def test_verify_with_a_real_local_vlm(built_avatars, fresh_copy, isolated_cache, tiny_llava):
    out = fresh_copy(built_avatars)
    report = verify_avatars(out, "hf", f"pretrained={tiny_llava}", factors=["weapon"], progress=False)
    assert report.errors == 0 and report.factors["weapon"].agreement.n == len(read_rows(out))


def test_verify_bad_input(built_avatars, tmp_path, isolated_cache):
    with pytest.raises(UsageError, match="unknown factor 'hat'"):
        verify_avatars(built_avatars, "dummy", factors=["hat"], progress=False)
    with pytest.raises(UsageError, match="not an avatar build folder"):
        verify_avatars(tmp_path, "dummy", progress=False)
