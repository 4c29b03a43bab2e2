"""What a sweep runs: its config (YAML + command-line overrides), its cells and their jobs.

A cell is one (model, task) pair; it runs as one job, or as N shard jobs (``shards: N``) that are
merged when all have finished. Everything here is checked in the driver before any job starts, so a
typo in a model or task name is one line and exit 2, not a failed cell an hour later.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from vbench.args import parse_kv, validate_args
from vbench.errors import UsageError
from vbench.tasks.base import stable_hash


class Resources(BaseModel):
    """What one job of a cell reserves on the Ray cluster."""

    model_config = ConfigDict(extra="forbid")
    num_cpus: float = Field(1, ge=0)
    num_gpus: float = Field(0, ge=0)


class RoleEntry(BaseModel):
    """The model that plays one task role in a cell (as `vbench eval --model-role ROLE=MODEL:ARGS`)."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())
    model: str
    model_args: str | dict[str, Any] = ""


class ModelEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", protected_namespaces=())
    model: str = Field(description="backend or model-zoo alias, as `vbench eval --model`")
    model_args: str | dict[str, Any] = ""
    backend: str | None = None
    model_roles: dict[str, RoleEntry] = Field(default_factory=dict, description="task role -> the model playing it")
    shards: int | None = Field(None, ge=1)
    resources: Resources | None = Field(None, description="default: from the backend (GPUs = vLLM parallel size)")


class TaskEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")
    dataset: str | None = None
    task_args: str | dict[str, Any] = ""
    limit: int | None = Field(None, ge=1)
    repeats: int | None = Field(None, ge=1)
    gen_kwargs: str | dict[str, Any] | None = None
    shards: int | None = Field(None, ge=1)


class SweepConfig(BaseModel):
    """The ``--config sweep.yaml`` file; command-line flags override its top-level keys."""

    model_config = ConfigDict(extra="forbid")
    output_path: str = "sweep"
    cache_dir: str | None = None
    seed: int = 0
    limit: int | None = Field(None, ge=1)
    repeats: int | None = Field(None, ge=1)
    batch_size: int | str = "auto"
    gen_kwargs: str | dict[str, Any] = ""
    dataset: str | None = None
    shards: int = Field(1, ge=1)
    max_retries: int = Field(3, ge=0)
    models: dict[str, ModelEntry] = Field(default_factory=dict)
    tasks: dict[str, TaskEntry] = Field(default_factory=dict)


