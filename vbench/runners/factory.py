"""Turn ``--model NAME --model_args k=v,...`` into a Runner (backend name or model-zoo alias)."""
from __future__ import annotations

import inspect
import sys
from typing import Any

from vbench.args import parse_kv, validate_args
from vbench.data.sources import check_model_source, looks_local
from vbench.errors import UsageError
from vbench.images import ImageStore
from vbench.registry import MODELS
from vbench.runners.base import Runner

FALLBACK_BACKEND = "hf"


def resolve_model(name: str, model_args: str | dict | None, backend: str | None = None,
                  strict: bool = True) -> tuple[str, dict[str, Any]]:
    """Backend name and merged args. Zoo entries carry ``backend`` and default ``args`` in extra;
    ``backend`` reruns a zoo alias on another backend it lists (``strict``: an error if it cannot)."""
    entry = MODELS.entry(name)
    args = parse_kv(model_args, "--model_args")
    zoo = entry.extra.get("zoo")
    if backend and backend != (zoo["backend"] if zoo else entry.name):
        alternatives = (zoo or {}).get("backends", {})
        if backend in alternatives:
            return backend, {**alternatives[backend], **args}
        if strict:
            offered = ", ".join([zoo["backend"], *alternatives]) if zoo else entry.name
            what = f"model-zoo alias {name!r}" if zoo else f"{name!r} is a backend, not a model-zoo alias; it"
            raise UsageError(f"--backend {backend}: {what} runs on: {offered}")
    if zoo:
        if not backend and FALLBACK_BACKEND in zoo.get("backends", {}):
            reason = unavailable_reason(zoo["backend"])
            if reason:  # the alias's usual backend cannot run here: its transformers backend can
                print(f"vbench: {name}: {zoo['backend']} cannot run here ({reason}); running it with "
                      f"--backend {FALLBACK_BACKEND} instead", file=sys.stderr)
                return FALLBACK_BACKEND, {**zoo["backends"][FALLBACK_BACKEND], **args}
        return zoo["backend"], {**zoo.get("args", {}), **args}
    return entry.name, args


def unavailable_reason(backend: str) -> str | None:
    """Why a backend cannot run on this machine (its runner's own check), or None."""
    try:
        check = getattr(MODELS.get(backend), "unavailable_reason", None)
    except ImportError as exc:
        return str(exc)
    return check() if callable(check) else None


def _accepted(cls: type, kwargs: dict[str, Any]) -> dict[str, Any]:
    """The runner kwargs this backend's constructor takes (e.g. max_concurrency only for API runners)."""
    params = inspect.signature(cls).parameters
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return {k: v for k, v in kwargs.items() if v is not None}
    return {k: v for k, v in kwargs.items() if v is not None and k in params}


def build_runner(name: str, model_args: str | dict | None = None, store: ImageStore | None = None,
                 batch_size: int | str = "auto", backend: str | None = None, strict_backend: bool = True,
                 **runner_kwargs: Any) -> Runner:
    backend_name, args = resolve_model(name, model_args, backend, strict_backend)
    try:
        cls = MODELS.get(backend_name)
    except ImportError as exc:  # a backend module importing a missing optional dependency
        raise UsageError(f"backend {backend_name!r} cannot be imported: {exc}") from None
    pretrained = args.get("pretrained") if "pretrained" in getattr(cls.Args, "model_fields", {}) else None
    if isinstance(pretrained, str) and looks_local(pretrained):
        check_model_source(pretrained)  # before the backend's own checks: one message for a typo
    parsed = validate_args(cls.Args, args, "--model_args")
    check_device(getattr(parsed, "device", None))
    runner = cls(parsed, store=store, batch_size=batch_size, **_accepted(cls, runner_kwargs))
    if isinstance(pretrained, str):
        check_model_source(pretrained)  # a Hub id: cached, or reachable within seconds
    return runner


def check_device(device: str | None) -> None:
    """``device=cuda:99`` or ``device=gpu`` as one line now, not a traceback when the weights load."""
    if not isinstance(device, str) or device in ("auto", "cpu"):
        return
    try:
        import torch
    except ImportError:
        return  # the backend reports its missing extra itself
    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError):
        raise UsageError(f"--model_args: device={device!r} is not a device (auto, cpu, cuda, cuda:N, mps)") from None
    if dev.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise UsageError(f"--model_args: device={device}: no CUDA device is visible here (use device=cpu)")
        if dev.index is not None and dev.index >= count:
            raise UsageError(f"--model_args: device={device}: this machine has {count} CUDA device(s), "
                             f"cuda:0 to cuda:{count - 1}")
    elif dev.type == "mps" and not torch.backends.mps.is_available():
        raise UsageError(f"--model_args: device={device}: MPS is not available here")
