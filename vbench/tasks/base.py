"""The Task protocol: a task turns samples into episodes and records into metrics.

A task is a class with a name, a version, a versioned prompt set and an ``Options`` schema (its
``--task_args``). ``episode()`` is a plain generator: it yields a list of Requests, receives their
Responses, and finally returns the outputs stored in the episode's Record. Single-turn tasks yield
once; games and feeds yield once per turn. Nothing else about scheduling is the task's concern.
"""
from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar, Generic, Iterable, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from vbench.generic_params import bind_schema
from vbench.images import ImageStore
from vbench.runners.scheduler import EpisodeGen
from vbench.types import Record


class TaskOptions(BaseModel):
    """Base for each task's ``--task_args`` schema (unknown keys are errors)."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())


class Sample(BaseModel):
    """One unit of data a task builds episodes from. ``meta`` is logged; it must be JSON-safe."""

    id: str
    meta: dict[str, Any] = Field(default_factory=dict)


class TaskContext(BaseModel):
    """Run-wide settings every task receives."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    store: ImageStore
    dataset: str | None = None
    limit: int | None = None
    seed: int = 0
    skip_bad_samples: bool = False
    models: dict[str, str] = Field(default_factory=dict, description="model role -> model name (for transcripts)")


def stable_hash(obj: Any, length: int = 16) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:length]


OptionsT = TypeVar("OptionsT", bound=TaskOptions)


class Task(ABC, Generic[OptionsT]):
    """Generic over its options: ``class MyTask(Task[MyOptions])`` types ``self.options`` as ``MyOptions``.

    ``Options`` (the run-time schema for ``--task_args``, ``vbench ls``) is filled from that parameter when
    the class declares none, and must agree with it when it does.
    """

    name: ClassVar[str]
    version: ClassVar[str]
    description: ClassVar[str] = ""
    roles: ClassVar[tuple[str, ...]] = ("default",)
    Options: ClassVar[type[TaskOptions]] = TaskOptions
    default_repeats: ClassVar[int] = 1

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        bind_schema(cls, Task, "Options")

    def __init__(self, options: OptionsT, ctx: TaskContext):
        self.options: OptionsT = options
        self.ctx = ctx
        self.skipped: list[dict[str, str]] = []  # samples dropped for bad input (with reasons)

    # -- what identifies the run --------------------------------------------------------
    @abstractmethod
    def prompt_set(self) -> dict[str, Any]:
        """Every prompt text and generation default the task uses (hashed into results)."""

    def prompt_set_hash(self) -> str:
        return stable_hash(self.prompt_set())

    @abstractmethod
    def dataset_fingerprint(self) -> str:
        """Hash of the data the samples came from (after limit/sub-sampling)."""

    # -- the work -------------------------------------------------------------------------
    @abstractmethod
    def samples(self) -> list[Sample]:
        """Load and validate all samples up front: bad input fails here, before any output exists."""

    @abstractmethod
    def episode(self, sample: Sample, repeat: int, seed: int) -> EpisodeGen:
        """Play one sample: ``responses = yield [requests]`` … ``return outputs``."""

    @abstractmethod
    def metrics(self, records: list[Record]) -> dict[str, Any]:
        """Aggregate finished records (``status == "ok"``) into the metrics block."""

    def artifacts(self, records: list[Record], out_dir: Path) -> list[str]:
        """Optional plots/tables written beside results.json; returns their file names."""
        return []

    @classmethod
    def summary_rows(cls, metrics: dict[str, Any]) -> Iterable[tuple[str, Any]]:
        """(name, value) pairs for the terminal table; defaults to every top-level MetricValue."""
        for key, value in metrics.items():
            if isinstance(value, dict) and "value" in value:
                yield key, value
