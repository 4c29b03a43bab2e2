"""Every check a submission must pass before it reaches a table.

Order: strict schema → names and numeric ranges → task identity (known task version, the prompt set
its options give: vbench.leaderboard.integrity) → per-sample integrity (line hashes, the run's
samples_sha256, counts) → metrics recomputed by the task's own ``metrics()`` from the records and
compared with the submitted block, key by key. Each failure becomes one human-readable reason.
"""
from __future__ import annotations

import hashlib
import json
import math
import re
import tempfile
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from vbench.leaderboard.schema import (FORMAT, FORMAT_VERSION, SUPPORTED_SCHEMA_VERSIONS, Limits, Submission)
from vbench.results import RunResults

_TASK_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_VERSION = re.compile(r"^[A-Za-z0-9._-]{1,32}$")
_HASH = re.compile(r"^[0-9a-f]{8,64}$")
_BASENAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
MAX_ABS = 1e15
REL_TOL, ABS_TOL = 1e-6, 1e-9


@dataclass
class Checked:
    """Outcome of checking one submission: accepted iff ``reasons`` is empty."""

    reasons: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    submission: Submission | None = None
    recomputed: bool = False
    metrics: dict[str, Any] | None = None  # the recomputed block: what the leaderboard shows
    digests: list[str] = field(default_factory=list)  # the records' content digests (duplicates, relabels)
    synthetic: list[str] = field(default_factory=list)  # why the run says nothing about a real model

    @property
    def ok(self) -> bool:
        return not self.reasons and self.submission is not None


def record_line(record: dict[str, Any]) -> bytes:
    """The exact samples.jsonl line of a record (as SamplesLog.finalize writes it), without newline."""
    return json.dumps(record, separators=(",", ":")).encode()


def line_sha256(record: dict[str, Any]) -> str:
    return hashlib.sha256(record_line(record)).hexdigest()


def pydantic_reason(exc: ValidationError, prefix: str) -> str:
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"]) or "(root)"
    more = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{prefix}: {loc}: {err['msg']}{more}"


def parse_submission(obj: Any) -> tuple[Submission | None, list[str]]:
    """Format and schema-version gates first (clear reasons), then the strict pydantic model."""
    if not isinstance(obj, dict):
        return None, ["not a JSON object"]
    if obj.get("format") != FORMAT:
        return None, [f"not a vbench submission (format must be {FORMAT!r})"]
    if obj.get("format_version") != FORMAT_VERSION:
        return None, [f"submission format_version {str(obj.get('format_version'))[:20]!r} is not supported "
                      f"(expected {FORMAT_VERSION!r})"]
    results = obj.get("results")
    version = results.get("schema_version") if isinstance(results, dict) else None
    if version not in SUPPORTED_SCHEMA_VERSIONS:
        return None, [f"results schema_version {str(version)[:20]!r} is not supported "
                      f"(this vbench reads {', '.join(SUPPORTED_SCHEMA_VERSIONS)})"]
    try:
        return Submission.model_validate(obj, strict=True), []
    except ValidationError as exc:
        return None, [pydantic_reason(exc, "schema")]


def _walk_metrics(obj: Any, path: str, out: list[tuple[str, Any]], limit: int,
                  long_keys: list[str] | None = None) -> None:
    """(path, leaf) of every scalar; keys over 200 characters go to ``long_keys`` instead."""
    if len(out) > limit:
        return
    if isinstance(obj, dict):
        for k, v in obj.items():
            if len(k) > 200 and long_keys is not None:
                long_keys.append(f"{path}.{k[:40]}…")
                continue
            _walk_metrics(v, f"{path}.{k}" if path else str(k), out, limit, long_keys)
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            _walk_metrics(v, f"{path}[{i}]", out, limit, long_keys)
    else:
        out.append((path, obj))


