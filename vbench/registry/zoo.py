"""The model zoo: short names from ``zoo.yaml`` registered into MODELS as aliases of a backend.

Each entry becomes a MODELS entry whose ``extra["zoo"]`` holds ``backend``, default ``args`` and the
``backends`` it can be rerun on (``--backend``), which ``vbench.runners.factory`` resolves.
"""
from __future__ import annotations

from importlib import resources
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field

from vbench.registry.core import Registry


class ZooEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    description: str
    backend: str
    args: dict[str, Any] = Field(default_factory=dict)
    backends: dict[str, dict[str, Any]] = Field(default_factory=dict, description="what --backend NAME runs")
    aliases: list[str] = Field(default_factory=list)


class Zoo(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: int
    models: dict[str, ZooEntry]


def load_zoo(text: str | None = None) -> Zoo:
    raw = text if text is not None else resources.files("vbench.registry").joinpath("zoo.yaml").read_text("utf-8")
    return Zoo.model_validate(yaml.safe_load(raw))


def register_zoo(registry: Registry, zoo: Zoo | None = None) -> None:
    """Register every zoo model (after the backends, whose import paths the entries reuse)."""
    for name, e in (zoo or load_zoo()).models.items():
        backend = registry.entry(e.backend)
        registry.register(name, backend.target, e.description, aliases=tuple(e.aliases),
                          zoo={"backend": e.backend, "args": dict(e.args), "backends": dict(e.backends)})
