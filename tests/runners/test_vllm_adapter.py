"""The vLLM runner's request building, tested without a GPU; the real engine only where one exists."""
from __future__ import annotations

import base64
import math
import os
import sys
import types
from types import SimpleNamespace

import pytest
from PIL import Image

from tests.runners.conftest import rating_request
from vbench.errors import UsageError
from vbench.runners import vllm as vr
from vbench.runners.factory import build_runner
from vbench.types import GenParams, ImagePart, Message, Request


def _lp(token: str, p: float) -> SimpleNamespace:
    return SimpleNamespace(logprob=math.log(p), decoded_token=token, rank=1)


def test_engine_kwargs_pass_parallelism_through():
    args = vr.VLLMArgs(pretrained="org/m", tensor_parallel_size=4, data_parallel_size=2, pipeline_parallel_size=2,
                       max_model_len=4096, gpu_memory_utilization=0.8, limit_mm_per_prompt=2,
                       distributed_executor_backend="ray", revision="abc", top_logprobs=30)
    kw = vr.engine_kwargs(args)
    assert kw["model"] == "org/m" and kw["tensor_parallel_size"] == 4 and kw["data_parallel_size"] == 2
    assert kw["pipeline_parallel_size"] == 2 and kw["distributed_executor_backend"] == "ray"
    assert kw["limit_mm_per_prompt"] == {"image": 2} and kw["max_model_len"] == 4096 and kw["revision"] == "abc"
    assert kw["max_logprobs"] == 30  # the engine must allow as many log-probs as choose asks for
    assert "data_parallel_size" not in vr.engine_kwargs(vr.VLLMArgs(pretrained="m"))
    assert "quantization" not in kw


def test_messages_become_openai_style_chat_with_images(store, images):
    msgs = (Message.system("sys"), Message.user(ImagePart(image=images[0]), "rate"), Message.assistant("5"))
    conv = vr.to_vllm_messages(msgs, store)
    assert conv[0] == {"role": "system", "content": "sys"}
    assert conv[2] == {"role": "assistant", "content": "5"}
    img, text = conv[1]["content"]
    head, _, payload = img["image_url"]["url"].partition(",")
    assert head == "data:image/png;base64" and base64.b64decode(payload) == store.get_bytes(images[0])
    assert text == {"type": "text", "text": "rate"}
    pil = vr.to_vllm_messages(msgs, store, image_input="pil")[1]["content"][0]
    assert pil["type"] == "image_pil" and isinstance(pil["image_pil"], Image.Image) and pil["image_pil"].size == (16, 16)


def test_sampling_kwargs_carry_seed_and_choose_logprobs(images):
    gen = GenParams(temperature=0.7, top_p=0.9, max_tokens=12, stop=("\n",))
    req = Request(messages=(Message.user("x"),), gen=gen).with_seed(42)
    assert vr.sampling_kwargs(req, 20) == {"temperature": 0.7, "top_p": 0.9, "max_tokens": 12, "seed": 42, "stop": ["\n"]}
    choose = rating_request(images[0], kind="choose", seed=3)
    kw = vr.sampling_kwargs(choose, 20)
    assert kw["max_tokens"] == 1 and kw["logprobs"] == 20 and kw["seed"] == 3


def test_logprobs_become_option_probabilities(images):
    req = rating_request(images[0], kind="choose")
    out = SimpleNamespace(text="4", token_ids=[7], logprobs=[{7: _lp("4", 0.5), 8: _lp(" 4", 0.1), 9: _lp("5", 0.2),
                                                                 10: _lp("The", 0.2)}])
    resp = vr.to_response(req, out)
    assert resp.method == "logprobs" and resp.option_mass == pytest.approx(0.8)
    assert resp.probs["4"] == pytest.approx(0.75) and resp.probs["5"] == pytest.approx(0.25)
    none_match = SimpleNamespace(text="6", token_ids=[1], logprobs=[{1: _lp("Six", 0.9)}])
    parsed = vr.to_response(req, none_match)  # no option among the top tokens: parse the token itself
    assert parsed.method == "parsed" and parsed.probs["6"] == 1.0
    gen = vr.to_response(rating_request(images[0]), SimpleNamespace(text="3", token_ids=[1, 2], logprobs=None))
    assert gen.text == "3" and gen.method == "generate" and gen.usage == {"completion_tokens": 2}


class _FakeLLM:
    """Stands in for ``vllm.LLM``: records calls; rates by image size; fails on an over-long prompt."""

    instances: list["_FakeLLM"] = []

    def __init__(self, **kwargs):
        self.kwargs = kwargs
        self.calls: list[tuple[list, list]] = []
        _FakeLLM.instances.append(self)

    def chat(self, convs, sampling_params, use_tqdm=True):
        self.calls.append((convs, sampling_params))
        if any("TOO LONG" in str(c) for c in convs):
            raise ValueError("prompt is longer than max_model_len")
        outs = []
        for conv, sp in zip(convs, sampling_params):
            n = len(str(conv)) % 7 + 1
            logprobs = [{1: _lp(str(n), 0.9), 2: _lp("x", 0.1)}] if sp.kwargs.get("logprobs") else None
            outs.append(SimpleNamespace(outputs=[SimpleNamespace(text=str(n), token_ids=[1], logprobs=logprobs)]))
        return outs


