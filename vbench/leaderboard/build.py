"""`vbench leaderboard build`: every submission checked, grouped into strictly comparable boards.

Files are checked in worker processes (the recompute of each run's metrics dominates); a rejected file
is listed in the build report with every reason, never silently dropped.
"""
from __future__ import annotations

import hashlib
import multiprocessing as mp
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from vbench.leaderboard.board import SCOPES, Board, Row, attach_papers
from vbench.leaderboard.checks import check_submission, pydantic_reason
from vbench.leaderboard.integrity import PublishedDatasets
from vbench.leaderboard.schema import InputError, Limits, Verification, display_name, read_strict
from vbench.leaderboard.store import list_files, open_source
from vbench.leaderboard.verdicts import VerdictCache, default_cache_path
from vbench.results import RunResults
from vbench.version import __version__

PARALLEL_THRESHOLD = 64  # below this, worker start-up costs more than it saves


@dataclass
class BuildReport:
    source: str
    accepted: int = 0
    verified: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)
    notes: list[dict[str, Any]] = field(default_factory=list)
    synthetic: list[dict[str, Any]] = field(default_factory=list)
    boards: list[dict[str, Any]] = field(default_factory=list)
    include_synthetic: bool = False
    seconds: float = 0.0
    vbench_version: str = __version__

    def reject(self, file: str, reasons: list[str]) -> None:
        self.rejected.append({"file": display_name(file, 300), "reasons": [display_name(r, 400) for r in reasons]})

    def as_dict(self) -> dict[str, Any]:
        return {"source": self.source, "vbench_version": self.vbench_version, "accepted": self.accepted,
                "verified": self.verified, "rejected": self.rejected, "notes": self.notes,
                "synthetic": self.synthetic, "include_synthetic": self.include_synthetic,
                "boards": self.boards, "seconds": round(self.seconds, 3)}


def check_file(item: tuple[str, str, dict[str, Any]]) -> dict[str, Any]:
    """Worker: read + check one submission file; returns only plain data (picklable, small)."""
    rel, path, limits_dict = item
    limits = Limits(**limits_dict)
    try:
        obj, raw = read_strict(Path(path), limits)
    except InputError as exc:
        return {"file": rel, "reasons": [str(exc)]}
    sha = hashlib.sha256(raw).hexdigest()
    try:
        checked = check_submission(obj, limits)
    except Exception as exc:  # last line of defence: a checker bug must not abort the build
        return {"file": rel, "reasons": [f"check failed: {type(exc).__name__}: {str(exc)[:200]}"]}
    submission = checked.submission
    if not checked.ok or submission is None:
        return {"file": rel, "reasons": checked.reasons, "sha256": sha}
    res = submission.results.model_dump(mode="json")
    if checked.metrics is not None:
        res["metrics"] = checked.metrics  # show what the records give, not what was typed in
    return {"file": rel, "reasons": [], "sha256": sha, "results": res, "notes": checked.notes,
            "recomputed": checked.recomputed, "digests": checked.digests, "synthetic": checked.synthetic,
            "packed_at": submission.packed_at}