def _metric_value_reasons(key: str, mv: dict[str, Any]) -> list[str]:
    reasons = []
    value, lo, hi, n = mv.get("value"), mv.get("ci_low"), mv.get("ci_high"), mv.get("n")
    nums = [x for x in (value, lo, hi) if x is not None]
    if any(not isinstance(x, (int, float)) or isinstance(x, bool) for x in nums):
        return [f"metric {key}: value/ci must be numbers"]
    if n is not None and (not isinstance(n, int) or isinstance(n, bool) or n < 0):
        reasons.append(f"metric {key}: n must be a non-negative integer")
    if lo is not None and hi is not None and lo > hi + ABS_TOL:
        reasons.append(f"metric {key}: ci_low {lo:g} > ci_high {hi:g}")
    low_key = key.lower()
    bounds = None
    if any(w in low_key for w in ("pearson", "spearman", "corr")):
        bounds = (-1.0, 1.0)
    elif low_key.endswith("rate") or low_key.endswith("_share"):
        bounds = (0.0, 1.0)
    if bounds and any(x < bounds[0] - 1e-9 or x > bounds[1] + 1e-9 for x in nums):
        reasons.append(f"metric {key}: outside [{bounds[0]:g}, {bounds[1]:g}]")
    return reasons


def range_reasons(res: RunResults, limits: Limits) -> list[str]:
    """Names, identifiers, counts and metric values that no honest run can produce."""
    r: list[str] = []
    t, c = res.task, res.counts
    if not _TASK_NAME.match(t.name):
        r.append("task.name must match [a-z][a-z0-9_]*")
    if not _VERSION.match(t.version):
        r.append("task.version must match [A-Za-z0-9._-]{1,32}")
    for label, value in (("task.prompt_set_hash", t.prompt_set_hash), ("task.dataset_fingerprint", t.dataset_fingerprint),
                         ("model.fingerprint", res.model.fingerprint)):
        if not _HASH.match(value):
            r.append(f"{label} must be 8-64 lowercase hex digits")
    for label, value in (("model.name", res.model.name), ("model.model_id", res.model.model_id),
                         ("model.backend", res.model.backend), ("model.revision", res.model.revision or ""),
                         ("task.dataset", t.dataset or "")):
        if len(value) > limits.max_name_chars:
            r.append(f"{label} longer than {limits.max_name_chars} characters")
    if res.samples_file is not None and not _BASENAME.match(res.samples_file):
        r.append("samples_file must be a plain file name")
    if any(not _BASENAME.match(a) for a in res.artifacts):
        r.append("artifacts must be plain file names")
    if res.samples_sha256 is not None and not re.match(r"^[0-9a-f]{64}$", res.samples_sha256):
        r.append("samples_sha256 must be 64 lowercase hex digits")
    outside: list[tuple[str, Any]] = []
    _walk_metrics(res.model_dump(mode="python", exclude={"metrics"}), "", outside, 100_000)
    r += [f"{p}: non-finite number" for p, v in outside if isinstance(v, float) and not math.isfinite(v)][:3]
    ints = {"n_samples": c.n_samples, "n_episodes": c.n_episodes, "n_ok": c.n_ok, "n_error": c.n_error,
            "n_skipped_samples": c.n_skipped_samples, "model_calls": c.model_calls, "cache_hits": c.cache_hits,
            "scheduler_steps": c.scheduler_steps}
    r += [f"counts.{k} must be >= 0" for k, v in ints.items() if v < 0]
    if c.n_ok + c.n_error != c.n_episodes:
        r.append("counts: n_ok + n_error != n_episodes")
    if not 0 <= c.error_rate <= 1 or abs(c.error_rate - c.n_error / max(1, c.n_episodes)) > 1e-6:
        r.append("counts.error_rate inconsistent with n_error / n_episodes")
    if c.parse_failure_rate is not None and not 0 <= c.parse_failure_rate <= 1:
        r.append("counts.parse_failure_rate outside [0, 1]")
    if res.run.shard is not None:
        r.append(f"run is shard {res.run.shard.index}/{res.run.shard.count} of a sharded run, not a whole run: "
                 "join its shards with `vbench merge` first")
    if res.run.repeats < 1 or (res.run.limit is not None and res.run.limit < 1) or res.run.duration_s < 0:
        r.append("run: repeats/limit must be >= 1 and duration_s >= 0")
    leaves: list[tuple[str, Any]] = []
    long_keys: list[str] = []
    _walk_metrics(res.metrics, "", leaves, limits.max_metric_leaves, long_keys)
    r += [f"metric {k}: key longer than 200 characters" for k in long_keys[:3]]
    if len(leaves) > limits.max_metric_leaves:
        return r + [f"metrics: more than {limits.max_metric_leaves} values"]
    for path, v in leaves:
        if isinstance(v, float) and math.isfinite(v) and abs(v) > MAX_ABS:
            r.append(f"metric {path}: out of range")
        elif isinstance(v, str) and len(v) > 2000:
            r.append(f"metric {path}: string too long")
    stack: list[tuple[str, Any]] = [("", res.metrics)]
    while stack:
        path, obj = stack.pop()
        if isinstance(obj, dict):
            if "value" in obj and path:
                r += _metric_value_reasons(path, obj)
            stack.extend((f"{path}.{k}" if path else str(k), v) for k, v in obj.items() if k != "extra")
    return r[:20]


