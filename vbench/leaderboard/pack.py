"""Turn an eval output folder into submission files: results + records + one sha256 per record line.

The per-line hashes chain to ``results.samples_sha256`` (the hash of the whole samples.jsonl written
by the run), so the leaderboard can tell that the records are the run's own, and then recompute the
metrics from them.
"""
from __future__ import annotations

import hashlib
import json
from datetime import datetime, timezone
from pathlib import Path

from vbench.errors import UsageError
from vbench.leaderboard.checks import check_submission, record_line
from vbench.leaderboard.schema import InputError, Limits, Submission, read_strict, safe_slug
from vbench.leaderboard.store import SUBMISSIONS
from vbench.version import __version__


def find_runs(path: Path, max_depth: int = 4) -> list[Path]:
    """results.json files: the path itself, RUN_DIR/results.json, or every run below an output folder."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise UsageError(f"{path}: no such file or folder")
    if (path / "results.json").is_file():
        return [path / "results.json"]
    found = sorted(p for p in path.rglob("results.json")
                   if len(p.relative_to(path).parts) <= max_depth and not p.is_symlink()
                   and not _merged_shard(p))
    if not found:
        raise UsageError(f"{path}: no results.json found (give a run folder written by `vbench eval`)")
    return found


def _merged_shard(results_path: Path) -> bool:
    """A shard folder (``<task>/shard-I-of-N/``) whose task folder already holds the merged run."""
    return (results_path.parent.name.startswith("shard-")
            and (results_path.parent.parent / "results.json").is_file())


def model_folder(sub: Submission) -> str:
    """One folder per model (roles included, as `vbench eval` names its output folder)."""
    res = sub.results
    parts = [res.model.model_id] + [f"{role}={spec.model_id}" for role, spec in sorted(res.roles.items())]
    return safe_slug("__".join(parts))


def run_id(sub: Submission) -> str:
    body = json.dumps(sub.results.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(body.encode()).hexdigest()[:12]


def layout_path(sub: Submission, kind: str = SUBMISSIONS) -> str:
    t = sub.results.task
    return f"{kind}/{model_folder(sub)}/{safe_slug(t.name, 64)}__{safe_slug(t.version, 32)}__{run_id(sub)}.json"


def dumps(model) -> bytes:
    return (json.dumps(model.model_dump(mode="json"), separators=(",", ":"), ensure_ascii=True) + "\n").encode()


def assemble(results_path: Path, limits: Limits, require_samples: bool = True, notes: str | None = None) -> dict:
    """The submission object of a run folder (unchecked); UsageError when the folder is not a clean run."""
    where = results_path.parent
    try:
        results, _ = read_strict(results_path, limits)
    except InputError as exc:
        raise UsageError(f"{results_path}: {exc}") from None
    if not isinstance(results, dict):
        raise UsageError(f"{results_path}: not a results.json object")
    samples_path = where / Path(str(results.get("samples_file") or "samples.jsonl")).name
    records: list | None = None
    hashes: list[dict] = []
    if samples_path.is_file():
        raw = samples_path.read_bytes()
        if results.get("samples_sha256") and hashlib.sha256(raw).hexdigest() != results["samples_sha256"]:
            raise UsageError(f"{samples_path} does not match its results.json (changed after the run, or the run "
                             f"was interrupted: re-run the same `vbench eval` command to finish it)")
        records = []
        for n, line in enumerate(raw.splitlines(), 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except ValueError:
                raise UsageError(f"{samples_path}:{n}: not JSON") from None
            if not isinstance(obj, dict) or record_line(obj) != line:
                raise UsageError(f"{samples_path}:{n}: not written by `vbench eval` (non-canonical line)")
            records.append(obj)
            hashes.append({"episode_id": str(obj.get("episode_id", "")), "sha256": hashlib.sha256(line).hexdigest()})
    elif require_samples:
        raise UsageError(f"{where}: {samples_path.name} is missing (the per-sample records are required to submit)")
    return {"format": "vbench-submission", "format_version": "1", "results": results,
            "sample_hashes": hashes, "samples": records,
            "packed_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "packed_with": __version__, "notes": notes}


def pack_run(results_path: Path, include_samples: bool = True, notes: str | None = None,
             limits: Limits | None = None) -> Submission:
    """Read a run, check it exactly as the leaderboard will, and return the submission (UsageError if bad)."""
    limits = limits or Limits()
    checked = check_submission(assemble(results_path, limits, True, notes), limits)
    if not checked.ok:
        raise UsageError(f"{results_path.parent}: not submittable: " + "; ".join(checked.reasons))
    sub = checked.submission
    assert sub is not None
    if not include_samples:
        sub = sub.model_copy(update={"samples": None})
    return sub


def pack_all(path: Path, include_samples: bool = True, notes: str | None = None) -> dict[str, bytes]:
    """{layout path: file bytes} for every run under ``path``; nothing is returned unless all pass."""
    files: dict[str, bytes] = {}
    for results_path in find_runs(path):
        sub = pack_run(results_path, include_samples, notes)
        files[layout_path(sub)] = dumps(sub)
    return files
