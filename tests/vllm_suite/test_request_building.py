"""The vLLM runner's request building and scoring arithmetic, tested without an engine."""
from __future__ import annotations

import base64
import math
import sys
import types
from types import SimpleNamespace

import pytest
from PIL import Image

from vbench.errors import UsageError
from vbench.runners import vllm as vr
from vbench.runners import vllm_engine as ve
from vbench.runners.choice import exclusive_logprobs
from vbench.runners.factory import build_runner, resolve_model
from vbench.types import GenParams, ImagePart, Message, Request


@pytest.fixture
def store(tmp_path):
    from vbench.images import ImageStore

    return ImageStore(tmp_path / "images")


@pytest.fixture
def image(store):
    return store.put_image(Image.new("RGB", (16, 16), (40, 200, 90)))


def test_engine_kwargs_pass_parallelism_and_other_engine_arguments_through():
    args = vr.VLLMArgs(pretrained="org/m", tensor_parallel_size=4, data_parallel_size=2, pipeline_parallel_size=2,
                       max_model_len=4096, gpu_memory_utilization=0.8, limit_mm_per_prompt=2,
                       distributed_executor_backend="ray", revision="abc", kv_cache_dtype="fp8",
                       enable_prefix_caching="false", max_num_batched_tokens="8192")
    kw = vr.engine_kwargs(args)
    assert kw["model"] == "org/m" and kw["tensor_parallel_size"] == 4 and kw["data_parallel_size"] == 2
    assert kw["pipeline_parallel_size"] == 2 and kw["distributed_executor_backend"] == "ray"
    assert kw["limit_mm_per_prompt"] == {"image": 2} and kw["max_model_len"] == 4096 and kw["revision"] == "abc"
    # any other key is an engine argument, its text value read as the number or flag it spells
    assert kw["kv_cache_dtype"] == "fp8" and kw["enable_prefix_caching"] is False and kw["max_num_batched_tokens"] == 8192
    assert "data_parallel_size" not in vr.engine_kwargs(vr.VLLMArgs(pretrained="m"))
    assert "quantization" not in kw


def test_messages_become_openai_style_chat_with_images(store, image):
    msgs = (Message.system("sys"), Message.user(ImagePart(image=image), "rate"), Message.assistant("5"))
    conv = vr.to_vllm_messages(msgs, store)
    assert conv[0] == {"role": "system", "content": "sys"}
    assert conv[2] == {"role": "assistant", "content": "5"}
    img, text = conv[1]["content"]
    head, _, payload = img["image_url"]["url"].partition(",")
    assert head == "data:image/png;base64" and base64.b64decode(payload) == store.get_bytes(image)
    assert text == {"type": "text", "text": "rate"}
    pil = vr.to_vllm_messages(msgs, store, image_input="pil")[1]["content"][0]
    assert pil["type"] == "image_pil" and isinstance(pil["image_pil"], Image.Image) and pil["image_pil"].size == (16, 16)


def test_sampling_kwargs_carry_the_request_seed():
    gen = GenParams(temperature=0.7, top_p=0.9, max_tokens=12, stop=("\n",))
    req = Request(messages=(Message.user("x"),), gen=gen).with_seed(42)
    assert vr.sampling_kwargs(req) == {"temperature": 0.7, "top_p": 0.9, "max_tokens": 12, "seed": 42, "stop": ["\n"]}
    assert vr.SCORE_KWARGS["prompt_logprobs"] == 0  # choose reads the log-probs of the prompt's own tokens


def _lp(p: float) -> SimpleNamespace:
    return SimpleNamespace(logprob=math.log(p))


def test_continuation_logprob_sums_the_answer_tokens_only():
    prompt = [5, 6, 7, 8, 9]
    lps = [None, {6: _lp(0.5)}, {7: _lp(0.5)}, {8: _lp(0.25)}, {9: _lp(0.5)}]
    assert vr.continuation_logprob(prompt, lps, [8, 9]) == pytest.approx(math.log(0.125))
    assert vr.continuation_logprob(prompt, lps, [9]) == pytest.approx(math.log(0.5))
    with pytest.raises(ValueError):  # the template rewrote the answer: not scorable as a continuation
        vr.continuation_logprob(prompt, lps, [4, 9])


def test_a_prefix_variant_excludes_its_longer_continuations():
    ids = {"1": (1,), "10": (1, 0), "2": (2,)}
    lps = {"1": math.log(0.5), "10": math.log(0.2), "2": math.log(0.1)}
    out = exclusive_logprobs(ids, lps)  # the rule the vLLM runner shares with the other backends
    assert math.exp(out["1"]) == pytest.approx(0.3) and out["10"] == lps["10"] and out["2"] == lps["2"]


def test_on_a_cpu_prompts_are_prefilled_whole_unless_asked_otherwise():
    kw = ve.cpu_engine_kwargs({"model": "m", "max_model_len": 1024})
    assert kw["enable_chunked_prefill"] is False and kw["max_num_batched_tokens"] == 2048
    assert ve.cpu_engine_kwargs({"model": "m", "max_model_len": 8192})["max_num_batched_tokens"] == 8192
    mine = ve.cpu_engine_kwargs({"model": "m", "enable_chunked_prefill": True})
    assert mine["enable_chunked_prefill"] is True and "max_num_batched_tokens" not in mine


