"""`vbench.evaluate`: the Python API behind `vbench eval`.

Order matters for "nothing half-written": settings (one ``EvalConfig``), names, models (cheap
construction) and every sample are validated before the output folder is touched; weights load only on
the first cache miss. The run's store, cache and runners belong to one ``Session``, closed on every exit.
"""
from __future__ import annotations

import hashlib
import os
import re
import sys
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

from vbench.args import parse_kv, redact, validate_args
from vbench.config import EvalConfig
from vbench.data.sources import check_dataset_source
from vbench.errors import UsageError
from vbench.images import write_store_pointer
from vbench.leaderboard.synthetic import synthetic_reasons
from vbench.output_lock import OutputLock
from vbench.registry import TASKS
from vbench.results import Counts, ModelSpec, RunResults, RunSpec, TaskSpec, write_results
from vbench.planning import episode_specs, plan
from vbench.runners.base import Runner
from vbench.runners.cache import TallyKey
from vbench.samples_log import SamplesLog
from vbench.session import Session
from vbench.scale.shards import shard_dir_name, shard_spec
from vbench.tasks.base import Task, TaskContext, stable_hash
from vbench.types import GenParams, Record
from vbench.version import __version__, git_commit

_GEN_KEYS = set(GenParams.model_fields)


def slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_")[:80] or "model"


def model_folder(names: dict[str, str]) -> str:
    """A run's model folder from its role -> model name map: the main ("default") model's name, then each
    other role as ``role=name``, in role order (``vbench sweep`` predicts folders with it)."""
    return slug("__".join(f"{r}={n}" if r != "default" else n for r, n in sorted(names.items())))


def parse_gen_kwargs(text: str | dict | None) -> dict[str, Any]:
    raw: dict[str, Any] = parse_kv(text, "--gen_kwargs")  # values become typed (stop: a tuple)
    unknown = set(raw) - _GEN_KEYS
    if unknown:
        raise UsageError(f"--gen_kwargs: unknown key {sorted(unknown)[0]!r} (known: {', '.join(sorted(_GEN_KEYS))})")
    if "stop" in raw and isinstance(raw["stop"], str):
        raw["stop"] = tuple(s for s in raw["stop"].split("|") if s)
    checked = validate_args(GenParams, raw, "--gen_kwargs")
    return {k: getattr(checked, k) for k in raw}


def build_task(name: str, task_args: str | dict | None, ctx: TaskContext) -> Task:
    cls = TASKS.get(name)
    options = validate_args(cls.Options, parse_kv(task_args, "--task_args"), "--task_args")
    return cls(options, ctx)


