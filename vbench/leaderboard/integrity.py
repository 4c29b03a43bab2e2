"""What makes a run rankable: a task version and prompt set this vbench can recompute, a dataset it
can name, and records nobody submitted before.

* The task version must be this vbench's version of the task (older or made-up versions cannot be
  recomputed, so their numbers never reach a table).
* The prompt-set hash must be the one the task's own ``prompt_set()`` gives for the submitted options.
* A run on a dataset vbench publishes must carry that dataset's fingerprint (checked in the build,
  see :class:`PublishedDatasets`); a run on any other dataset goes to an unranked "other datasets" board.
* Two files with the same records are one run: the digest is over the parsed records serialised
  canonically, so a whitespace or BOM re-serialisation collides, and a copy under another model id
  is rejected as a relabelled copy of the first (the earliest packed; ties by path).
"""
from __future__ import annotations

import hashlib
import json
from typing import Any

from pydantic import ValidationError

from vbench.data.defaults import DEFAULT_DATASETS
from vbench.results import RunResults

PUBLISHED_KINDS = ("avatars", "screenshots")  # datasets runs are made on ("results" holds submissions)


def canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=True).encode()


def records_digests(records: list[dict[str, Any]] | None, line_hashes: list[str]) -> list[str]:
    """Content digests of a run: the records re-serialised canonically (order-free), and its record line
    hashes (all a submission that withholds its records has), so either kind of copy is recognised."""
    lines = "l:" + hashlib.sha256("\n".join(sorted(line_hashes)).encode()).hexdigest()
    if records is None:
        return [lines]
    canon = sorted(hashlib.sha256(canonical(r)).hexdigest() for r in records)
    return ["c:" + hashlib.sha256("\n".join(canon).encode()).hexdigest(), lines]


def task_identity_reasons(res: RunResults) -> list[str]:
    """Unknown task, unknown task version, options the task refuses, or a prompt set it does not produce."""
    from vbench.leaderboard.checks import build_task_for, pydantic_reason
    from vbench.registry import TASKS

    name, version = res.task.name, res.task.version
    if name not in TASKS:
        return [f"unknown task {name!r} (not registered in this vbench)"]
    cls = TASKS.get(TASKS.resolve(name))
    if cls.version != version:
        return [f"unknown task version: {name} v{version} (this vbench has v{cls.version}; only runs it can "
                f"recompute are accepted)"]
    try:
        task = build_task_for(res)
        expected = task.prompt_set_hash()
    except ValidationError as exc:
        return [pydantic_reason(exc, "task.options")]
    except Exception as exc:  # options naming files this machine does not have, a task bug
        return [f"prompt set of {name} v{version} cannot be recomputed for these options "
                f"({type(exc).__name__}: {str(exc)[:120]})"]
    if expected != res.task.prompt_set_hash:
        return [f"unknown prompt set: prompt_set_hash {res.task.prompt_set_hash} is not the one {name} "
                f"v{version} uses with these options ({expected})"]
    return []


def published_id(dataset: str | None) -> str | None:
    """The Hub id of the vbench-published dataset a run names (None for the task default), else ''."""
    from vbench.data.defaults import resolve_dataset

    if dataset is None:
        return None
    resolved = resolve_dataset(dataset)
    published = {DEFAULT_DATASETS[k] for k in PUBLISHED_KINDS}
    return resolved if resolved in published else ""


class PublishedDatasets:
    """Fingerprints of the published datasets, computed by the task itself on a copy of the data.

    ``copies`` maps a published Hub id to a local copy (``--dataset-copy ID=PATH``); otherwise the
    dataset is loaded by its id (the Hub). Each (task, options, dataset, limit) is fingerprinted once.
    """

    def __init__(self, copies: dict[str, str] | None = None):
        self.copies = dict(copies or {})
        self._cache: dict[str, tuple[str | None, str | None]] = {}

    def check(self, res: RunResults) -> tuple[bool, list[str]]:
        """(published, reasons): a published dataset with the wrong fingerprint gives a reason."""
        pid = published_id(res.task.dataset)
        if pid == "":
            return False, []
        from vbench.leaderboard.checks import build_task_for

        dataset = self.copies.get(pid, pid) if pid else None
        key = canonical([res.task.name, res.task.options, pid, res.run.limit]).decode()
        if key not in self._cache:
            try:
                from vbench.images import default_store

                task = build_task_for(res, store=default_store(), dataset=dataset)
                self._cache[key] = (task.dataset_fingerprint(), None)
            except Exception as exc:  # not downloadable here, a broken copy: the run cannot be checked
                self._cache[key] = (None, f"{type(exc).__name__}: {str(exc).splitlines()[0][:160] if str(exc) else ''}")
        fingerprint, error = self._cache[key]
        label = pid or "the task's default dataset"
        if fingerprint is None:
            return True, [f"dataset fingerprint cannot be checked: {label} could not be loaded ({error})"]
        if fingerprint != res.task.dataset_fingerprint:
            return True, [f"dataset fingerprint {res.task.dataset_fingerprint} does not match {label} "
                          f"(expected {fingerprint} for these options and limit)"]
        return True, []
