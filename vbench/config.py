"""`EvalConfig`: every setting of an evaluation run, in one typed model.

The eval CLI, ``vbench.evaluate(...)`` and ``vbench eval --config run.yaml`` all build one of these,
so a setting is named, typed, defaulted and checked in one place. A file gives values; flags given
on the command line replace the file's value of that key (argparse defaults never do: the CLI passes
only the flags it was given). A bad file is one line naming the file and the key, exit 2.
"""
from __future__ import annotations

import difflib
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (BaseModel, BeforeValidator, ConfigDict, Field, Strict, ValidationError, field_validator,
                      model_validator)

from vbench.args import parse_kv, redact
from vbench.errors import UsageError
from vbench.runners.base import Runner
from vbench.tasks.base import Task

PositiveInt = Annotated[int, Strict(), Field(ge=1)]


def _batch_size(value: Any) -> Any:
    """``auto`` or a positive integer (a digit string from a file or a flag counts)."""
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    if value != "auto" and not (isinstance(value, int) and not isinstance(value, bool) and value >= 1):
        raise ValueError(f"expected a positive integer or auto, got {value!r}")
    return value


def _shard(value: Any) -> Any:
    """``I/N`` with 1 <= I <= N: this run holds the episodes of part I of N (see ``vbench.planning``)."""
    if value is None:
        return None
    if isinstance(value, (tuple, list)) and len(value) == 2:  # (I, N), as ``plan(..., shard=)`` takes it
        value = f"{value[0]}/{value[1]}"
    part, sep, total = str(value).partition("/")
    if not (sep and part.isdigit() and total.isdigit() and 1 <= int(part) <= int(total)):
        raise ValueError(f"expected I/N with 1 <= I <= N, e.g. 2/4, got {value!r}")
    return f"{int(part)}/{int(total)}"


KvArgs = str | dict[str, Any] | None  # "k=v,..." as on the command line, or a mapping (YAML, Python)


