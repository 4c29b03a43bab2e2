"""The results.json schema (versioned): the full spec needed to trust, compare and re-run a result."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = "1.0"


class TaskSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    version: str
    prompt_set_hash: str
    dataset: str | None
    dataset_fingerprint: str
    options: dict[str, Any] = Field(default_factory=dict)


class ModelSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", protected_namespaces=())
    name: str = Field(description="model as given on the command line (backend or zoo alias)")
    backend: str
    model_id: str
    model_args: dict[str, Any] = Field(default_factory=dict, description="secrets redacted")
    fingerprint: str
    revision: str | None = None
    choice_scoring: str | None = Field(None, description="how `choose` requests were scored (runs scored differently never share a board)")


class ShardSpec(BaseModel):
    """Part ``index`` of ``count`` of a run (``vbench eval --shard I/N``); ``vbench merge`` joins the parts."""

    model_config = ConfigDict(extra="forbid")
    index: int = Field(ge=1)
    count: int = Field(ge=1)
    plan_digest: str = Field(description="sha256 of every episode id of the whole run, in order")


class RunSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")
    seed: int
    limit: int | None
    repeats: int
    batch_size: int | str
    gen_kwargs: dict[str, Any] = Field(default_factory=dict)
    command: list[str] = Field(default_factory=list)
    started_at: str
    finished_at: str
    duration_s: float
    shard: ShardSpec | None = Field(None, description="set on one shard of a sharded run; null for a whole run")


class Counts(BaseModel):
    model_config = ConfigDict(extra="forbid")
    n_samples: int
    n_episodes: int
    n_ok: int
    n_error: int
    error_rate: float
    n_skipped_samples: int = 0
    parse_failure_rate: float | None = None
    model_calls: int = 0
    cache_hits: int = 0
    scheduler_steps: int = 0


class RunResults(BaseModel):
    model_config = ConfigDict(extra="forbid", protected_namespaces=())
    schema_version: str = SCHEMA_VERSION
    vbench_version: str
    git_commit: str | None
    task: TaskSpec
    model: ModelSpec
    roles: dict[str, ModelSpec] = Field(default_factory=dict)
    run: RunSpec
    counts: Counts
    metrics: dict[str, Any]
    skipped_samples: list[dict[str, str]] = Field(default_factory=list)
    errors: list[dict[str, str]] = Field(default_factory=list, description="first errors, for diagnosis")
    samples_file: str | None = None
    samples_sha256: str | None = None
    synthetic: list[str] = Field(default_factory=list, description="why the numbers say nothing about a real model "
                                 "(random weights, synthetic demo data); empty for a real run")
    artifacts: list[str] = Field(default_factory=list)


def atomic_write_text(path: Path, text: str) -> None:
    """Write via a temp file + rename so a reader never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def write_results(path: Path, results: RunResults) -> None:
    atomic_write_text(path, json.dumps(results.model_dump(mode="json"), indent=2, sort_keys=False) + "\n")


def json_schema() -> dict[str, Any]:
    return RunResults.model_json_schema()
