"""`vbench sweep` on a local Ray cluster (2 CPUs): per-cell scheduling overhead, and 4 cells on 2 workers
vs the same 4 cells one after another with the local executor.

Overhead: one-cell sweeps (dummy model, 1 episode) on a warm cluster; per cell, the sweep's wall time
minus the time the job itself reports (planning, Ray dispatch, result, cache snapshot and merge, cell
mark). Speed-up: 2 tiny random VLMs x 2 tasks (aggressiveness_rating, ultimatum_solo), fresh caches,
`--executor local` vs `--executor ray` in one run. Ray starts its cluster once (its start-up time is
printed apart). The machine is shared and noisy: the load average is printed.

Run: python benchmarks/bench_sweep.py [--cells 6] [--limit 6]   (CPU; a few minutes)
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from rich.console import Console  # noqa: E402

from vbench.data.synthetic import build_synthetic_avatars  # noqa: E402
from vbench.scale.plan import SweepConfig, apply_overrides  # noqa: E402
from vbench.scale.sweep import run_sweep  # noqa: E402
from vbench.testing.tiny_models import build_tiny_llava, build_tiny_qwen2vl  # noqa: E402


def sweep(cfg: SweepConfig, models: list[str], tasks: list[str], executor: str) -> tuple[float, list[float]]:
    t0 = time.perf_counter()
    board = run_sweep(cfg, models, tasks, executor, console=Console(file=open(os.devnull, "w")), live=False)
    wall = time.perf_counter() - t0
    assert not board.counts()["failed"], [c.error for c in board.cells]
    return wall, [c.seconds for c in board.cells]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cells", type=int, default=6, help="one-cell sweeps for the overhead")
    ap.add_argument("--limit", type=int, default=6, help="images per cell in the speed-up sweep")
    opts = ap.parse_args()
    import ray

    tmp = Path(tempfile.mkdtemp(prefix="bench-sweep-"))
    avatars = build_synthetic_avatars(tmp / "avatars", n=12, seed=0)
    llava, qwen = build_tiny_llava(tmp / "tiny-llava"), build_tiny_qwen2vl(tmp / "tiny-qwen2vl")
    t0 = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    t_init = time.perf_counter() - t0

    overheads = []
    for i in range(opts.cells):
        cfg = apply_overrides(SweepConfig(), {"output_path": str(tmp / "o" / str(i)), "cache_dir": str(tmp / f"c{i}"),
                                              "dataset": str(avatars), "limit": 1, "seed": i})
        wall, jobs = sweep(cfg, ["dummy"], ["aggressiveness_rating"], "ray")
        overheads.append(wall - sum(jobs))

    base = {"dataset": str(avatars), "batch_size": 1,
            "models": {"llava": {"model": "hf", "model_args": f"pretrained={llava},device=cpu"},
                       "qwen": {"model": "hf", "model_args": f"pretrained={qwen},device=cpu"}},
            "tasks": {"aggressiveness_rating": {"limit": opts.limit},
                      "ultimatum_solo": {"limit": max(1, opts.limit // 3), "repeats": 1, "gen_kwargs": "max_tokens=8"}}}
    walls = {}
    for executor in ("local", "ray"):
        cfg = apply_overrides(SweepConfig.model_validate(base), {"output_path": str(tmp / executor),
                                                                 "cache_dir": str(tmp / f"cache-{executor}")})
        walls[executor], _ = sweep(cfg, [], [], executor)
    ray.shutdown()
    print(f"load average {os.getloadavg()[0]:.1f} (2 cores, shared)")
    print(f"ray.init (local cluster, 2 CPUs): {t_init:.1f}s")
    print(f"per-cell scheduling overhead on the warm cluster ({opts.cells} one-cell sweeps): first "
          f"{overheads[0]:.2f}s, median {statistics.median(overheads):.2f}s, max {max(overheads):.2f}s")
    print(f"4 cells (2 tiny VLMs x 2 tasks): sequential (local executor) {walls['local']:.1f}s, "
          f"ray with 2 workers {walls['ray']:.1f}s, speed-up {walls['local'] / walls['ray']:.2f}x")


if __name__ == "__main__":
    main()
