"""`vbench leaderboard verify`: re-run a random subset of a submission's episodes and compare.

The re-run uses the submission's own spec (model + args, task options, seed, gen kwargs, dataset) and
the same per-episode seeds, through the task's ``episode()`` and the shared Scheduler, with no response
cache. Each re-run episode agrees when every output matches (numbers within ``abs_tol``, text exactly);
the submission is verified when the share of agreeing episodes reaches ``min_agreement``.
"""
from __future__ import annotations

import math
import random
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from vbench.errors import UsageError
from vbench.leaderboard.checks import build_task_for, check_submission
from vbench.leaderboard.schema import InputError, Limits, Submission, Verification, read_strict
from vbench.session import Session
from vbench.version import __version__


def outputs_agree(submitted: Any, rerun: Any, abs_tol: float, path: str = "") -> str | None:
    """None when equal within tolerance, else the first differing field path."""
    if isinstance(submitted, dict) and isinstance(rerun, dict):
        if set(submitted) != set(rerun):
            return path or "(keys)"
        for k in submitted:
            bad = outputs_agree(submitted[k], rerun[k], abs_tol, f"{path}.{k}" if path else str(k))
            if bad:
                return bad
        return None
    if isinstance(submitted, list) and isinstance(rerun, list):
        if len(submitted) != len(rerun):
            return path
        for i, (a, b) in enumerate(zip(submitted, rerun)):
            bad = outputs_agree(a, b, abs_tol, f"{path}[{i}]")
            if bad:
                return bad
        return None
    num = (int, float)
    if isinstance(submitted, num) and isinstance(rerun, num) and not isinstance(submitted, bool) \
            and not isinstance(rerun, bool):
        return None if math.isclose(submitted, rerun, rel_tol=0.0, abs_tol=abs_tol) else path
    if isinstance(submitted, str) and isinstance(rerun, str):
        return None if submitted.strip() == rerun.strip() else path
    return None if submitted == rerun else path


def load_checked(path: Path, limits: Limits) -> tuple[Submission, bytes]:
    try:
        obj, raw = read_strict(path, limits)
    except InputError as exc:
        raise UsageError(f"{path}: {exc}") from None
    checked = check_submission(obj, limits)
    if not checked.ok or checked.submission is None:
        raise UsageError(f"{path}: not a valid submission: " + "; ".join(checked.reasons))
    if checked.submission.samples is None:
        raise UsageError(f"{path}: the submission withholds its records; there is nothing to re-run against")
    return checked.submission, raw


def _runner_args(spec) -> dict[str, Any]:
    return {k: v for k, v in spec.model_args.items() if v != "<redacted>"}


def _backend(spec) -> str:
    """The registered backend (model_args are complete, zoo defaults included); roles store the role as name."""
    from vbench.registry import MODELS

    return spec.backend if spec.backend in MODELS else spec.name


def _rerun(res, sub: Submission, session: Session, dataset: str | None, n: int, seed: int):
    """(chosen submitted records, their re-run records by episode id) through the session's Scheduler."""
    from vbench.evaluator import parse_gen_kwargs
    from vbench.planning import episode_specs, plan
    from vbench.types import Record

    task = build_task_for(res, store=session.store, dataset=dataset,
                          models={role: r.model_name for role, r in session.runners.items()})
    if task.version != res.task.version:
        raise UsageError(f"the submission used {res.task.name} v{res.task.version}; this vbench has v{task.version}")
    if task.prompt_set_hash() != res.task.prompt_set_hash:
        raise UsageError("this vbench's prompt set for the task differs from the submission's; cannot re-run it")
    samples = task.samples()
    data_match = task.dataset_fingerprint() == res.task.dataset_fingerprint
    if not data_match:
        raise UsageError(f"dataset {task.ctx.dataset!r} is not the submission's (fingerprint "
                         f"{task.dataset_fingerprint()} != {res.task.dataset_fingerprint}); pass the right --dataset")
    records = [Record.model_validate(r) for r in sub.samples or []]
    ok = sorted((r for r in records if r.status == "ok"), key=lambda r: r.episode_id)
    if not ok:
        raise UsageError("the submission has no finished episodes to re-run")
    chosen = random.Random(seed).sample(ok, min(n, len(ok)))

    # the run's own plan (ids, samples, seeds) decides what each chosen episode replays
    planned_by_id = {p.episode_id: p for p in plan([s.id for s in samples], res.run.repeats, res.run.seed, task.name)}
    for rec in chosen:
        p = planned_by_id.get(rec.episode_id)
        if p is None or (p.index, p.repeat) != (rec.index, rec.repeat):
            raise UsageError(f"episode {rec.episode_id} (sample {rec.index}, repeat {rec.repeat}) is not an episode "
                             f"of this run on this dataset ({len(samples)} samples x {res.run.repeats} repeats)")
    planned = [planned_by_id[rec.episode_id] for rec in chosen]

    rerun: dict[str, Record] = {}
    session.scheduler(gen_overrides=parse_gen_kwargs(dict(res.run.gen_kwargs)), spec_hash="verify",
                      task_name=task.name).run(episode_specs(task, samples, planned),
                                               lambda r: rerun.__setitem__(r.episode_id, r))
    return chosen, rerun


def verify(sub: Submission, sha256: str, submission_path: str, *, n: int = 8, seed: int = 0, abs_tol: float = 0.02,
           min_agreement: float = 0.9, dataset: str | None = None, model_args: dict[str, Any] | None = None,
           cache_dir: str | Path | None = None) -> Verification:
    """Re-run ``n`` random ok episodes of ``sub`` and compare their outputs with the submitted ones."""
    res = sub.results
    if n < 1:
        raise UsageError("--n must be >= 1")
    with Session(cache_dir, use_cache=False, batch_size=res.run.batch_size) as session:  # no cache: ask again
        main = session.add_runner("default", _backend(res.model), {**_runner_args(res.model), **(model_args or {})})
        for role, spec in res.roles.items():
            session.add_runner(role, _backend(spec), _runner_args(spec))
        chosen, rerun = _rerun(res, sub, session, dataset, n, seed)
    mismatches: list[dict[str, Any]] = []
    agreed = 0
    for rec in chosen:
        new = rerun.get(rec.episode_id)
        if new is None or new.status != "ok":
            bad = f"re-run failed: {(new.error if new else 'missing')}"
        else:
            field = outputs_agree(rec.outputs, new.outputs, abs_tol)
            bad = None if field is None else f"outputs differ at {field}"
        if bad is None:
            agreed += 1
        elif len(mismatches) < 50:
            mismatches.append({"episode_id": rec.episode_id, "reason": bad[:300]})
    agreement = agreed / len(chosen)
    return Verification(submission=submission_path, submission_sha256=sha256, passed=agreement >= min_agreement,
                        checked=len(chosen), agreed=agreed, agreement=agreement, min_agreement=min_agreement,
                        abs_tolerance=abs_tol, episode_ids=[r.episode_id for r in chosen], mismatches=mismatches,
                        model_fingerprint_match=main.fingerprint == res.model.fingerprint,
                        dataset_fingerprint_match=True, verified_with=__version__,
                        verified_at=datetime.now(timezone.utc).isoformat(timespec="seconds"))
