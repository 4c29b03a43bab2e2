"""Is a run about a real model on real data? The reasons it is not, found from what vbench leaves behind.

vbench builds three kinds of stand-ins, each recognisable:

* the ``dummy`` backend (canned pseudo-random answers, no model at all);
* tiny random-weight models from ``vbench.testing`` / ``vbench demo``: their ``config.json`` carries
  ``vbench_synthetic`` (the reason);
* synthetic data: ``vbench data synthetic-avatars`` rows say ``"synthetic": true`` (ids
  ``synthetic-NNNN``), synthetic screenshots link to ``example.invalid``, the synthetic ISQ corpus has
  ``"synthetic": true`` in its ``meta.json``.

:func:`synthetic_reasons` runs at eval time (it may look at local files: the model folder, the dataset
folder). :func:`submission_synthetic_reasons` is the leaderboard's own look at a submission (no files
of the submitter's: the model spec, the submitted reasons and the records' sample metadata).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable

from vbench.results import ModelSpec, RunResults

MARKER_KEY = "vbench_synthetic"
DUMMY = "dummy backend: canned pseudo-random answers, no model"
_PATH_ARGS = ("pretrained", "model", "path")
_SCAN_ROWS = 200


def model_reasons(spec: ModelSpec, look_at_files: bool) -> list[str]:
    label = spec.model_id if spec.name in ("default", spec.model_id, spec.backend) else f"{spec.name}={spec.model_id}"
    if spec.backend == "dummy" or spec.name == "dummy":
        return [f"{label} is the {DUMMY}"]
    if not look_at_files:
        return []
    for key in _PATH_ARGS:
        value = spec.model_args.get(key)
        if not isinstance(value, str):
            continue
        config = Path(value).expanduser() / "config.json"
        try:
            marker = json.loads(config.read_text(encoding="utf-8")).get(MARKER_KEY) if config.is_file() else None
        except (OSError, ValueError, AttributeError):
            marker = None
        if marker:
            return [f"{label}: {marker}"]
    return []


def sample_reasons(metas: Iterable[object]) -> list[str]:
    """Synthetic markers in the samples' metadata (what every record carries as ``sample``; not a dict: skipped)."""
    for i, meta in enumerate(metas):
        if i >= 10_000:
            break
        if not isinstance(meta, dict):
            continue
        if meta.get("synthetic") is True or str(meta.get("id", "")).startswith("synthetic-"):
            return ["synthetic data: the samples are vbench's synthetic stand-ins, not the study's"]
        if "example.invalid" in str(meta.get("url", "")):
            return ["synthetic data: synthetic screenshots (example.invalid links)"]
    return []


def _first_rows(path: Path) -> list[dict[str, Any]]:
    rows = []
    try:
        with open(path, encoding="utf-8") as fh:
            for n, line in enumerate(fh):
                if n >= _SCAN_ROWS:
                    break
                try:
                    obj = json.loads(line)
                except ValueError:
                    continue
                if isinstance(obj, dict):
                    rows.append(obj)
    except OSError:
        return []
    return rows


def dataset_reasons(dataset: str | None) -> list[str]:
    """Markers in a local dataset folder (its metadata rows, its or its corpus's meta.json)."""
    if not dataset:
        return []
    root = Path(dataset).expanduser()
    if not root.is_dir():
        return []
    for folder in (root, root.parent):
        meta = folder / "meta.json"
        try:
            info = json.loads(meta.read_text(encoding="utf-8")) if meta.is_file() else {}
        except (OSError, ValueError):
            info = {}
        if isinstance(info, dict) and (info.get("synthetic") is True or info.get("clip_model") == "synthetic"):
            return [f"synthetic data: {folder.name} is a synthetic corpus (meta.json)"]
    for name in ("metadata.jsonl", "split/metadata.jsonl", "images/metadata.jsonl"):
        found = sample_reasons(_first_rows(root / name))
        if found:
            return found
    return []


def _unique(reasons: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(reasons))


def synthetic_reasons(results: RunResults, samples_meta: Iterable[dict[str, Any]] = ()) -> list[str]:
    """Eval time: every reason the run says nothing about a real model on real data ([] for a real run)."""
    specs = [results.model, *results.roles.values()]
    found = [r for s in specs for r in model_reasons(s, look_at_files=True)]
    found += dataset_reasons(results.task.dataset) or sample_reasons(samples_meta)
    return _unique(found)


def submission_synthetic_reasons(results: RunResults, records: list[dict[str, Any]] | None) -> list[str]:
    """Leaderboard side: the submitted reasons plus what the spec and the records show by themselves."""
    specs = [results.model, *results.roles.values()]
    found = list(results.synthetic) + [r for s in specs for r in model_reasons(s, look_at_files=False)]
    found += sample_reasons(r.get("sample") for r in records or [])
    return _unique(found)
