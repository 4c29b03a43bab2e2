"""The transformers runner on tiny random LLaVA- and Qwen2-VL-type models built offline."""
import math

import pytest
import torch
from PIL import Image

from vbench.args import validate_args
from vbench.errors import UsageError, VbenchError
from vbench.images import ImageStore
from vbench.runners.hf import HFArgs, HFRunner
from vbench.types import GenParams, ImagePart, Message, Request


@pytest.fixture
def store(tmp_path):
    return ImageStore(tmp_path / "img")


def _requests(store, n=3, kind="generate", **gen):
    reqs = []
    for i in range(n):
        part = ImagePart(image=store.put_image(Image.new("RGB", (40 + 8 * i, 48), (30 * i, 90, 200))))
        msgs = (Message.system("Rate it."), Message.user(part, f"picture {i}"))
        if kind == "choose":
            reqs.append(Request(kind="choose", messages=msgs, options=("1", "2", "3", "yes"), gen=GenParams(seed=i)))
        else:
            reqs.append(Request(messages=msgs, gen=GenParams(max_tokens=6, seed=i, **gen)))
    return reqs


@pytest.mark.parametrize("model_fixture", ["tiny_llava", "tiny_qwen2vl"])
def test_generate_batch_and_choose(model_fixture, request, store):
    path = request.getfixturevalue(model_fixture)
    runner = HFRunner(HFArgs(pretrained=str(path), dtype="float32", device="cpu"), store=store, batch_size=4)
    gen = runner.run(_requests(store, 3))
    assert all(r.ok and isinstance(r.text, str) for r in gen)
    assert all(r.usage["completion_tokens"] <= 6 for r in gen)
    ch = runner.run(_requests(store, 3, kind="choose"))
    for r in ch:
        assert r.ok and r.method == "logprobs"
        assert set(r.probs) == {"1", "2", "3", "yes"}
        assert math.isclose(sum(r.probs.values()), 1.0, rel_tol=1e-6)
        assert 0 < r.option_mass <= 1.0


def test_choose_matches_model_next_token_distribution(tiny_llava, store):
    runner = HFRunner(HFArgs(pretrained=str(tiny_llava), device="cpu"), store=store)
    req = _requests(store, 1, kind="choose")[0]
    got = runner.run([req])[0]
    # recompute by hand for the single-token digits, pooling all their surface variants
    inputs = runner._encode([req])
    with torch.inference_mode():
        lp = torch.log_softmax(runner._model(**inputs).logits[0, -1].float(), -1)
    tok = runner.tokenizer
    raw = {}
    for o in ("1", "2", "3"):
        ids = {tuple(tok.encode(v, add_special_tokens=False)) for v in (o, " " + o)}
        raw[o] = sum(math.exp(lp[i[0]]) for i in ids if len(i) == 1)
    ratios = [got.probs[o] / got.probs["1"] for o in ("2", "3")]
    expected = [raw[o] / raw["1"] for o in ("2", "3")]
    assert ratios == pytest.approx(expected, rel=1e-4)


def test_sampling_is_reproducible_with_seeds(tiny_llava, store):
    runner = HFRunner(HFArgs(pretrained=str(tiny_llava), device="cpu"), store=store)
    reqs = _requests(store, 2, temperature=1.0)
    first = [r.text for r in runner.run(reqs)]
    again = [r.text for r in runner.run(reqs)]
    other = [r.text for r in runner.run([r.model_copy(update={"gen": r.gen.model_copy(update={"seed": r.gen.seed + 99})})
                                         for r in reqs])]
    assert first == again
    assert other != first


def test_lazy_loading_and_clear_errors(tmp_path, store):
    runner = HFRunner(HFArgs(pretrained=str(tmp_path)), store=store)
    assert runner._model is None  # constructing never loads weights
    with pytest.raises(VbenchError, match="cannot load model"):
        runner.run(_requests(store, 1))
    with pytest.raises(UsageError, match="model path does not exist"):
        validate_args(HFArgs, {"pretrained": str(tmp_path / "nope")}, "--model_args")
    with pytest.raises(UsageError, match="unknown key 'colour'"):
        validate_args(HFArgs, {"pretrained": "org/name", "colour": "red"}, "--model_args")