def _model_spec(name: str, runner: Runner) -> ModelSpec:
    return ModelSpec(name=name, backend=runner.backend, model_id=runner.model_name,
                     model_args=redact(runner.args.model_dump(mode="json")), fingerprint=runner.fingerprint,
                     revision=getattr(runner.args, "revision", None),
                     choice_scoring=getattr(runner, "choice_scoring", None))


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def evaluate(model: str | Runner | None = None, model_args: str | dict | None = None,
             tasks: str | Task | list[str | Task] | None = None, *, config: EvalConfig | None = None,
             command: list[str] | None = None, on_results: Callable[[RunResults], None] | None = None,
             **settings: Any) -> dict[str, RunResults]:
    """Evaluate one model (or several roles) on tasks; returns {task name: RunResults}.

    Settings are ``EvalConfig``'s fields: pass ``config=`` and/or keywords (keywords win). ``model`` and
    role models may be Runner instances (used, not closed), ``tasks`` may hold Task instances (they run
    with their own options and context, on this run's image store).
    """
    given = {k: v for k, v in (("model", model), ("model_args", model_args), ("tasks", tasks)) if v is not None}
    cfg = (config.updated(**given, **settings) if config is not None
           else EvalConfig.build({**given, **settings}))
    if not cfg.tasks:
        raise UsageError("no task given (use --tasks NAME[,NAME]; `vbench ls tasks` lists them)")
    for t in cfg.tasks:
        if isinstance(t, str):
            TASKS.resolve(t)
    overrides = parse_gen_kwargs(cfg.gen_kwargs)
    check_dataset_source(cfg.dataset)  # a typo or an unreachable Hub: one line in seconds, before heavy imports

    with Session.for_config(cfg) as session:
        session.add_runner("default", cfg.model, cfg.model_args)
        for role, role_model in cfg.model_roles.items():  # --backend: only aliases that offer it
            session.add_runner(role, role_model.model, role_model.model_args, strict_backend=False)
        runners = session.runners
        ctx = TaskContext(store=session.store, dataset=cfg.dataset, limit=cfg.limit, seed=cfg.seed,
                          skip_bad_samples=cfg.skip_bad_samples,
                          models={role: r.model_name for role, r in runners.items()})
        built = [_adopt(t, session, ctx) if isinstance(t, Task) else build_task(t, cfg.task_args, ctx)
                 for t in cfg.tasks]
        for task in built:
            extra_roles = set(runners) - {"default"} - set(task.roles)
            if extra_roles:
                raise UsageError(f"task {task.name} has no role {sorted(extra_roles)[0]!r} (roles: {', '.join(task.roles)})")
        prepared = [(task, task.samples()) for task in built]  # all input validated before any output

        model_slug = model_folder({role: r.model_name for role, r in runners.items()})
        model_name = cfg.model.backend if isinstance(cfg.model, Runner) else cfg.model
        results: dict[str, RunResults] = {}
        for task, samples in prepared:
            res = _run_task(task, samples, cfg, session, model_name, overrides,
                            Path(cfg.output_path) / model_slug / task.name
                            / (shard_dir_name(cfg.shard_part) if cfg.shard_part else ""), command)
            results[task.name] = res
            if on_results:
                on_results(res)
    return results


def _adopt(task: Task, session: Session, ctx: TaskContext) -> Task:
    """A Task instance joins the run: its images go to the run's store; its models are the run's, unless set."""
    task.ctx.store = session.store
    if not task.ctx.models:
        task.ctx.models = dict(ctx.models)
    return task


def _run_task(task: Task, samples, cfg: EvalConfig, session: Session, model_name: str, overrides: dict,
              out_dir: Path, command: list[str] | None) -> RunResults:
    started, t0 = _now(), time.perf_counter()
    options = task.options.model_dump(mode="json")
    repeats = cfg.repeats or task.default_repeats
    fingerprints = {role: r.fingerprint for role, r in sorted(session.runners.items())}
    spec_hash = stable_hash({"task": task.name, "version": task.version, "prompts": task.prompt_set_hash(),
                             "options": options, "models": fingerprints, "seed": task.ctx.seed, "repeats": repeats,
                             "gen": overrides, "dataset": task.ctx.dataset})
    with OutputLock(out_dir):
        return _run_locked(task, samples, cfg, session, model_name, overrides, repeats, out_dir, command,
                           spec_hash, started, t0, options)