class JobSpec(BaseModel):
    """One `vbench eval` call of a sweep: everything a worker needs, nothing about where it runs."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())
    cell: str  # "<model label>/<task>"
    cell_key: str  # hash of the cell's settings: a finished cell is skipped only if they are unchanged
    run_dir: str  # "<model folder>/<task>" under the output path
    model: str
    model_args: str | dict[str, Any]
    backend: str | None
    model_roles: dict[str, RoleEntry] = Field(default_factory=dict)
    task: str
    task_args: str | dict[str, Any]
    dataset: str | None
    limit: int | None
    repeats: int | None
    seed: int
    batch_size: int | str
    gen_kwargs: str | dict[str, Any]
    shard: tuple[int, int] | None = None
    resources: Resources

    @property
    def label(self) -> str:
        return self.cell + (f" [{self.shard[0]}/{self.shard[1]}]" if self.shard else "")

    @property
    def out_rel(self) -> str:
        from vbench.scale.shards import shard_dir_name

        return self.run_dir + (f"/{shard_dir_name(self.shard)}" if self.shard else "")


class Cell(BaseModel):
    model_config = ConfigDict(protected_namespaces=())
    name: str
    model_label: str
    task: str
    run_dir: str
    jobs: list[JobSpec]


def load_config(path: str | None) -> SweepConfig:
    if not path:
        return SweepConfig()
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise UsageError(f"--config {path}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise UsageError(f"--config {path}: not valid YAML ({str(exc).splitlines()[0]})") from None
    try:
        return SweepConfig.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
        raise UsageError(f"--config {path}: {loc}: {err['msg']}") from None


def default_resources(backend: str, args: Any, gpus_available: bool) -> Resources:
    """GPUs = the vLLM engine's parallel size (none when vLLM places its own Ray workers); the
    transformers backend takes a GPU when the cluster has one and the model is not pinned to the CPU;
    API and dummy backends take one CPU slot."""
    if backend == "vllm":
        if getattr(args, "distributed_executor_backend", None) == "ray":
            return Resources(num_cpus=1, num_gpus=0)
        size = (getattr(args, "tensor_parallel_size", 1) * getattr(args, "pipeline_parallel_size", 1)
                * getattr(args, "data_parallel_size", 1))
        return Resources(num_cpus=1, num_gpus=size)
    if backend == "hf" and gpus_available and getattr(args, "device", "auto") != "cpu":
        return Resources(num_cpus=1, num_gpus=1)
    return Resources(num_cpus=1, num_gpus=0)


def _validated(model: str, model_args: str | dict[str, Any], backend: str | None, what: str) -> tuple[str, Any]:
    """(backend, validated args) without building the runner (nothing loads)."""
    from vbench.registry import MODELS
    from vbench.runners.factory import resolve_model

    backend, args = resolve_model(model, model_args, backend)
    try:
        cls = MODELS.get(backend)
    except ImportError as exc:
        raise UsageError(f"backend {backend!r} cannot be imported: {exc}") from None
    return backend, validate_args(cls.Args, args, f"{what} {model} model_args")


def _model_folder(entry: ModelEntry) -> tuple[str, Any, str]:
    """(backend, validated args, output folder name) of the cell's main model."""
    from vbench.evaluator import model_folder
    from vbench.runners.base import model_name_of

    backend, parsed = _validated(entry.model, entry.model_args, entry.backend, "model")
    return backend, parsed, model_folder({"default": model_name_of(parsed, backend)})


def _role_models(entry: ModelEntry) -> dict[str, tuple[str, Any]]:
    """Each role's (backend, validated args), in role order: checked once per model entry."""
    return {role: _validated(spec.model, spec.model_args, None, f"role {role}:")
            for role, spec in sorted(entry.model_roles.items())}


def _entry_resources(entry: ModelEntry, backend: str, parsed: Any, roles: dict[str, tuple[str, Any]],
                     gpus_available: bool) -> Resources:
    """The main model's resources plus those of every role played by another model (one process runs them all)."""
    if entry.resources is not None:
        return entry.resources
    total = default_resources(backend, parsed, gpus_available)
    extra = sum(default_resources(r_backend, r_parsed, gpus_available).num_gpus for r_backend, r_parsed in roles.values())
    return Resources(num_cpus=total.num_cpus, num_gpus=total.num_gpus + extra)