def check_files(items: list[tuple[str, Path]], limits: Limits, workers: int | None,
                cache: VerdictCache | None = None) -> list[dict[str, Any]]:
    """Outcome per file, in order: cached verdicts for files seen before, the rest checked now."""
    done: dict[str, dict[str, Any]] = {}
    if cache is not None:
        shas = {rel: _sha256(path, limits) for rel, path in items}
        hits = cache.get_many(sorted({s for s in shas.values() if s}))
        done = {rel: {**hits[sha], "file": rel} for rel, sha in shas.items() if sha in hits}
    jobs = [(rel, str(path), limits.model_dump()) for rel, path in items if rel not in done]
    workers = workers if workers is not None else min(os.cpu_count() or 1, 8)
    if workers <= 1 or len(jobs) < PARALLEL_THRESHOLD:
        fresh = [check_file(j) for j in jobs]
    else:
        _warm_up()
        with ProcessPoolExecutor(max_workers=workers, mp_context=_context()) as pool:
            fresh = list(pool.map(check_file, jobs, chunksize=max(1, len(jobs) // (workers * 8))))
    if cache is not None:
        cache.put_many({out["sha256"]: {k: v for k, v in out.items() if k != "file"} for out in fresh if "sha256" in out})
    done.update((out["file"], out) for out in fresh)
    return [done[rel] for rel, _ in items]


def _sha256(path: Path, limits: Limits) -> str | None:
    """The file's hash when it is a readable regular file within the size limit (else no cache use)."""
    try:
        if path.is_symlink() or not path.is_file() or path.stat().st_size > limits.max_file_bytes:
            return None
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def _context():
    """fork: workers inherit the imports done by _warm_up (statsmodels, scipy, task modules)."""
    return mp.get_context("fork") if "fork" in mp.get_all_start_methods() else mp.get_context("spawn")


def _warm_up() -> None:
    import statsmodels.regression.linear_model  # noqa: F401  (the shared statistics every task's metrics() uses)
    from scipy import stats  # noqa: F401

    from vbench.registry import TASKS

    for entry in TASKS.entries():
        try:
            entry.load()
        except Exception:  # an unimportable plugin is reported per submission, not here
            pass


def load_verifications(items: list[tuple[str, Path]], limits: Limits, report: BuildReport) -> dict[str, Verification]:
    """Passed verifications by the sha256 of the submission file they re-ran."""
    out: dict[str, Verification] = {}
    for rel, path in items:
        try:
            obj, _ = read_strict(path, limits)
            ver = Verification.model_validate(obj, strict=True)
        except InputError as exc:
            report.reject(rel, [str(exc)])
            continue
        except ValidationError as exc:
            report.reject(rel, [pydantic_reason(exc, "verification schema")])
            continue
        if ver.passed:
            out[ver.submission_sha256] = ver
    return out


def collect(source: str, limits: Limits, workers: int | None = None, include_paper: bool = True,
            revision: str | None = None, cache_path: Path | None = None, include_synthetic: bool = False,
            dataset_copies: dict[str, str] | None = None) -> tuple[list[Board], BuildReport]:
    """Every file checked (or its cached verdict reused when ``cache_path`` is given), grouped into boards."""
    t0 = time.perf_counter()
    root = open_source(source, revision)
    report = BuildReport(source=display_name(source, 300), include_synthetic=include_synthetic)
    listing = list_files(root, limits)
    for rel, reason in listing.rejected:
        report.reject(rel, [reason])
    verified = load_verifications(listing.verifications, limits, report)
    boards: dict[Any, Board] = {}
    seen: dict[str, tuple[str, str]] = {}  # records digest -> (first file, its model)
    published = PublishedDatasets(dataset_copies)
    cache = VerdictCache(cache_path, limits) if cache_path else None
    try:
        outcomes = check_files(listing.submissions, limits, workers, cache)
    finally:
        if cache is not None:
            cache.close()
    for out in outcomes:
        if out["reasons"]:
            report.reject(out["file"], out["reasons"])
    accepted = sorted((o for o in outcomes if not o["reasons"]), key=lambda o: (o["packed_at"], o["file"]))
    for out in accepted:  # the earliest packed copy of a run is the original
        res = RunResults.model_validate(out["results"])
        model = res.model.model_id + "".join(f"+{r}={s.model_id}" for r, s in sorted(res.roles.items()))
        first = next((seen[d] for d in out["digests"] if d in seen), None) or (out["file"], model)
        for d in out["digests"]:
            seen.setdefault(d, first)
        if first[0] != out["file"]:
            why = (f"duplicate of {first[0]} (same records)" if first[1] == model else
                   f"relabelled copy of {first[0]}: same records, model {display_name(model, 80)!r} "
                   f"instead of {display_name(first[1], 80)!r}")
            report.reject(out["file"], [why])
            continue
        is_published, reasons = published.check(res)
        if reasons:
            report.reject(out["file"], reasons)
            continue
        report.accepted += 1
        if out["synthetic"]:
            report.synthetic.append({"file": display_name(out["file"], 300),
                                     "reasons": [display_name(r, 200) for r in out["synthetic"]]})
            if not include_synthetic:
                continue
        row = Row.from_results(out["results"], out["file"], out["sha256"], out["recomputed"], out["notes"],
                               "published" if is_published else "other", out["synthetic"])
        ver = verified.get(out["sha256"])
        if ver is not None:
            row.tier = "verified"
            row.verification = {"checked": ver.checked, "agreement": ver.agreement, "at": display_name(ver.verified_at, 40)}
            report.verified += 1
        if out["notes"]:
            report.notes.append({"file": display_name(out["file"], 300), "notes": row.notes})
        boards.setdefault(row.key, Board(key=row.key)).rows.append(row)
    result = sorted(boards.values(), key=lambda b: (b.key.task, SCOPES.index(b.key.scope), -len(b.rows), b.key))
    if include_paper:
        result = attach_papers(result)
    for board in result:
        board.finalize()
        report.boards.append({"board": board.board_id, "task": board.key.task, "version": board.key.version,
                              "scope": board.key.scope, "ranked": board.ranked,
                              "prompt_set_hash": board.key.prompt_set_hash,
                              "dataset_fingerprint": board.key.dataset_fingerprint,
                              "choice_scoring": board.key.choice_scoring, "rows": len(board.rows)})
    report.seconds = time.perf_counter() - t0
    return result, report


def build(source: str, out: Path, limits: Limits | None = None, workers: int | None = None,
          include_paper: bool = True, title: str = "vbench leaderboard", revision: str | None = None,
          use_cache: bool = True, include_synthetic: bool = False, dataset_copies: dict[str, str] | None = None,
          space: bool = False) -> BuildReport:
    from vbench.leaderboard.render import write_site

    t0 = time.perf_counter()
    boards, report = collect(source, limits or Limits(), workers, include_paper, revision,
                             default_cache_path() if use_cache else None, include_synthetic, dataset_copies)
    write_site(boards, report, out, title, space=space)
    report.seconds = time.perf_counter() - t0
    return report
