"""`vbench merge`: join the shards of one run into the run an unsharded `vbench eval` would have written.

Parts must belong together (same vbench version, task spec, models, seed, repeats, generation settings
and plan digest; every part 1..N exactly once; every record in the part its id hashes to; together
exactly the planned episodes) or nothing is written. samples.jsonl is the parts' canonical lines in
episode order, so it equals the unsharded run's byte for byte; the metrics are recomputed with the
task's own pure ``metrics()``. Only invocation fields (timings, command, call and hit counts) differ.
"""
from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from vbench.errors import UsageError
from vbench.images import STORE_POINTER, ImageStore, read_store_pointer
from vbench.leaderboard.checks import build_task_for, json_metrics
from vbench.output_lock import OutputLock
from vbench.results import Counts, RunResults, RunSpec, atomic_write_text, write_results
from vbench.samples_log import RunTally
from vbench.scale.shards import plan_digest
from vbench.types import Record

_SAME_FIELDS = ("vbench_version", "task", "model", "roles", "skipped_samples", "synthetic")
_SAME_RUN = ("seed", "limit", "repeats", "gen_kwargs")


@dataclass
class Part:
    """One shard folder: its results and its samples.jsonl lines with the fields merging needs."""

    where: Path
    results: RunResults
    lines: list[tuple[int, int, str, bytes]]  # (index, repeat, episode id, canonical line)

    @property
    def label(self) -> str:
        s = self.results.run.shard
        return f"{self.where} (shard {s.index}/{s.count})" if s else str(self.where)


def find_parts(paths: list[Path]) -> list[Path]:
    """Shard folders: each path is one, or a folder holding ``shard-I-of-N`` folders (any depth up to 3)."""
    found: list[Path] = []
    for path in paths:
        if not path.is_dir():
            raise UsageError(f"{path}: no such folder")
        if path.name.startswith("shard-") and (path / "results.json").is_file():
            found.append(path)
            continue
        below = sorted(p.parent for p in path.rglob("results.json")
                       if p.parent.name.startswith("shard-") and len(p.relative_to(path).parts) <= 4)
        if not below and (path / "results.json").is_file():
            below = [path]  # read_part says why a whole run cannot be merged
        if not below:
            raise UsageError(f"{path}: no shard folder (shard-I-of-N/results.json) found")
        found += below
    if len(set(found)) != len(found):
        raise UsageError("a shard folder is given twice")
    return found


def read_part(where: Path) -> Part:
    try:
        res = RunResults.model_validate_json((where / "results.json").read_bytes())
    except (OSError, ValidationError, ValueError) as exc:
        raise UsageError(f"{where}/results.json: not a vbench results file ({str(exc).splitlines()[0][:120]})") from None
    if res.run.shard is None:
        raise UsageError(f"{where} is a whole run, not a shard (its results.json has no run.shard)")
    samples = where / (res.samples_file or "samples.jsonl")
    try:
        raw = samples.read_bytes()
    except OSError:
        raise UsageError(f"{samples}: missing (a shard is merged with its records)") from None
    if hashlib.sha256(raw).hexdigest() != res.samples_sha256:
        raise UsageError(f"{samples} does not match its results.json (changed, or the shard was interrupted: "
                         "re-run its `vbench eval --shard` command to finish it)")
    lines = []
    for n, line in enumerate(raw.splitlines(), 1):
        try:
            obj = json.loads(line)
            lines.append((int(obj["index"]), int(obj["repeat"]), str(obj["episode_id"]), line))
        except (ValueError, KeyError, TypeError):
            raise UsageError(f"{samples}:{n}: not a vbench record") from None
    return Part(where, res, lines)


def check_parts(parts: list[Part]) -> None:
    """Refuse parts that are not exactly the shards of one run (UsageError naming the first problem)."""
    first = parts[0].results
    shard = first.run.shard
    assert shard is not None
    for part in parts[1:]:
        res = part.results
        for name in _SAME_FIELDS:
            if getattr(res, name) != getattr(first, name):
                raise UsageError(f"{part.label} and {parts[0].label} are not parts of one run: {name} differs")
        for name in _SAME_RUN:
            if getattr(res.run, name) != getattr(first.run, name):
                raise UsageError(f"{part.label} and {parts[0].label} are not parts of one run: run.{name} differs")
        other = res.run.shard
        assert other is not None
        if (other.count, other.plan_digest) != (shard.count, shard.plan_digest):
            raise UsageError(f"{part.label} and {parts[0].label} are not parts of one run: "
                             "shard count or episode plan differs")
    seen: dict[int, Part] = {}
    for part in parts:
        index = part.results.run.shard.index  # type: ignore[union-attr]
        if index in seen:
            raise UsageError(f"shard {index}/{shard.count} given twice: {seen[index].where} and {part.where}")
        seen[index] = part
    missing = [i for i in range(1, shard.count + 1) if i not in seen]
    if missing:
        raise UsageError(f"shard {missing[0]}/{shard.count} of {first.model.model_id} on {first.task.name} is "
                         f"missing ({len(parts)} of {shard.count} given)")
    from vbench.planning import shard_of

    for part in parts:
        index = part.results.run.shard.index  # type: ignore[union-attr]
        for _, _, eid, _ in part.lines:
            if shard_of(eid, shard.count) != index:
                raise UsageError(f"{part.label}: record {eid!r} belongs to shard {shard_of(eid, shard.count)}")


