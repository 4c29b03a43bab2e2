"""Finding runs and reading what a run list shows: model, task, date, headline metric, errors.

A run is a folder with a ``samples.jsonl`` (and normally a ``results.json``). Older or partial runs are
still listed; what they lack is said in ``notes`` instead of failing.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from vbench.errors import UsageError
from vbench.images import default_store_dir, read_store_pointer

SAMPLES = "samples.jsonl"
RESULTS = "results.json"
MAX_DEPTH = 4


class RunInfo(BaseModel):
    """One run as the viewer lists it."""

    run_id: str = Field(description="short stable id used in URLs")
    path: Path
    task: str
    model: str
    date: str = ""
    headline: str = ""
    headline_value: str = ""
    n_episodes: int | None = None
    n_error: int | None = None
    parse_failure_rate: float | None = None
    synthetic: list[str] = Field(default_factory=list)
    images: Path
    notes: list[str] = Field(default_factory=list, description="what this run's files lack")
    results: dict[str, Any] = Field(default_factory=dict)

    @property
    def samples(self) -> Path:
        return self.path / SAMPLES

    @property
    def label(self) -> str:
        return f"{self.model} · {self.task}"


def _fmt(v: Any) -> str:
    from vbench.leaderboard.views import interval, scalar

    x = scalar(v)
    if x is None:
        return ""
    lo, hi = interval(v) if isinstance(v, dict) else (None, None)
    return f"{x:.3g}" + (f" [{lo:.3g}, {hi:.3g}]" if lo is not None and hi is not None else "")


def _headline(task: str, metrics: dict[str, Any]) -> tuple[str, str]:
    """The task's declared headline (its display.yaml), else its first summary row that holds a number."""
    from vbench.leaderboard.views import display_for, resolve

    display = display_for(task)
    for metric in display.headline if display else []:
        cell = resolve(metrics, metric.candidates())
        if cell.value is not None:
            return cell.label or metric.label, _fmt({"value": cell.value, "ci_low": cell.lo, "ci_high": cell.hi})
    for name, value in _summary_rows(task, metrics):
        text = _fmt(value)
        if text:
            return name, text
    return "", ""


def _summary_rows(task: str, metrics: dict[str, Any]) -> list[tuple[str, Any]]:
    from vbench.registry import TASKS

    if task not in TASKS:
        return []
    try:
        return [(str(k), v) for k, v in TASKS.get(TASKS.resolve(task)).summary_rows(metrics)]
    except Exception:  # a task's summary hook must not break the viewer
        return []


def load_run(path: Path, images: Path | None = None) -> RunInfo:
    """Read one run folder; raises UsageError when it is not a run at all."""
    path = Path(path)
    if not (path / SAMPLES).is_file():
        raise UsageError(f"{path} is not a vbench run (no {SAMPLES}; give a run folder or a folder holding runs)")
    notes: list[str] = []
    res: dict[str, Any] = {}
    if (path / RESULTS).is_file():
        try:
            res = json.loads((path / RESULTS).read_text(encoding="utf-8"))
            if not isinstance(res, dict):
                raise ValueError
        except (OSError, ValueError):
            res = {}
            notes.append(f"{RESULTS} is unreadable: no metrics or counts")
    else:
        notes.append(f"no {RESULTS}: no metrics or counts (an unfinished run?)")
    task = (res.get("task") or {}).get("name") or _first_task(path / SAMPLES) or path.name
    model = (res.get("model") or {}).get("model_id") or path.parent.name
    counts = res.get("counts") or {}
    headline, value = _headline(task, res.get("metrics") or {})
    store = images or read_store_pointer(path)
    if store is None:
        store = default_store_dir()
        notes.append(f"the run does not name its image store; using {store}")
    digest = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:10]
    return RunInfo(run_id=digest, path=path, task=task, model=str(model),
                   date=((res.get("run") or {}).get("finished_at") or "")[:19].replace("T", " "),
                   headline=headline, headline_value=value, n_episodes=counts.get("n_episodes"),
                   n_error=counts.get("n_error"), parse_failure_rate=counts.get("parse_failure_rate"),
                   synthetic=list(res.get("synthetic") or []), images=store, notes=notes, results=res)


def _first_task(samples: Path) -> str | None:
    try:
        with open(samples, encoding="utf-8") as fh:
            line = fh.readline()
        return json.loads(line).get("task") or None
    except (OSError, ValueError, AttributeError):
        return None


def find_runs(paths: list[Path], images: Path | None = None) -> list[RunInfo]:
    """Every run in or under the given folders (a run folder itself, or e.g. ``demo/results``)."""
    runs: list[RunInfo] = []
    for root in paths:
        root = Path(root)
        if not root.is_dir():
            raise UsageError(f"{root} is not a folder (give a run folder or a folder holding runs)")
        found = [root] if (root / SAMPLES).is_file() else sorted(
            p.parent for depth in range(1, MAX_DEPTH + 1) for p in root.glob("/".join(["*"] * depth) + "/" + SAMPLES))
        if not found:
            raise UsageError(f"{root} holds no vbench run (no {SAMPLES} in it or below)")
        runs += [load_run(p, images) for p in found]
    first: dict[str, RunInfo] = {}  # a run found twice (given twice, or under a given folder) is listed once
    for r in runs:
        first.setdefault(r.run_id, r)
    return list(first.values())