def test_choose_fused_with_generate_equals_separate_choose(tiny_llava, store):
    runner = HFRunner(HFArgs(pretrained=str(tiny_llava), device="cpu"), store=store)
    gens = _requests(store, 3)
    chooses = [Request(kind="choose", messages=g.messages, options=("1", "2", "7")) for g in gens]
    alone = runner.run(chooses)
    fused = runner.run([*gens, *chooses])
    assert all(r.text is not None for r in fused[:3])
    for a, f in zip(alone, fused[3:]):
        assert f.method == "logprobs"
        assert f.probs == pytest.approx(a.probs, rel=1e-4, abs=1e-6)
        assert f.option_mass == pytest.approx(a.option_mass, rel=1e-4)


def test_option_that_prefixes_another_excludes_its_continuations(store):
    """With digit-splitting tokenizers "10" = "1","0": P("1" as an answer) must not include P("10")."""
    runner = HFRunner(HFArgs(pretrained="org/any"), store=store)
    runner._variant_cache[("1", "10")] = {"1": [5], " 1": [7], "10": [5, 6], " 10": [7, 6]}
    lps = {"1": math.log(0.5), " 1": math.log(0.1), "10": math.log(0.2), " 10": math.log(0.1)}
    out = runner._exclusive(("1", "10"), lps)
    assert math.exp(out["1"]) == pytest.approx(0.3) and math.exp(out[" 1"]) == pytest.approx(0.0, abs=1e-12)
    assert out["10"] == lps["10"]
    from vbench.runners.choice import pool_option_probs

    probs, mass = pool_option_probs(out, ("1", "10"))
    assert mass == pytest.approx(0.6) and probs["1"] == pytest.approx(0.5)


def _varied_requests(store, n, **gen):
    """Prompts of different lengths (so batches are left-padded) with one image each."""
    reqs = []
    for i in range(n):
        part = ImagePart(image=store.put_image(Image.new("RGB", (40, 48), (25 * i, 90, 200 - 10 * i))))
        msgs = (Message.system("Rate it."), Message.user(part, "picture " + "and more words " * i))
        reqs.append(Request(messages=msgs, gen=GenParams(max_tokens=12, seed=1000 + i, **gen)))
    return reqs


@pytest.mark.parametrize("model_fixture, gen", [
    ("tiny_llava", {"temperature": 1.0}), ("tiny_llava", {"temperature": 0.7, "top_p": 0.9}),
    ("tiny_llava", {"temperature": 0.0}), ("tiny_qwen2vl", {"temperature": 1.0}), ("tiny_qwen2vl", {"temperature": 0.0})])
def test_text_does_not_depend_on_batch_mates(model_fixture, gen, request, store):
    """A request's text depends on its own seed only: alone, in a left-padded batch of 6, or in another
    order (greedy too: left padding changes no token on these float32 models)."""
    path = request.getfixturevalue(model_fixture)
    runner = HFRunner(HFArgs(pretrained=str(path), device="cpu"), store=store)
    reqs = _varied_requests(store, 6, **gen)
    alone = [runner.run([r])[0].text for r in reqs]
    batched = [r.text for r in runner.run(reqs)]
    reordered = [r.text for r in runner.run(reqs[::-1])][::-1]
    assert batched == alone
    assert reordered == alone
    if gen["temperature"] > 0:
        assert len(set(alone)) > 1  # the tiny model does sample different texts


def test_ultimatum_transcripts_do_not_depend_on_batch_size(tiny_llava, avatars, tmp_path):
    """The same games at temperature 1 play out word for word at --batch_size 1 and 8."""
    import json

    import vbench

    turns = {}
    for bs in (1, 8):
        out = tmp_path / f"bs{bs}"
        res = vbench.evaluate(model="hf", model_args=f"pretrained={tiny_llava},device=cpu", tasks=["ultimatum_solo"],
                              dataset=str(avatars), limit=4, repeats=1, batch_size=bs, seed=3, output_path=out,
                              gen_kwargs="temperature=1,max_tokens=16", cache_dir=tmp_path / f"cache{bs}",
                              show_progress=False)["ultimatum_solo"]
        assert res.model.choice_scoring == "full-continuation-logprobs"  # recorded in results.json
        recs = [json.loads(line) for line in next(out.glob("*/ultimatum_solo/samples.jsonl")).read_text().splitlines()]
        turns[bs] = {r["episode_id"]: [t["response"] for t in r["turns"] if t["kind"] == "generate"]
                     for r in recs}
    assert turns[1].keys() == turns[8].keys() and len(turns[1]) == 4
    sampled = [t for ts in turns[1].values() for t in ts]
    assert len(sampled) >= 8 and len(set(sampled)) > 1
    assert turns[1] == turns[8]
