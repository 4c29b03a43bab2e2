"""Leaderboard speed figures: build over 2,000 submissions; load + sort a 500-row board in Chromium.

    python benchmarks/bench_leaderboard.py [--n 2000] [--workdir DIR]

Submissions are derived from two real dummy-backend runs on synthetic avatars (40 images, and a
20-image subset = a second board): each copy gets its own pseudo-random outputs, and is resealed like
an honest run (record hashes, samples_sha256, metrics from the task's own metrics()), so the build
does the full work on every file: strict parse, schema, ranges, hashes and metric recomputation.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def _base_runs(work: Path) -> list[dict]:
    import vbench
    from vbench.data.synthetic import build_synthetic_avatars
    from vbench.leaderboard.pack import dumps, pack_run

    data = build_synthetic_avatars(work / "avatars", n=40, seed=0)
    bases = []
    for name, limit in (("full", None), ("subset", 20)):
        vbench.evaluate(model="dummy", tasks=["aggressiveness_rating"], dataset=str(data), limit=limit,
                        output_path=work / name, cache_dir=work / "cache", show_progress=False)
        bases.append(json.loads(dumps(pack_run(work / name / "dummy" / "aggressiveness_rating" / "results.json"))))
    return bases


def _variant(args: tuple[dict, int, str]) -> None:
    from vbench.leaderboard.checks import build_task_for, line_sha256, record_line
    from vbench.leaderboard.pack import dumps, layout_path
    from vbench.leaderboard.schema import Submission
    from vbench.results import RunResults
    from vbench.types import Record

    base, i, out = args
    rng = random.Random(i)
    obj = json.loads(json.dumps(base))
    model = f"org{i % 97}/model-{i % 211}"
    obj["results"]["model"]["model_id"] = model
    obj["results"]["run"]["seed"] = i
    for rec in obj["samples"]:
        probs = [rng.random() + 1e-3 for _ in range(7)]
        total = sum(probs)
        rec["outputs"]["probs"] = {str(k + 1): p / total for k, p in enumerate(probs)}
        rec["outputs"]["expected_rating"] = sum((k + 1) * p / total for k, p in enumerate(probs))
        rating = rng.choice([None, 1, 2, 3, 4, 5, 6, 7])
        rec["outputs"].update(rating=rating, parse_ok=rating is not None, answer=str(rating))
    obj["sample_hashes"] = [{"episode_id": r["episode_id"], "sha256": line_sha256(r)} for r in obj["samples"]]
    obj["results"]["samples_sha256"] = hashlib.sha256(b"".join(record_line(r) + b"\n" for r in obj["samples"])).hexdigest()
    flags = [r["outputs"]["parse_ok"] for r in obj["samples"]]
    obj["results"]["counts"]["parse_failure_rate"] = 1 - sum(flags) / len(flags)
    res = RunResults.model_validate(obj["results"])
    recs = [Record.model_validate(r) for r in obj["samples"]]
    obj["results"]["metrics"] = json.loads(json.dumps(build_task_for(res).metrics(recs)))
    sub = Submission.model_validate(obj)
    path = Path(out) / layout_path(sub)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(dumps(sub))


def make_dataset(work: Path, n: int, subset_rows: int) -> Path:
    ds = work / "dataset"
    if ds.exists() and sum(1 for _ in ds.rglob("*.json")) == n:
        return ds
    bases = _base_runs(work)
    jobs = [(bases[1] if i < subset_rows else bases[0], i, str(ds)) for i in range(n)]
    with ProcessPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        list(pool.map(_variant, jobs, chunksize=20))
    return ds


def _cpu() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def time_build(ds: Path, out: Path, workers: int | None, cache: Path | None) -> tuple[float, float, float, dict]:
    """(wall seconds, CPU seconds of this process and its workers, of which rendering, report)."""
    from vbench.leaderboard.build import collect
    from vbench.leaderboard.render import write_site
    from vbench.leaderboard.schema import Limits

    cpu0, t0 = _cpu(), time.perf_counter()
    boards, report = collect(str(ds), Limits(), workers=workers, cache_path=cache)
    cpu1 = _cpu()
    write_site(boards, report, out, "vbench leaderboard")
    return time.perf_counter() - t0, _cpu() - cpu0, _cpu() - cpu1, report.as_dict()


def browser_figures(site: Path, rows: int) -> dict[str, float] | str:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tests.leaderboard.browser import chrome, find_browser, serve

    if find_browser()[2]:
        return find_browser()[2]
    index = json.loads((site / "tables" / "index.json").read_text())
    board = next(b for b in index if b["rows"] == rows)
    out: dict[str, float] = {}
    with serve(site) as base, chrome() as drv:
        loads, num_sorts, text_sorts = [], [], []
        for _ in range(5):
            drv.get(f"{base}/boards/{board['board']}.html")
            nav = drv.execute_script("var e = performance.getEntriesByType('navigation')[0];"
                                     "return [e.domContentLoadedEventEnd, e.loadEventEnd];")
            loads.append(nav[1])
            assert len(drv.find_elements("css selector", "#leaderboard tbody tr")) == rows
            for col, bucket in (("pearson_human_expected_rating", num_sorts), ("model", text_sorts)):
                bucket.append(drv.execute_script(
                    "var th = document.querySelector(\"#leaderboard th[data-col='\" + arguments[0] + \"']\");"
                    "var t = performance.now(); th.click(); var a = performance.now() - t;"
                    "t = performance.now(); th.click(); return (a + performance.now() - t) / 2;", col))
        out["page_load_ms_median"] = sorted(loads)[len(loads) // 2]
        out["sort_numeric_ms_median"] = sorted(num_sorts)[len(num_sorts) // 2]
        out["sort_text_ms_median"] = sorted(text_sorts)[len(text_sorts) // 2]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--rows", type=int, default=500, help="rows of the board timed in the browser")
    ap.add_argument("--workdir", default=None, help="keep generated submissions here (reused when present)")
    args = ap.parse_args()
    work = Path(args.workdir or tempfile.mkdtemp(prefix="vbench-bench-lb-"))
    os.environ.setdefault("VBENCH_CACHE", str(work / "cache"))
    t0 = time.perf_counter()
    ds = make_dataset(work, args.n, args.rows)
    print(f"dataset: {args.n} submissions in {ds} (generated in {time.perf_counter() - t0:.1f}s)")
    size = sum(p.stat().st_size for p in ds.rglob("*.json"))
    print(f"  total size {size / 2**20:.1f} MiB, {size / args.n / 1024:.1f} KiB per submission")
    results = {}
    print(f"machine: {os.cpu_count()} cores, load average before the builds {os.getloadavg()[0]:.1f}")
    cache = work / f"verdicts-{os.getpid()}.sqlite"
    runs = (("cold, parallel (all cores)", None, None), ("cold, one process", 1, None),
            ("cold, parallel, filling the verdict cache", None, cache), ("rebuild, unchanged files (cache)", None, cache))
    for label, workers, cache_path in runs:
        secs, cpu, render_cpu, report = time_build(ds, work / "site-all", workers, cache_path)
        results[label] = secs
        print(f"build, {label}: {secs:.2f}s wall, {cpu:.2f}s CPU (site rendering {render_cpu:.2f}s), "
              f"for {report['accepted']} accepted / "
              f"{len(report['rejected'])} rejected, {len(report['boards'])} boards "
              f"({cpu / args.n * 1000:.1f} ms CPU per submission); load average now {os.getloadavg()[0]:.1f}")
    print(f"  parallel speed-up {results['cold, one process'] / results['cold, parallel (all cores)']:.2f}x; "
          f"target < 20 s wall")
    for leftover in work.glob(cache.name + "*"):
        leftover.unlink()
    figures = browser_figures(work / "site-all", args.rows)
    if isinstance(figures, str):
        print(f"browser: skipped ({figures})")
    else:
        print(f"browser, {args.rows}-row board: page load {figures['page_load_ms_median']:.0f} ms, "
              f"sort numeric column {figures['sort_numeric_ms_median']:.1f} ms, "
              f"sort text column {figures['sort_text_ms_median']:.1f} ms (medians of 5; target < 1000 ms)")


if __name__ == "__main__":
    main()
