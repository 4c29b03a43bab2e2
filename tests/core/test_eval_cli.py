"""`vbench eval` end to end: outputs, resume, bad input (exit 2, nothing written)."""
import json
import shutil

import jsonlines
import pytest

from vbench.cli.main import main
from vbench.evaluator import evaluate


def _eval_args(model_dir, data, out, *extra):
    return ["eval", "--model", "hf", "--model_args", f"pretrained={model_dir},dtype=float32,device=cpu",
            "--tasks", "aggressiveness_rating", "--dataset", str(data), "--output_path", str(out), "--quiet", *extra]


def test_eval_writes_results_and_samples(tiny_llava, avatars, tmp_path, isolated_cache):
    out = tmp_path / "out"
    assert main(_eval_args(tiny_llava, avatars, out)) == 0
    (run_dir,) = [p for p in out.iterdir()]
    res = json.loads((run_dir / "aggressiveness_rating" / "results.json").read_text())
    assert res["task"]["name"] == "aggressiveness_rating" and len(res["task"]["prompt_set_hash"]) == 16
    assert res["model"]["backend"] == "hf" and res["counts"]["n_ok"] == 12
    assert res["counts"]["model_calls"] == 24  # one generate + one choose per sample
    m = res["metrics"]
    assert 1 <= m["mean_expected_rating"]["value"] <= 7
    assert m["mean_expected_rating"]["ci_low"] <= m["mean_expected_rating"]["value"] <= m["mean_expected_rating"]["ci_high"]
    assert m["pearson_human_expected_rating"]["n"] == 12
    # the headline (sampled rating) rarely parses on a random tiny model; the expected rating's OLS sits beside it
    assert m["primary_score"] == "rating" and m["ols_factors"]["n"] == m["pearson_human_rating"]["n"]
    assert set(m["ols_factors_expected_rating"]["coef"]) >= {"const", "weapon", "smile"}
    records = list(jsonlines.open(run_dir / "aggressiveness_rating" / "samples.jsonl"))
    assert [r["index"] for r in records] == list(range(12))
    assert all("base64" not in json.dumps(r) for r in records)  # images by hash only
    assert len(records[0]["sample"]["image"]) == 64


def test_rerun_is_served_from_cache_without_loading_the_model(tiny_llava, avatars, tmp_path, isolated_cache, monkeypatch,
                                                              capsys):
    out = tmp_path / "out"
    first = evaluate(model="hf", model_args=f"pretrained={tiny_llava}", tasks="aggressiveness_rating",
                     dataset=str(avatars), output_path=out, show_progress=False)["aggressiveness_rating"]
    from vbench.runners import hf

    def no_load(self):
        raise AssertionError("model weights were loaded on a fully cached re-run")

    monkeypatch.setattr(hf.HFRunner, "_load", no_load)
    # a different output folder: nothing to skip, everything must come from the response cache
    again = evaluate(model="hf", model_args=f"pretrained={tiny_llava}", tasks="aggressiveness_rating",
                     dataset=str(avatars), output_path=tmp_path / "out2", show_progress=False)["aggressiveness_rating"]
    assert again.counts.model_calls == 0 and again.counts.cache_hits == 24
    assert again.metrics == first.metrics
    # the same command again: finished episodes are skipped outright; counts describe the whole run
    third = evaluate(model="hf", model_args=f"pretrained={tiny_llava}", tasks="aggressiveness_rating",
                     dataset=str(avatars), output_path=out, show_progress=True)["aggressiveness_rating"]
    assert (third.counts.model_calls, third.counts.cache_hits) == (first.counts.model_calls, first.counts.cache_hits)
    assert third.metrics == first.metrics
    assert "resumed: 12 episodes from samples.jsonl, 0 cached responses, 0 model calls" in capsys.readouterr().err


def test_gen_kwargs_and_seed_are_recorded(avatars, tmp_path, isolated_cache):
    res = evaluate(model="dummy", tasks=["aggressiveness_rating"], dataset=str(avatars), output_path=tmp_path,
                   gen_kwargs="temperature=0.7,max_tokens=3", seed=7, limit=4, show_progress=False)
    run = res["aggressiveness_rating"].run
    assert run.gen_kwargs == {"temperature": 0.7, "max_tokens": 3} and run.seed == 7 and run.limit == 4
    samples = list(jsonlines.open(next(tmp_path.glob("*/aggressiveness_rating/samples.jsonl"))))
    assert len(samples) == 4


def _bad(capsys, args, tmp_path):
    code = main(args)
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert err.startswith("vbench: error:") and len(err.splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "out").exists()  # nothing written
    return err