def _run_locked(task: Task, samples, cfg: EvalConfig, session: Session, model_name: str, overrides: dict,
                repeats: int, out_dir: Path, command: list[str] | None, spec_hash: str, started: str, t0: float,
                options: dict) -> RunResults:
    runners, seed, show_progress = session.runners, task.ctx.seed, cfg.show_progress
    log = SamplesLog(out_dir / "samples.jsonl", spec_hash)
    tally_run = stable_hash({"samples": str(log.path.resolve()), "spec": spec_hash})
    if cfg.overwrite:
        log.remove()
        if session.cache is not None:
            session.cache.forget_tallies(tally_run)
    previous = log.read()
    invocation = f"{started}/{os.getpid()}/{uuid.uuid4().hex[:8]}"  # unique even for two runs in one second
    done = {r.episode_id: r for r in previous if r.status == "ok"}

    planned = plan([s.id for s in samples], repeats, seed, task.name, shard=cfg.shard_part)
    total = len(planned)
    new_records: list[Record] = []
    bar = None
    if show_progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=total, initial=len(done), desc=task.name, unit="ep", file=sys.stderr, leave=False)
    scheduler = session.scheduler(gen_overrides=overrides, spec_hash=spec_hash, task_name=task.name,
                                  progress=bar.update if bar else None, tally_key=TallyKey(tally_run, invocation, lambda: log.tally.register(invocation)))
    def on_record(rec: Record) -> None:
        log.append(rec)
        new_records.append(rec)
        log.tally.update(invocation, scheduler.stats.model_calls, scheduler.stats.cache_hits)

    log.open()
    try:
        stats = scheduler.run(episode_specs(task, samples, planned, set(done)), on_record)
    finally:
        log.close()
        if new_records:
            log.tally.update(invocation, scheduler.stats.model_calls, scheduler.stats.cache_hits)
        if bar:
            bar.close()
    if done and show_progress:
        print(f"{task.name}: resumed: {len(done)} episodes from {log.path.name}, {stats.cache_hits} cached responses, "
              f"{stats.model_calls} model calls", file=sys.stderr)
    all_records = list(done.values()) + new_records
    log.finalize(all_records)
    run_calls, run_hits = log.tally.totals(session.cache.tallies(tally_run) if session.cache is not None else None)
    all_records.sort(key=lambda r: (r.index, r.repeat))
    ok = [r for r in all_records if r.status == "ok"]
    metrics = task.metrics(ok)
    artifacts = task.artifacts(ok, out_dir)
    parse_flags = [r.outputs["parse_ok"] for r in ok if "parse_ok" in r.outputs]
    n_err = len(all_records) - len(ok)
    main = runners["default"]
    res = RunResults(
        vbench_version=__version__,
        git_commit=git_commit(),
        task=TaskSpec(name=task.name, version=task.version, prompt_set_hash=task.prompt_set_hash(),
                      dataset=task.ctx.dataset, dataset_fingerprint=task.dataset_fingerprint(), options=options),
        model=_model_spec(model_name, main),
        roles={role: _model_spec(role, r) for role, r in runners.items() if role != "default"},
        run=RunSpec(seed=seed, limit=task.ctx.limit, repeats=repeats, batch_size=cfg.batch_size, gen_kwargs=overrides,
                    command=command or [], started_at=started, finished_at=_now(),
                    duration_s=round(time.perf_counter() - t0, 3),
                    shard=shard_spec(cfg.shard_part, [s.id for s in samples], repeats)),
        counts=Counts(n_samples=len(samples), n_episodes=len(all_records), n_ok=len(ok), n_error=n_err,
                      error_rate=n_err / max(1, len(all_records)), n_skipped_samples=len(task.skipped),
                      parse_failure_rate=(1 - sum(parse_flags) / len(parse_flags)) if parse_flags else None,
                      model_calls=run_calls, cache_hits=run_hits,
                      scheduler_steps=stats.steps),
        metrics=metrics,
        skipped_samples=task.skipped,
        errors=[{"episode_id": r.episode_id, "error": r.error or ""} for r in all_records if r.error][:20],
        samples_file=log.path.name,
        samples_sha256=_file_sha256(log.path),
        artifacts=artifacts,
    )
    res.synthetic = synthetic_reasons(res, [s.meta for s in samples])
    write_results(out_dir / "results.json", res)
    write_store_pointer(out_dir, task.ctx.store)
    return res


def error_budget_exceeded(res: RunResults, rate: float | None = None) -> str | None:
    """Why a run counts as failed (``--fail-on-error RATE``): more than RATE of its episodes failed,
    or, by default, every one of them. None when the run is good enough to report."""
    c = res.counts
    if c.n_episodes == 0 or c.n_error == 0:
        return None
    failed = c.error_rate > rate if rate is not None else c.n_ok == 0
    if not failed:
        return None
    first = res.errors[0]["error"] if res.errors else ""
    bar = f"more than {rate:g} allowed by --fail-on-error" if rate is not None else "every episode failed"
    return (f"{res.task.name}: {c.n_error} of {c.n_episodes} episodes failed ({bar}); first error: "
            f"{first[:200]}; details in results.json")
