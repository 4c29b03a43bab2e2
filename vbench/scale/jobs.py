"""One sweep job: a `vbench eval` call (one cell, or one shard of it), run in-process or on a Ray worker.

A job never raises for a failing model or bad data: it returns a failed outcome with one line, so one
failing cell never stops the others. Only the loss of its worker (killed, out of memory, node gone)
escapes, and the executor retries the job; the retry resumes from the run folder's samples.jsonl.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import socket
import tempfile
import time
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from vbench.scale.plan import JobSpec

SNAPSHOTS = ".vbench-sweep/caches"


class JobOutcome(BaseModel):
    label: str
    cell: str
    status: Literal["ok", "failed"]
    error: str | None = None
    seconds: float = 0.0
    n_episodes: int = 0
    model_calls: int = 0
    snapshot: str | None = None  # cache snapshot folder under the output root, for the driver to merge
    worker: str = ""


def job_id(spec: JobSpec, output: str) -> str:
    """The same job of the same sweep (a retry) gets the same id; other sweeps' jobs never share it."""
    return hashlib.sha256(f"{output}/{spec.cell_key}/{spec.shard}".encode()).hexdigest()[:16]


def eval_command(spec: JobSpec, output_path: str) -> list[str]:
    """The `vbench eval` command this job amounts to (recorded in results.json)."""
    from vbench.args import parse_kv

    def kv(value: str | dict) -> str:
        return ",".join(f"{k}={v}" for k, v in parse_kv(value).items())

    cmd = ["vbench", "eval", "--model", spec.model, "--tasks", spec.task, "--seed", str(spec.seed),
           "--output_path", output_path]
    for flag, value in (("--model_args", kv(spec.model_args)), ("--backend", spec.backend),
                        ("--task_args", kv(spec.task_args)), ("--dataset", spec.dataset),
                        ("--limit", spec.limit), ("--repeats", spec.repeats),
                        ("--gen_kwargs", kv(spec.gen_kwargs)),
                        ("--shard", f"{spec.shard[0]}/{spec.shard[1]}" if spec.shard else None)):
        if value not in (None, ""):
            cmd += [flag, str(value)]
    for role, player in spec.model_roles.items():
        args = kv(player.model_args)
        cmd += ["--model-role", f"{role}={player.model}" + (f":{args}" if args else "")]
    return cmd


def worker_cache_dir(spec: JobSpec, output: str) -> Path:
    """A job's own cache on its worker's local disk: kept for a retry on that node, removed once the
    job's snapshot is written."""
    return Path(tempfile.gettempdir()) / "vbench-sweep-cache" / job_id(spec, output)


def run_job(spec: JobSpec, output: str, cache_dir: str | None, snapshot: bool, cwd: str | None = None) -> JobOutcome:
    """Run the job; with ``snapshot`` (Ray), use a worker-local cache and leave a snapshot of it under
    ``output`` for the driver to merge. ``cwd``: the driver's folder, where relative dataset and model
    paths are read (when this worker has it), so results name them exactly as a local run does."""
    here = os.getcwd()
    if cwd and os.path.isdir(cwd):
        os.chdir(cwd)
    try:
        return _run_job(spec, output, cache_dir, snapshot)
    finally:
        os.chdir(here)


def _run_job(spec: JobSpec, output: str, cache_dir: str | None, snapshot: bool) -> JobOutcome:
    from vbench.errors import VbenchError
    from vbench.evaluator import error_budget_exceeded, evaluate
    from vbench.scale import caches, storage

    t0 = time.perf_counter()
    worker = f"{socket.gethostname()}:{os.getpid()}"
    local_cache = worker_cache_dir(spec, output) if snapshot else (Path(cache_dir) if cache_dir else None)
    try:
        with storage.staged(output, spec.out_rel) as out:
            results = evaluate(
                model=spec.model, model_args=spec.model_args, tasks=[spec.task], backend=spec.backend,
                model_roles={role: (r.model, r.model_args) for role, r in spec.model_roles.items()},
                dataset=spec.dataset, limit=spec.limit, batch_size=spec.batch_size, seed=spec.seed,
                repeats=spec.repeats, output_path=out, gen_kwargs=spec.gen_kwargs, task_args=spec.task_args,
                cache_dir=local_cache, show_progress=False, command=eval_command(spec, output), shard=spec.shard)
        res = results[spec.task]
        snap = None
        if snapshot and local_cache is not None:
            snap = f"{SNAPSHOTS}/{job_id(spec, output)}"
            with storage.staged(output, snap) as root:
                caches.snapshot(local_cache, root / snap)
            shutil.rmtree(local_cache, ignore_errors=True)
        failed = error_budget_exceeded(res)
        return JobOutcome(label=spec.label, cell=spec.cell, status="failed" if failed else "ok", error=failed,
                          seconds=time.perf_counter() - t0, n_episodes=res.counts.n_episodes,
                          model_calls=res.counts.model_calls, snapshot=snap, worker=worker)
    except VbenchError as exc:
        error = str(exc)
    except Exception as exc:  # a failing cell must not stop the sweep: report it as one line
        error = f"{type(exc).__name__}: {str(exc).splitlines()[0][:300] if str(exc) else ''}"
    return JobOutcome(label=spec.label, cell=spec.cell, status="failed", error=error,
                      seconds=time.perf_counter() - t0, worker=worker)