def merged_lines(parts: list[Part]) -> list[tuple[int, int, str, bytes]]:
    lines = sorted((x for p in parts for x in p.lines), key=lambda x: (x[0], x[1]))
    digest = plan_digest(eid for _, _, eid, _ in lines)
    if digest != parts[0].results.run.shard.plan_digest:  # type: ignore[union-attr]
        raise UsageError(f"the shards of {parts[0].results.task.name} do not hold exactly the planned episodes "
                         "(an episode is missing or duplicated)")
    return lines


def merge_parts(parts: list[Part], out_dir: Path, command: list[str], overwrite: bool = False) -> RunResults:
    """Check, then write ``out_dir``/samples.jsonl, results.json, artifacts and the image store pointer."""
    check_parts(parts)
    lines = merged_lines(parts)
    first = parts[0].results
    records = [Record.model_validate_json(line) for _, _, _, line in lines]
    if len({r.spec_hash for r in records}) > 1:
        raise UsageError(f"the shards of {first.task.name} hold records of different run specs")
    ok = [r for r in records if r.status == "ok"]
    pointer = read_store_pointer(parts[0].where)
    task = build_task_for(first, store=ImageStore(pointer) if pointer else None)
    metrics = json_metrics(task, ok)
    if (out_dir / "results.json").exists() and not overwrite:
        raise UsageError(f"{out_dir} already holds a run; pass --overwrite to replace it")
    with OutputLock(out_dir):
        data = b"".join(line + b"\n" for _, _, _, line in lines)
        atomic_write_text(out_dir / "samples.jsonl", data.decode("utf-8"))
        _write_tally(parts, out_dir, records[0].spec_hash if records else "")
        artifacts = task.artifacts(ok, out_dir)
        if (parts[0].where / STORE_POINTER).is_file():
            shutil.copyfile(parts[0].where / STORE_POINTER, out_dir / STORE_POINTER)
        res = merged_results(parts, records, metrics, artifacts, command, hashlib.sha256(data).hexdigest())
        write_results(out_dir / "results.json", res)
    return res


def merged_results(parts: list[Part], records: list[Record], metrics: dict[str, Any], artifacts: list[str],
                   command: list[str], samples_sha256: str) -> RunResults:
    first = parts[0].results
    ok = [r for r in records if r.status == "ok"]
    flags = [r.outputs["parse_ok"] for r in ok if "parse_ok" in r.outputs]
    n_err = len(records) - len(ok)
    runs = [p.results.run for p in parts]
    run = RunSpec(seed=first.run.seed, limit=first.run.limit, repeats=first.run.repeats,
                  batch_size=first.run.batch_size, gen_kwargs=first.run.gen_kwargs, command=command,
                  started_at=min(r.started_at for r in runs), finished_at=max(r.finished_at for r in runs),
                  duration_s=round(sum(r.duration_s for r in runs), 3))
    counts = Counts(n_samples=first.counts.n_samples, n_episodes=len(records), n_ok=len(ok), n_error=n_err,
                    error_rate=n_err / max(1, len(records)), n_skipped_samples=first.counts.n_skipped_samples,
                    parse_failure_rate=(1 - sum(flags) / len(flags)) if flags else None,
                    model_calls=sum(p.results.counts.model_calls for p in parts),
                    cache_hits=sum(p.results.counts.cache_hits for p in parts),
                    scheduler_steps=sum(p.results.counts.scheduler_steps for p in parts))
    return first.model_copy(update={
        "run": run, "counts": counts, "metrics": metrics, "artifacts": artifacts,
        "errors": [{"episode_id": r.episode_id, "error": r.error or ""} for r in records if r.error][:20],
        "samples_file": "samples.jsonl", "samples_sha256": samples_sha256})


def _write_tally(parts: list[Part], out_dir: Path, spec_hash: str) -> None:
    """The parts' per-invocation call counts, so a later `vbench eval` resume of the merged run adds up."""
    tally = RunTally(out_dir / "samples.jsonl", spec_hash)
    tally.invocations = {}
    for part in parts:
        tally.invocations.update(RunTally(part.where / "samples.jsonl", spec_hash).invocations)
    if tally.invocations:
        text = json.dumps({"spec_hash": spec_hash, "invocations": tally.invocations}, sort_keys=True)
        atomic_write_text(tally.path, text + "\n")


def group_parts(parts: list[Part]) -> dict[tuple[str, str], list[Part]]:
    """Parts by (model folder, task): one merged run each."""
    from vbench.evaluator import slug

    groups: dict[tuple[str, str], list[Part]] = {}
    for part in parts:
        res = part.results
        names = {"default": res.model.model_id, **{role: spec.model_id for role, spec in res.roles.items()}}
        model_slug = slug("__".join(f"{r}={names[r]}" if r != "default" else names[r] for r in sorted(names)))
        groups.setdefault((model_slug, res.task.name), []).append(part)
    return groups


def merge(paths: list[Path], output_path: Path, command: list[str], overwrite: bool = False) -> dict[Path, RunResults]:
    """Every run among ``paths``' shards, merged to ``output_path/<model>/<task>/``; all checked before any write."""
    parts = [read_part(p) for p in find_parts(paths)]
    groups = group_parts(parts)
    for group in groups.values():
        check_parts(group)
        merged_lines(group)
    out: dict[Path, RunResults] = {}
    for (model_slug, task_name), group in groups.items():
        out_dir = output_path / model_slug / task_name
        out[out_dir] = merge_parts(group, out_dir, command, overwrite)
    return out