def test_bad_input_gives_one_line_and_exit_2(avatars, tiny_llava, tmp_path, capsys, isolated_cache):
    out = tmp_path / "out"
    base = ["eval", "--model", "dummy", "--tasks", "aggressiveness_rating", "--dataset", str(avatars),
            "--output_path", str(out), "--quiet"]
    assert "Did you mean 'aggressiveness_rating'" in _bad(capsys, [*base[:4], "aggresive_rating", *base[5:]], tmp_path)
    assert "Did you mean 'dummy'" in _bad(capsys, ["eval", "--model", "dumy", *base[3:]], tmp_path)
    assert "key=value" in _bad(capsys, [*base, "--model_args", "reply"], tmp_path)
    assert "unknown key 'temp'" in _bad(capsys, [*base, "--gen_kwargs", "temp=1"], tmp_path)
    assert "unknown key 'scoring_mode'" in _bad(capsys, [*base, "--task_args", "scoring_mode=x"], tmp_path)
    assert "no such folder" in _bad(capsys, _eval_args(tmp_path / "no-model", avatars, out), tmp_path)
    assert "--limit" in _bad(capsys, [*base, "--limit", "0"], tmp_path)
    # a dataset without the image column
    nocol = tmp_path / "nocol.parquet"
    import pandas as pd

    pd.DataFrame({"human_rating": [1.0, 2.0]}).to_parquet(nocol)
    assert "no column 'image'" in _bad(capsys, [*base[:5], "--dataset", str(nocol), *base[7:]], tmp_path)
    assert "no such folder" in _bad(capsys, [*base[:5], "--dataset", str(tmp_path / "nowhere"), *base[7:]], tmp_path)


def test_corrupt_and_missing_images(avatars, tmp_path, capsys, isolated_cache):
    data = tmp_path / "data"
    shutil.copytree(avatars, data)
    (data / "persona_0003.png").write_bytes(b"not a png")
    (data / "persona_0005.png").unlink()
    base = ["eval", "--model", "dummy", "--tasks", "aggressiveness_rating", "--dataset", str(data),
            "--output_path", str(tmp_path / "out"), "--quiet"]
    err = _bad(capsys, base, tmp_path)
    assert "persona_0003.png" in err and "corrupt" in err and "--skip_bad_samples" in err
    assert main([*base, "--skip_bad_samples"]) == 0
    res = json.loads(next((tmp_path / "out").glob("*/aggressiveness_rating/results.json")).read_text())
    assert res["counts"]["n_skipped_samples"] == 2 and res["counts"]["n_ok"] == 10
    assert {s["sample"] for s in res["skipped_samples"]} == {"persona_0003.png", "persona_0005.png"}


def test_unparseable_answers_are_counted_not_fatal(avatars, tmp_path, isolated_cache):
    res = evaluate(model="dummy", model_args="reply=I would rather not say", tasks="aggressiveness_rating",
                   dataset=str(avatars), output_path=tmp_path, task_args="scoring=sampled", show_progress=False)
    r = res["aggressiveness_rating"]
    assert r.counts.n_ok == 12 and r.counts.parse_failure_rate == 1.0
    assert r.metrics["mean_rating"]["value"] is None


def test_different_run_in_same_folder_is_refused(avatars, tmp_path, capsys, isolated_cache):
    base = ["eval", "--model", "dummy", "--tasks", "aggressiveness_rating", "--dataset", str(avatars),
            "--output_path", str(tmp_path / "o"), "--quiet"]
    assert main(base) == 0
    assert main([*base, "--seed", "3"]) == 2
    assert "different run" in capsys.readouterr().err
    assert main([*base, "--seed", "3", "--overwrite"]) == 0


@pytest.mark.parametrize("what", ["tasks", "models", "metrics"])
def test_ls(what, capsys):
    assert main(["ls", what]) == 0
    out = capsys.readouterr().out
    assert {"tasks": "aggressiveness_rating", "models": "hf", "metrics": "spearman"}[what] in out


def test_call_counts_add_up_invocations_and_start_over_with_the_output(avatars, tmp_path, isolated_cache):
    """counts.model_calls / cache_hits cover every invocation of one output folder; --overwrite or a deleted
    folder starts them from zero, although the response cache still holds the earlier tallies."""
    out = tmp_path / "o"
    base = ["eval", "--model", "dummy", "--tasks", "aggressiveness_rating", "--dataset", str(avatars),
            "--output_path", str(out), "--quiet"]

    def counts() -> tuple[int, int]:
        res = json.loads(next(out.glob("*/aggressiveness_rating/results.json")).read_text())
        return res["counts"]["model_calls"], res["counts"]["cache_hits"]

    assert main(base) == 0
    first = counts()
    assert first[0] > 0 and first[1] == 0
    assert main(base) == 0 and counts() == first  # a finished run re-run: nothing asked, nothing added
    assert main([*base, "--overwrite"]) == 0 and counts() == (0, first[0])  # all from the cache, counted anew
    shutil.rmtree(out)
    assert main(base) == 0 and counts() == (0, first[0])