def sample_reasons(sub: Submission, limits: Limits) -> tuple[list[str], list[Any] | None]:
    """Line hashes, the run's samples_sha256 and the counts must all agree with the records."""
    from vbench.types import Record

    res = sub.results
    if sub.samples is None:
        return [], None
    if len(sub.samples) > limits.max_records:
        return [f"{len(sub.samples):,} records, over the {limits.max_records:,} limit"], None
    if len(sub.sample_hashes) != len(sub.samples):
        return ["sample_hashes and samples differ in length"], None
    lines, records = [], []
    for i, (raw, h) in enumerate(zip(sub.samples, sub.sample_hashes)):
        line = record_line(raw)
        if hashlib.sha256(line).hexdigest() != h.sha256:
            return [f"record {i} does not match its sample hash"], None
        try:
            rec = Record.model_validate(raw)
        except ValidationError as exc:
            return [pydantic_reason(exc, f"record {i}")], None
        if rec.episode_id != h.episode_id or rec.task != res.task.name:
            return [f"record {i}: episode id or task name disagrees with the submission"], None
        lines.append(line)
        records.append(rec)
    if res.samples_sha256 and hashlib.sha256(b"".join(x + b"\n" for x in lines)).hexdigest() != res.samples_sha256:
        return ["records do not hash to results.samples_sha256 (samples were altered)"], None
    if len({r.episode_id for r in records}) != len(records):
        return ["duplicate episode ids in the records"], None
    n_ok = sum(r.status == "ok" for r in records)
    if len(records) != res.counts.n_episodes or n_ok != res.counts.n_ok:
        return ["counts disagree with the records (n_episodes / n_ok)"], None
    return [], records


def diff(submitted: Any, recomputed: Any, path: str = "", out: list[str] | None = None) -> list[str]:
    """Paths where the submitted metrics disagree with the recomputed ones (the first few).

    Everything is compared, intervals included (bootstraps use a fixed seed, so a pure ``metrics()``
    gives the same bounds): floats within REL_TOL/ABS_TOL, and a key only one side has is a difference.
    """
    out = [] if out is None else out
    if len(out) >= 5:
        return out
    where = path or "(metrics)"
    if isinstance(submitted, dict) and isinstance(recomputed, dict):
        for k in sorted(submitted.keys() | recomputed.keys(), key=str):
            sub_path = f"{path}.{k}" if path else str(k)
            if k not in recomputed:
                out.append(f"{sub_path}: submitted but not recomputed")
            elif k not in submitted:
                out.append(f"{sub_path}: recomputed but missing from the submission")
            else:
                diff(submitted[k], recomputed[k], sub_path, out)
            if len(out) >= 5:
                break
    elif isinstance(submitted, list) and isinstance(recomputed, list):
        if len(submitted) != len(recomputed):
            out.append(f"{where}: lengths differ")
        for i, (a, b) in enumerate(zip(submitted, recomputed)):
            diff(a, b, f"{path}[{i}]", out)
    elif _is_num(submitted) and _is_num(recomputed):
        if math.isnan(submitted) and math.isnan(recomputed):
            return out
        if not math.isclose(submitted, recomputed, rel_tol=REL_TOL, abs_tol=ABS_TOL):
            out.append(f"{where}: submitted {submitted:.6g}, recomputed {recomputed:.6g}")
    elif submitted != recomputed:
        out.append(f"{where}: submitted {str(submitted)[:30]!r}, recomputed {str(recomputed)[:30]!r}")
    return out