def plan_cells(cfg: SweepConfig, models: list[str], tasks: list[str], gpus_available: bool = False) -> list[Cell]:
    """Every (model, task) cell in model then task order, each with its job(s); raises UsageError early."""
    from vbench.evaluator import parse_gen_kwargs
    from vbench.registry import TASKS

    models = models or list(cfg.models)
    tasks = tasks or list(cfg.tasks)
    if not models:
        raise UsageError("no model given (use --models NAME[,NAME] or a `models:` block in --config)")
    if not tasks:
        raise UsageError("no task given (use --tasks NAME[,NAME] or a `tasks:` block in --config)")
    for t in tasks:
        TASKS.resolve(t)  # unknown names: one line with a suggestion
    parse_kv(cfg.gen_kwargs, "gen_kwargs")
    cells: list[Cell] = []
    seen: dict[str, str] = {}
    for label in models:
        entry = cfg.models.get(label) or ModelEntry(model=label)
        backend, parsed, folder = _model_folder(entry)
        roles = _role_models(entry)
        if folder in seen and seen[folder] != label:
            raise UsageError(f"models {seen[folder]!r} and {label!r} write the same folder {folder!r}")
        seen[folder] = label
        resources = _entry_resources(entry, backend, parsed, roles, gpus_available)
        _check_roles(entry, tasks)
        for task in tasks:
            playing = [role for role in roles if role in _task_roles(task)]
            entry_t = cfg.tasks.get(task) or TaskEntry()
            gen = entry_t.gen_kwargs if entry_t.gen_kwargs is not None else cfg.gen_kwargs
            parse_gen_kwargs(gen)
            common: dict[str, Any] = dict(model=entry.model, model_args=entry.model_args, backend=entry.backend,
                          task=task, **_roles_field(entry, playing),
                          task_args=entry_t.task_args, dataset=entry_t.dataset or cfg.dataset,
                          limit=entry_t.limit or cfg.limit, repeats=entry_t.repeats or cfg.repeats, seed=cfg.seed, batch_size=cfg.batch_size, gen_kwargs=gen)
            n = entry_t.shards or entry.shards or cfg.shards
            key = stable_hash({**common, "shards": n})
            name, run_dir = f"{label}/{task}", f"{_task_folder(parsed, backend, roles, playing)}/{task}"
            shards: list[tuple[int, int] | None] = [(i, n) for i in range(1, n + 1)] if n > 1 else [None]
            jobs = [JobSpec(cell=name, cell_key=key, run_dir=run_dir, shard=s, resources=resources, **common)
                    for s in shards]
            cells.append(Cell(name=name, model_label=label, task=task, run_dir=run_dir, jobs=jobs))
    return cells


def _task_roles(task: str) -> tuple[str, ...]:
    from vbench.registry import TASKS

    return TASKS.get(TASKS.resolve(task)).roles


def _roles_field(entry: ModelEntry, playing: list[str]) -> dict[str, Any]:
    """The roles a task has of the entry's (``playing``), for the job spec and its cell key (a sweep over
    several tasks gives each the roles it has); absent when none, so cell keys of sweeps without roles are
    unchanged."""
    return {"model_roles": {role: entry.model_roles[role].model_dump() for role in playing}} if playing else {}


def _task_folder(parsed: Any, backend: str, roles: dict[str, tuple[str, Any]], playing: list[str]) -> str:
    """The folder `vbench eval` writes a cell to: the main model's name, plus the roles the task has."""
    from vbench.evaluator import model_folder
    from vbench.runners.base import model_name_of

    names = {"default": model_name_of(parsed, backend)}
    names.update({role: model_name_of(roles[role][1], roles[role][0]) for role in playing})
    return model_folder(names)


def _check_roles(entry: ModelEntry, tasks: list[str]) -> None:
    """A role that no task of the sweep has is a typo, not a role to skip."""
    known = {role for task in tasks for role in _task_roles(task)}
    unknown = sorted(set(entry.model_roles) - known)
    if unknown:
        raise UsageError(f"model_roles: no task of this sweep has a role {unknown[0]!r} "
                         f"(their roles: {', '.join(sorted(known))})")


def split_names(text: str | None) -> list[str]:
    return [x.strip() for x in (text or "").split(",") if x.strip()]


def apply_overrides(cfg: SweepConfig, overrides: dict[str, Any]) -> SweepConfig:
    """Command-line values (those given) replace the config file's."""
    given = {k: v for k, v in overrides.items() if v is not None}
    try:
        out = SweepConfig.model_validate({**cfg.model_dump(), **given})
    except ValidationError as exc:
        err = exc.errors()[0]
        raise UsageError(f"--{'.'.join(str(p) for p in err['loc'])}: {err['msg']}") from None
    # every job writes to the same place, whatever folder its worker starts in
    if not out.output_path or "://" not in out.output_path:
        out.output_path = str(Path(out.output_path).expanduser().resolve())
    if out.cache_dir:
        out.cache_dir = str(Path(out.cache_dir).expanduser().resolve())
    return out
