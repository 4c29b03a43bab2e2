"""`vbench sweep` on a local Ray cluster (2 CPUs): per-cell scheduling overhead, and 4 cells on 2 workers
vs the same 4 cells one after another with the local executor.

Overhead: one-cell sweeps (dummy model, 1 episode) on a warm cluster; per cell, the sweep's wall time
minus the time the job itself reports (planning, Ray dispatch, result, cache snapshot and merge, cell
mark). 4-cell sweeps, fresh caches, `--executor local` vs `--executor ray` in one run:
- API-bound: 2 OpenAI-compatible models on the loopback fake server (fixed latency per request, its
  own process) x ultimatum_solo and ultimatum_pair: time goes into waiting, which 2 workers overlap;
- CPU-bound: 2 tiny random VLMs (transformers on CPU) x aggressiveness_rating and ultimatum_solo, after
  a warm-up sweep so Ray's workers have imported torch (the local executor's process has already).
  Ray runs each 1-CPU task with one torch thread; the local process uses ``--torch-threads`` (default 1,
  the same; on a loaded machine torch's default of one thread per core is much slower).
Ray starts its cluster once (its start-up time is printed apart). The machine is shared and noisy:
the load average is printed.

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
from vbench.testing.api_server import server_process  # noqa: E402
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
    ap.add_argument("--limit", type=int, default=6, help="images per cell in the CPU-bound sweep")
    ap.add_argument("--latency", type=float, default=0.5, help="seconds per request of the fake API")
    ap.add_argument("--torch-threads", type=int, default=1,
                    help="torch threads of the local executor's process (Ray gives each 1-CPU worker 1)")
    opts = ap.parse_args()
    import ray
    import torch

    torch.set_num_threads(opts.torch_threads)

    tmp = Path(tempfile.mkdtemp(prefix="bench-sweep-"))
    avatars = build_synthetic_avatars(tmp / "avatars", n=12, seed=0)
    llava, qwen = build_tiny_llava(tmp / "tiny-llava"), build_tiny_qwen2vl(tmp / "tiny-qwen2vl")
    os.environ["OPENAI_API_KEY"] = "sk-loopback"  # before ray.init: the workers inherit it
    server = server_process("--latency", str(opts.latency))
    url = server.__enter__()
    t0 = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    t_init = time.perf_counter() - t0

    overheads = []
    for i in range(opts.cells):
        cfg = apply_overrides(SweepConfig(), {"output_path": str(tmp / "o" / str(i)), "cache_dir": str(tmp / f"c{i}"),
                                              "dataset": str(avatars), "limit": 1, "seed": i})
        wall, jobs = sweep(cfg, ["dummy"], ["aggressiveness_rating"], "ray")
        overheads.append(wall - sum(jobs))

    api = {"dataset": str(avatars), "limit": 2, "repeats": 1, "gen_kwargs": "max_tokens=16",
           "models": {m: {"model": "openai", "model_args": f"model={m},base_url={url}/v1"} for m in ("api-a", "api-b")},
           "tasks": {"ultimatum_solo": {}, "ultimatum_pair": {}}}
    api_walls = {}
    for executor in ("local", "ray"):
        cfg = apply_overrides(SweepConfig.model_validate(api), {"output_path": str(tmp / f"api-{executor}"),
                                                                "cache_dir": str(tmp / f"api-cache-{executor}")})
        api_walls[executor], _ = sweep(cfg, [], [], executor)

    base = {"dataset": str(avatars), "batch_size": 1,
            "models": {"llava": {"model": "hf", "model_args": f"pretrained={llava},device=cpu"},
                       "qwen": {"model": "hf", "model_args": f"pretrained={qwen},device=cpu"}},
            "tasks": {"aggressiveness_rating": {"limit": opts.limit},
                      "ultimatum_solo": {"limit": max(1, opts.limit // 3), "repeats": 1, "gen_kwargs": "max_tokens=8"}}}
    warm_cfg = {**base, "tasks": {"aggressiveness_rating": {"limit": 1}}}  # other requests: no cache hits later
    warm = apply_overrides(SweepConfig.model_validate(warm_cfg), {"output_path": str(tmp / "warm"),
                                                                  "cache_dir": str(tmp / "cache-warm")})
    sweep(warm, [], ["aggressiveness_rating"], "ray")
    walls = {}
    for executor in ("local", "ray"):
        cfg = apply_overrides(SweepConfig.model_validate(base), {"output_path": str(tmp / executor),
                                                                 "cache_dir": str(tmp / f"cache-{executor}")})
        walls[executor], _ = sweep(cfg, [], [], executor)
        assert not list((tmp / executor).rglob("results.json")) or all(
            '"cache_hits": 0' in p.read_text() for p in (tmp / executor).rglob("results.json")), "cache hits"
    ray.shutdown()
    server.__exit__(None, None, None)
    print(f"load average {os.getloadavg()[0]:.1f} (2 cores, shared)")
    print(f"ray.init (local cluster, 2 CPUs): {t_init:.1f}s")
    print(f"per-cell scheduling overhead on the warm cluster ({opts.cells} one-cell sweeps): first "
          f"{overheads[0]:.2f}s, median {statistics.median(overheads):.2f}s, max {max(overheads):.2f}s")
    print(f"4 API-bound cells (2 models x 2 ultimatum tasks, {opts.latency}s per request): sequential (local "
          f"executor) {api_walls['local']:.1f}s, ray with 2 workers {api_walls['ray']:.1f}s, "
          f"speed-up {api_walls['local'] / api_walls['ray']:.2f}x")
    print(f"4 CPU-bound cells (2 tiny VLMs x 2 tasks; local process with {opts.torch_threads} torch thread(s)): "
          f"sequential (local executor) {walls['local']:.1f}s, "
          f"ray with 2 workers {walls['ray']:.1f}s, speed-up {walls['local'] / walls['ray']:.2f}x")


if __name__ == "__main__":
    main()