def _is_num(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def build_task_for(res: RunResults, store=None, dataset: str | None = None, models: dict[str, str] | None = None):
    """The registered task class instantiated with the run's context (no dataset is touched here)."""
    from vbench.images import ImageStore
    from vbench.registry import TASKS
    from vbench.tasks.base import TaskContext

    cls = TASKS.get(TASKS.resolve(res.task.name))
    options = cls.Options.model_validate(res.task.options)
    store = store or ImageStore(tempfile.gettempdir())  # never written by metrics(): it needs no pixels
    if models is None:  # role -> model name, as the run's TaskContext had it
        models = {"default": res.model.model_id, **{role: spec.model_id for role, spec in res.roles.items()}}
    return cls(options, TaskContext(store=store, dataset=dataset or res.task.dataset, limit=res.run.limit,
                                    seed=res.run.seed, skip_bad_samples=bool(res.skipped_samples), models=models))


def recompute_reasons(res: RunResults, records: list[Any]) -> tuple[list[str], dict[str, Any] | None]:
    """(reasons, recomputed block): the task's own metrics() over the ok records vs the submitted one."""
    try:
        task = build_task_for(res)
    except ValidationError as exc:
        return [pydantic_reason(exc, "task.options")], None
    try:
        recomputed = json_metrics(task, [r for r in records if r.status == "ok"])
    except Exception as exc:  # hostile records can make any task code raise
        return [f"metrics could not be recomputed from the records ({type(exc).__name__}: {str(exc)[:120]})"], None
    differences = diff(res.metrics, recomputed)
    if differences:
        return ["metrics disagree with the records: " + "; ".join(differences)], recomputed
    return [], recomputed


def json_metrics(task: Any, ok_records: list[Any]) -> dict[str, Any]:
    """``task.metrics`` of the records as results.json holds them (plain JSON values), for comparisons."""
    return json.loads(json.dumps(task.metrics(ok_records), default=_jsonable))


def _jsonable(obj: Any) -> Any:
    if hasattr(obj, "model_dump"):
        return obj.model_dump(mode="json")
    if hasattr(obj, "item"):
        return obj.item()
    return str(obj)


def check_submission(obj: Any, limits: Limits, recompute: bool = True) -> Checked:
    """All checks on a parsed submission object; never raises for bad content."""
    from vbench.leaderboard.integrity import records_digests, task_identity_reasons
    from vbench.leaderboard.synthetic import submission_synthetic_reasons

    sub, reasons = parse_submission(obj)
    out = Checked(reasons=reasons, submission=sub)
    if sub is None:
        return out
    out.reasons += range_reasons(sub.results, limits)
    if out.reasons:
        return out
    out.reasons += task_identity_reasons(sub.results)
    if out.reasons:
        return out
    s_reasons, records = sample_reasons(sub, limits)
    out.reasons += s_reasons
    if out.reasons:
        return out
    out.digests = records_digests(sub.samples, [h.sha256 for h in sub.sample_hashes])
    out.synthetic = submission_synthetic_reasons(sub.results, sub.samples)
    if records is None:
        out.notes.append("records withheld: metrics not recomputed (shown unranked)")
        return out
    if recompute:
        r, block = recompute_reasons(sub.results, records)
        out.reasons += r
        out.recomputed = block is not None and not r
        out.metrics = block if out.recomputed else None
    return out
