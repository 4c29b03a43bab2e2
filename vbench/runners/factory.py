"""Turn ``--model NAME --model_args k=v,...`` into a Runner (backend name or model-zoo alias)."""
from __future__ import annotations

from typing import Any

from vbench.args import parse_kv, validate_args
from vbench.errors import UsageError
from vbench.images import ImageStore
from vbench.registry import MODELS
from vbench.runners.base import Runner


def resolve_model(name: str, model_args: str | dict | None) -> tuple[str, dict[str, Any]]:
    """Backend name and merged args. Zoo entries carry ``backend`` and default ``args`` in extra."""
    entry = MODELS.entry(name)
    args = parse_kv(model_args, "--model_args")
    zoo = entry.extra.get("zoo")
    if zoo:
        return zoo["backend"], {**zoo.get("args", {}), **args}
    return entry.name, args


def build_runner(name: str, model_args: str | dict | None = None, store: ImageStore | None = None,
                 batch_size: int | str = "auto", **runner_kwargs: Any) -> Runner:
    backend, args = resolve_model(name, model_args)
    try:
        cls = MODELS.get(backend)
    except ImportError as exc:  # a backend module importing a missing optional dependency
        raise UsageError(f"backend {backend!r} cannot be imported: {exc}") from None
    parsed = validate_args(cls.Args, args, "--model_args")
    return cls(parsed, store=store, batch_size=batch_size, **runner_kwargs)