@pytest.fixture
def fake_vllm(monkeypatch):
    mod = types.ModuleType("vllm")
    mod.LLM = _FakeLLM
    mod.SamplingParams = lambda **kw: SimpleNamespace(kwargs=kw)
    monkeypatch.setitem(sys.modules, "vllm", mod)
    monkeypatch.setattr(vr, "unavailable_reason", lambda: None)
    _FakeLLM.instances.clear()
    return mod


def test_runner_sends_a_whole_batch_as_one_chat_call(fake_vllm, store, images):
    runner = vr.VLLMRunner(vr.VLLMArgs(pretrained="org/m", tensor_parallel_size=2), store=store)
    assert not _FakeLLM.instances  # weights load lazily, on the first batch
    reqs = [rating_request(h, seed=i) for i, h in enumerate(images)] + [rating_request(images[0], kind="choose")]
    out = runner.run(reqs)
    [llm] = _FakeLLM.instances
    assert llm.kwargs["tensor_parallel_size"] == 2 and len(llm.calls) == 1
    convs, params = llm.calls[0]
    assert len(convs) == 4 and [p.kwargs["seed"] for p in params[:3]] == [0, 1, 2]
    assert all(r.ok for r in out) and out[3].method == "logprobs" and max(out[3].probs.values()) == 1.0
    runner.run(reqs[:1])
    assert len(_FakeLLM.instances) == 1 and len(llm.calls) == 2  # the engine is built once


def test_one_bad_prompt_fails_only_its_request(fake_vllm, store, images):
    runner = vr.VLLMRunner(vr.VLLMArgs(pretrained="org/m"), store=store)
    reqs = [rating_request(images[0]), Request(messages=(Message.user("TOO LONG"),)), rating_request(images[1])]
    out = runner.run(reqs)
    assert [r.ok for r in out] == [True, False, True]
    assert "max_model_len" in out[1].error


def test_fingerprint_ignores_placement_but_not_the_model(fake_vllm):
    a = vr.VLLMRunner(vr.VLLMArgs(pretrained="org/m", tensor_parallel_size=1))
    b = vr.VLLMRunner(vr.VLLMArgs(pretrained="org/m", tensor_parallel_size=8, gpu_memory_utilization=0.5))
    c = vr.VLLMRunner(vr.VLLMArgs(pretrained="org/m", dtype="float16"))
    assert a.fingerprint == b.fingerprint != c.fingerprint


def test_without_vllm_or_gpu_the_error_names_the_hf_backend(monkeypatch):
    monkeypatch.setattr(vr.importlib.util, "find_spec", lambda name: None)
    assert "not installed" in vr.unavailable_reason()
    with pytest.raises(UsageError) as err:
        build_runner("qwen-vl")
    msg = str(err.value)
    assert "--backend hf" in msg and "Qwen/Qwen2.5-VL-7B-Instruct" in msg and "\n" not in msg


def test_no_gpu_reason(monkeypatch):
    fake_torch = types.ModuleType("torch")
    fake_torch.cuda = SimpleNamespace(is_available=lambda: False)
    monkeypatch.setitem(sys.modules, "torch", fake_torch)
    monkeypatch.setattr(vr.importlib.util, "find_spec", lambda name: object())
    assert vr.unavailable_reason() == "no CUDA GPU is visible here"
    fake_torch.cuda = SimpleNamespace(is_available=lambda: True)
    assert vr.unavailable_reason() is None


_GPU_SKIP = vr.unavailable_reason()


@pytest.mark.gpu
@pytest.mark.skipif(_GPU_SKIP is not None, reason=f"end-to-end vLLM needs vllm and a CUDA GPU: {_GPU_SKIP}")
def test_vllm_end_to_end_on_gpu(store, images):  # pragma: no cover - runs only on a GPU machine
    model = os.environ.get("VBENCH_VLLM_TEST_MODEL", "Qwen/Qwen2-VL-2B-Instruct")
    runner = vr.VLLMRunner(vr.VLLMArgs(pretrained=model, max_model_len=4096, gpu_memory_utilization=0.5), store=store)
    out = runner.run([rating_request(images[0], seed=1), rating_request(images[0], kind="choose")])
    runner.close()
    assert out[0].ok and out[0].text
    assert out[1].method in ("logprobs", "parsed") and (out[1].probs is None or sum(out[1].probs.values()) == pytest.approx(1))
