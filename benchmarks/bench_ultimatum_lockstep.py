"""Lockstep figure: 64 ultimatum_pair games vs 1 game on the tiny random VLM (HF runner).

Both runs go through `vbench.evaluate` end to end (no response cache, the model fed micro-batches of
whatever turns are pending, up to the batch size of 64; paper generation defaults: temperature 1, up to
300 new tokens). Episodes advance independently (``vbench/runners/engine.py``); the file keeps its name. A warm-up run loads imports
first. Target: 64 games take at most 4x the wall time of 1 game.

Run: python benchmarks/bench_ultimatum_lockstep.py [--max-tokens N]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from vbench.data.synthetic import build_synthetic_avatars  # noqa: E402
from vbench.evaluator import evaluate  # noqa: E402
from vbench.testing.tiny_models import build_tiny_llava  # noqa: E402


def run(model: Path, data: Path, out: Path, games: int, gen: str):
    c, t = time.process_time(), time.perf_counter()
    res = evaluate(model="hf", model_args=f"pretrained={model}", tasks="ultimatum_pair", dataset=str(data),
                   limit=games, repeats=1, batch_size=64, use_cache=False, output_path=out, gen_kwargs=gen,
                   task_args="images_per_level=3", show_progress=False)["ultimatum_pair"]
    return time.perf_counter() - t, time.process_time() - c, res


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--max-tokens", type=int, default=None, help="override the paper's 300 new tokens per turn")
    args = ap.parse_args()
    gen = f"max_tokens={args.max_tokens}" if args.max_tokens else ""
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        data = build_synthetic_avatars(tmp / "avatars", n=32, seed=2)
        model = build_tiny_llava(tmp / "tiny")
        run(model, data, tmp / "warm", 1, "max_tokens=4")  # imports and first load
        t1, c1, r1 = run(model, data, tmp / "one", 1, gen)
        t64, c64, r64 = run(model, data, tmp / "many", 64, gen)
    assert r1.counts.n_ok == 1 and r64.counts.n_ok == 64, (r1.counts, r64.counts)
    print(f"max new tokens per turn: {args.max_tokens or 300}")
    print(f"1 game:   {t1:.2f} s wall, {c1:.2f} s CPU  ({r1.counts.scheduler_steps} steps, {r1.counts.model_calls} model calls)")
    print(f"64 games: {t64:.2f} s wall, {c64:.2f} s CPU  ({r64.counts.scheduler_steps} steps, {r64.counts.model_calls} model calls)")
    print(f"ratio 64 games / 1 game: {t64 / t1:.2f}x wall (target <= 4x), {c64 / c1:.2f}x CPU; "
          f"per game: {t64 / 64:.3f} s vs {t1:.2f} s")
    print(f"load average (1 min): {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
