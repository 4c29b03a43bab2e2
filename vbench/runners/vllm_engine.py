"""What the vLLM runner needs to know about vLLM itself: is it usable here, which engine arguments the
installed version takes, and which of its failures belong to one request and which end the run.

vLLM's own answers are used throughout (its platform detection, ``EngineArgs`` fields, its exception
hierarchy), so a new vLLM release changes the behaviour here only where vLLM itself changed.
"""
from __future__ import annotations

import dataclasses
import importlib.util
from dataclasses import dataclass
from typing import Any

import yaml

from vbench.errors import UsageError, VbenchError

# settings a user changes when the engine runs out of memory, per platform
_MEMORY_HINT = {
    "cpu": "set VLLM_CPU_KVCACHE_SPACE (GiB of KV cache, e.g. VLLM_CPU_KVCACHE_SPACE=4), which replaces the "
           "gpu_memory_utilization share of RAM, or lower gpu_memory_utilization or max_model_len",
    "gpu": "raise gpu_memory_utilization (fraction of GPU memory vLLM may use), lower max_model_len "
           "or max_num_seqs, or spread the model with tensor_parallel_size",
}
_MEMORY_WORDS = ("memory", "kv cache", "cache blocks", "gpu_memory_utilization", "vllm_cpu_kvcache_space",
                 "out of memory", "oom")


def first_line(exc: BaseException, limit: int = 300) -> str:
    text = str(exc).strip()
    line = text.splitlines()[0] if text else type(exc).__name__
    return line if len(line) <= limit else line[:limit].rsplit(" ", 1)[0] + " ..."


def unavailable_reason() -> str | None:
    """Why vLLM cannot run here (not installed, or no device its platform detection accepts), or None."""
    if importlib.util.find_spec("vllm") is None:
        return "vllm is not installed (pip install 'vbench-personas[vllm]')"
    try:
        from vllm.platforms import current_platform
    except Exception as exc:  # noqa: BLE001 - a broken install: say why, in one line
        return f"vllm cannot be imported ({type(exc).__name__}: {first_line(exc)})"
    if current_platform.is_unspecified():
        return "vLLM found no device it can run on here (no supported GPU, and this is not vLLM's CPU build)"
    return None


def platform_kind() -> str:
    from vllm.platforms import current_platform

    return "cpu" if current_platform.is_cpu() else "gpu"


def vllm_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    for dist in ("vllm", "vllm-cpu"):
        try:
            return version(dist)
        except PackageNotFoundError:
            continue
    return "unknown"


def coerce(value: Any) -> Any:
    """``--model_args`` values arrive as text: "4" → 4, "false" → False, "fp8" stays "fp8"."""
    if not isinstance(value, str):
        return value
    try:
        parsed = yaml.safe_load(value)
    except yaml.YAMLError:
        return value
    return parsed if isinstance(parsed, (int, float, bool)) or parsed is None else value


def check_engine_kwargs(kwargs: dict[str, Any]) -> None:
    """Every key must be an ``EngineArgs`` field of the installed vLLM (caught before any loading)."""
    from vllm.engine.arg_utils import EngineArgs

    known = {f.name for f in dataclasses.fields(EngineArgs)}
    unknown = sorted(k for k in kwargs if k not in known)
    if unknown:
        raise UsageError(f"--model_args: vLLM {vllm_version()} has no engine argument "
                         + ", ".join(repr(k) for k in unknown) + " (see `vllm serve --help` for the ones it takes)")


def cpu_engine_kwargs(kwargs: dict[str, Any]) -> dict[str, Any]:
    """On vLLM's CPU platform, prefill every prompt whole unless told otherwise: when a prompt is prefilled in
    chunks, vLLM 0.32's worker rewinds the request's seeded generator with a CUDA-only call and the engine
    dies ("CPU Generator does not use offset"); every vbench request is seeded."""
    out = dict(kwargs)
    out.setdefault("enable_chunked_prefill", False)
    if out["enable_chunked_prefill"] is False and out.get("max_model_len"):
        out.setdefault("max_num_batched_tokens", max(int(out["max_model_len"]), 2048))
    return out


def start_error(exc: BaseException, model: str) -> VbenchError:
    """An engine that did not start → one line; exit 2 where a setting the user controls is the cause."""
    msg = first_line(exc)
    low = str(exc).lower()
    kind = platform_kind()
    if isinstance(exc, OSError) or "does not appear to have" in low or "not found" in low:
        return UsageError(f"vllm could not load {model!r}: {msg}")
    if any(w in low for w in _MEMORY_WORDS):
        return UsageError(f"vllm could not start {model!r}: {msg}. To fix it, {_MEMORY_HINT[kind]}")
    if "engine core initialization failed" in low:  # multi-process engine: the cause is in vLLM's log above
        return UsageError(f"vllm could not start {model!r} (the engine's own error is in the log above). "
                          f"Most often it is memory: {_MEMORY_HINT[kind]}")
    if isinstance(exc, (ValueError, TypeError, NotImplementedError)):  # unsupported model or argument combination
        return UsageError(f"vllm cannot run {model!r} as configured: {msg}")
    return VbenchError(f"vllm failed to start {model!r}: {type(exc).__name__}: {msg}")


def request_errors() -> tuple[type[BaseException], ...]:
    """Exceptions that reject one request (too long, too many images, bad sampling parameters)."""
    try:
        from vllm.exceptions import VLLMClientError
    except ImportError:  # older vLLM: request validation raised ValueError
        return (ValueError,)
    return (VLLMClientError,)


def engine_error(exc: BaseException, model: str) -> VbenchError:
    """A failure of the engine itself (not of one request): the run cannot go on."""
    return VbenchError(f"vllm engine failed while running {model!r}: {type(exc).__name__}: {first_line(exc)}")



@dataclass
class PrefixCacheStats:
    """Prompt tokens the engine was sent, and how many of them it found in its prefix cache."""

    requests: int = 0
    prompt_tokens: int = 0
    cached_tokens: int = 0

    def add(self, output: Any) -> None:
        """Count one finished ``RequestOutput``."""
        self.requests += 1
        self.prompt_tokens += len(output.prompt_token_ids or [])
        self.cached_tokens += output.num_cached_tokens or 0

    @property
    def hit_rate(self) -> float:
        return self.cached_tokens / self.prompt_tokens if self.prompt_tokens else 0.0