def test_engine_failures_are_classified_into_one_line_with_the_setting(monkeypatch):
    monkeypatch.setattr(ve, "platform_kind", lambda: "cpu")
    mem = ve.start_error(ValueError("Available memory on node 0 (1/2 GiB) is less than desired\nmore"), "m")
    assert isinstance(mem, UsageError) and "VLLM_CPU_KVCACHE_SPACE" in str(mem) and "\n" not in str(mem)
    assert "gpu_memory_utilization" in str(mem)
    generic = ve.start_error(RuntimeError("Engine core initialization failed. See root cause above."), "m")
    assert isinstance(generic, UsageError) and "VLLM_CPU_KVCACHE_SPACE" in str(generic)
    monkeypatch.setattr(ve, "platform_kind", lambda: "gpu")
    gpu = ve.start_error(RuntimeError("CUDA out of memory"), "m")
    assert "gpu_memory_utilization" in str(gpu) and "VLLM_CPU" not in str(gpu)
    assert ve.engine_error(RuntimeError("boom\ntrace"), "m").exit_code == 1
    assert len(ve.first_line(ValueError("x" * 1000))) < 310


def test_without_vllm_the_error_names_the_hf_backend(monkeypatch):
    monkeypatch.setattr(ve.importlib.util, "find_spec", lambda name: None)
    assert "not installed" in vr.unavailable_reason()
    with pytest.raises(UsageError) as err:
        build_runner("vllm", "pretrained=Qwen/Qwen2.5-VL-7B-Instruct")
    msg = str(err.value)
    assert "--backend hf" in msg and "Qwen/Qwen2.5-VL-7B-Instruct" in msg and "\n" not in msg
    with pytest.raises(UsageError):  # an explicit --backend vllm is never swapped for another backend
        build_runner("qwen-vl", backend="vllm")


def test_a_zoo_alias_falls_back_to_its_hf_backend_with_a_notice(monkeypatch, capsys):
    monkeypatch.setattr(ve.importlib.util, "find_spec", lambda name: None)
    backend, args = resolve_model("qwen-vl", "dtype=float32")
    assert backend == "hf" and args == {"pretrained": "Qwen/Qwen2.5-VL-7B-Instruct", "dtype": "float32"}
    notice = capsys.readouterr().err.strip().splitlines()
    assert len(notice) == 1 and "qwen-vl" in notice[0] and "--backend hf" in notice[0]
    monkeypatch.setattr(vr, "unavailable_reason", lambda: None)  # where vLLM can run, the alias uses it
    assert resolve_model("qwen-vl", None)[0] == "vllm" and capsys.readouterr().err == ""


def test_no_device_reason_comes_from_vllms_platform_detection(monkeypatch):
    platforms = types.ModuleType("vllm.platforms")
    platforms.current_platform = SimpleNamespace(is_unspecified=lambda: True)
    monkeypatch.setitem(sys.modules, "vllm", types.ModuleType("vllm"))
    monkeypatch.setitem(sys.modules, "vllm.platforms", platforms)
    monkeypatch.setattr(ve.importlib.util, "find_spec", lambda name: object())
    assert "no device" in ve.unavailable_reason()
    platforms.current_platform = SimpleNamespace(is_unspecified=lambda: False)  # CPU build, or a GPU
    assert ve.unavailable_reason() is None


def test_the_engine_defaults_to_async_on_a_gpu_and_to_the_in_process_one_on_a_cpu(monkeypatch):
    monkeypatch.setattr(ve, "platform_kind", lambda: "gpu")
    assert vr.resolve_engine("auto") == "async" and vr.resolve_engine("sync") == "sync"
    monkeypatch.setattr(ve, "platform_kind", lambda: "cpu")  # AsyncLLM's separate engine process starts slowly there
    assert vr.resolve_engine("auto") == "sync" and vr.resolve_engine("async") == "async"
    assert "engine" in vr._PLACEMENT  # the engine never changes an answer, so not the fingerprint either


def test_when_one_request_of_a_batch_fails_the_others_are_cancelled():
    """An engine failure on one request stops the batch: the requests still in flight are cancelled
    (their engine requests aborted), not left running behind the error."""
    import asyncio

    cancelled: list[int] = []

    async def slow(i: int) -> int:
        try:
            await asyncio.sleep(10)
        except asyncio.CancelledError:
            cancelled.append(i)
            raise
        return i

    async def fails() -> int:
        await asyncio.sleep(0)
        raise RuntimeError("engine died")

    async def quick() -> int:
        return 7

    async def batch() -> list[int]:
        with pytest.raises(RuntimeError, match="engine died"):
            await vr._all([slow(0), fails(), slow(2)])
        await asyncio.sleep(0)  # one loop turn: the cancellations are delivered
        return sorted(cancelled)

    assert asyncio.run(vr._all([quick(), quick()])) == [7, 7]
    assert asyncio.run(batch()) == [0, 2]  # before the loop ends (which would cancel leftovers itself)