class RoleModel(BaseModel):
    """The model that plays one task role: a backend or zoo alias (+ args), or a Runner instance."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True, protected_namespaces=())
    model: str | Runner
    model_args: KvArgs = None

    @model_validator(mode="before")
    @classmethod
    def _forms(cls, value: Any) -> Any:
        """``"openai:model=gpt-4o"`` (the flag's form), ``(model, args)``, a Runner, or a mapping."""
        if isinstance(value, Runner):
            return {"model": value}
        if isinstance(value, str):
            model, _, args = value.partition(":")
            return {"model": model, "model_args": args}
        if isinstance(value, (tuple, list)) and len(value) == 2:
            return {"model": value[0], "model_args": value[1]}
        return value


class EvalConfig(BaseModel):
    """One evaluation run: model(s), tasks, data, sampling, outputs. Field names are the flags' names."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True, protected_namespaces=(),
                              validate_assignment=True)

    model: str | Runner = Field("hf", description="backend or model-zoo alias, or a Runner instance")
    model_args: KvArgs = None
    model_roles: dict[str, RoleModel] = Field(default_factory=dict, description="task role -> its model")
    backend: str | None = None
    max_concurrency: PositiveInt | None = None
    tasks: list[str | Task] = Field(default_factory=list, description="names (or 'a,b') or Task instances")
    task_args: KvArgs = None
    dataset: str | None = None
    limit: PositiveInt | None = None
    repeats: PositiveInt | None = None
    batch_size: Annotated[int | Literal["auto"], BeforeValidator(_batch_size)] = "auto"
    seed: Annotated[int, Strict()] = 0
    shard: Annotated[str | None, BeforeValidator(_shard)] = Field(None, description="I/N: one part of the run")
    gen_kwargs: KvArgs = None
    output_path: Path = Path("results")
    use_cache: Annotated[bool, Strict()] = True
    cache_dir: Path | None = None
    skip_bad_samples: Annotated[bool, Strict()] = False
    overwrite: Annotated[bool, Strict()] = False
    fail_on_error: Annotated[float | None, Field(ge=0.0, le=1.0)] = None
    show_progress: Annotated[bool, Strict()] = True

    @field_validator("tasks", mode="before")
    @classmethod
    def _task_list(cls, value: Any) -> list[Any]:
        """``"a,b"``, ``["a", "b"]``, a Task, or a list mixing names and Tasks -> one flat list."""
        out: list[Any] = []
        for item in value if isinstance(value, (list, tuple)) else [value]:
            if isinstance(item, str):
                out.extend(name.strip() for name in item.split(",") if name.strip())
            else:
                out.append(item)
        return out

    @property
    def shard_part(self) -> tuple[int, int] | None:
        """``shard`` as ``(I, N)`` for ``vbench.planning.plan``."""
        if self.shard is None:
            return None
        part, total = self.shard.split("/")
        return int(part), int(total)

    # -- building one ----------------------------------------------------------------------
    @classmethod
    def build(cls, values: dict[str, Any], where: str = "") -> "EvalConfig":
        """Validate ``values``; a UsageError naming ``where`` (a file, or nothing) and the key otherwise."""
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            raise UsageError(_one_line(exc, where)) from None

    @classmethod
    def from_file(cls, path: str | Path, overrides: dict[str, Any] | None = None) -> "EvalConfig":
        """The settings of a YAML file, with ``overrides`` (flags given on the command line) replacing its keys.
        The file is checked on its own first, so a problem is blamed on the file or on the flag that caused it."""
        config = cls.build(read_config_file(path), where=f"{path}: ")
        return config.updated(**overrides) if overrides else config

    def updated(self, **settings: Any) -> "EvalConfig":
        """A copy with ``settings`` replacing these values (checked like any other)."""
        return self.build({**{k: getattr(self, k) for k in self.model_fields_set}, **settings})

    # -- describing one --------------------------------------------------------------------
    def as_command(self) -> list[str]:
        """The equivalent ``vbench eval`` command (flags in a fixed order, secrets redacted): recorded in
        results.json, so a run started from a file or from flags records the same reproducible command."""
        cmd = ["vbench", "eval"]
        for name in type(self).model_fields:
            value, default = getattr(self, name), type(self).model_fields[name].get_default(call_default_factory=True)
            if value == default and name != "model":
                continue
            flag = f"--{name}"
            if name == "model_roles":
                for role, rm in value.items():
                    spec = _name_of(rm.model) + (f":{_kv(rm.model_args)}" if _kv(rm.model_args) else "")
                    cmd += ["--model-role", f"{role}={spec}"]
            elif name == "tasks":
                cmd += ["--tasks", ",".join(t if isinstance(t, str) else t.name for t in value)]
            elif name in ("model_args", "task_args", "gen_kwargs"):
                if _kv(value):
                    cmd += [flag, _kv(value, secrets=name == "model_args")]
            elif name == "use_cache":
                cmd.append("--no-cache")
            elif name == "show_progress":
                cmd.append("--quiet")
            elif name in ("skip_bad_samples", "overwrite"):
                cmd.append(flag)
            elif name == "fail_on_error":
                cmd += ["--fail-on-error", f"{value:g}"]
            else:
                cmd += [flag, _name_of(value)]
        return cmd


def _name_of(value: Any) -> str:
    return value.backend if isinstance(value, Runner) else str(value)


def _kv(value: KvArgs, secrets: bool = False) -> str:
    """A k=v mapping back in its flag form (``stop`` lists joined by ``|``)."""
    pairs = parse_kv(value) if value else {}
    if secrets:
        pairs = redact(pairs)
    return ",".join(f"{k}={'|'.join(v) if isinstance(v, (list, tuple)) else v}" for k, v in pairs.items())


def read_config_file(path: str | Path) -> dict[str, Any]:
    """The mapping a config file holds (keys may be written with ``-`` or ``_``); one line on anything wrong."""
    path = Path(path)
    try:
        text = path.read_text("utf-8")
    except FileNotFoundError:
        raise UsageError(f"--config {path}: no such file") from None
    except IsADirectoryError:
        raise UsageError(f"--config {path}: is a folder, not a YAML file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"--config {path}: cannot be read ({exc.__class__.__name__}: {exc})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise UsageError(f"{path}: not valid YAML ({problem}{where})") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UsageError(f"{path}: expected a mapping of settings (key: value), got a {type(data).__name__}")
    values = {str(k).replace("-", "_"): v for k, v in data.items()}
    known = list(EvalConfig.model_fields)
    for key in values:
        if key not in known:
            near = difflib.get_close_matches(key, known, n=1)
            hint = f"did you mean {near[0]!r}?" if near else f"known: {', '.join(known)}"
            raise UsageError(f"{path}: unknown key {key!r} ({hint})")
    kv_maps = [(values, key) for key in ("model_args", "task_args", "gen_kwargs")]
    if isinstance(values.get("model_roles"), dict):
        kv_maps += [(role, "model_args") for role in values["model_roles"].values() if isinstance(role, dict)]
    for holder, key in kv_maps:  # as typed after the flag: `reply: 3` means "3"
        if isinstance(holder.get(key), dict):
            holder[key] = {k: _as_typed(v) for k, v in holder[key].items()}
    return values


def _as_typed(value: Any) -> Any:
    """A YAML scalar as it would be written on the command line (lists and nulls stay as they are)."""
    if isinstance(value, bool):
        return str(value).lower()
    return str(value) if isinstance(value, (int, float)) else value


def _one_line(exc: ValidationError, where: str) -> str:
    """The first problem as ``<where><key>: <message> (got <value>)``."""
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"] if not (isinstance(p, str) and ("[" in p or p in _TYPE_TAGS)))
    msg = err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        return f"{where}unknown setting {loc!r} (known: {', '.join(EvalConfig.model_fields)})"
    got = err.get("input")
    shown = "" if isinstance(got, dict) or "got" in msg else f" (got {got!r})"
    key = f"{where}{loc}" if where else f"--{loc}"  # a file's key, or the flag / keyword of that name
    return f"{key}: {msg}{shown}"


_TYPE_TAGS = {"str", "int", "float", "bool", "dict", "list", "is-instance", "function-before", "function-after"}
