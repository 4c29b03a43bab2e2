"""Issue-2 figures: harness overhead per sample, batching speed-up, resume without model load.

Run: python benchmarks/bench_core.py   (CPU; ~1-2 minutes)
"""
from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from vbench.data.synthetic import build_synthetic_avatars  # noqa: E402
from vbench.evaluator import evaluate  # noqa: E402
from vbench.runners import hf  # noqa: E402
from vbench.testing.tiny_models import build_tiny_llava  # noqa: E402


class Timers:
    run = 0.0
    forward = 0.0


def instrument():
    """Time spent in Runner.run and in the model's forward passes (wrapping the real methods)."""
    orig_run, orig_load = hf.HFRunner.run, hf.HFRunner._load

    def run(self, reqs):
        t = time.perf_counter()
        try:
            return orig_run(self, reqs)
        finally:
            Timers.run += time.perf_counter() - t

    def load(self):
        first = self._model is None
        orig_load(self)
        if first:  # forward hooks on the top-level model time every forward pass (prefill + decode steps)
            start = []
            self._model.register_forward_pre_hook(lambda *_: start.append(time.perf_counter()))

            def done(*_):
                Timers.forward += time.perf_counter() - start.pop()
            self._model.register_forward_hook(done)

    hf.HFRunner.run, hf.HFRunner._load = run, load


def overhead(tmp: Path, n: int = 256) -> None:
    data = build_synthetic_avatars(tmp / "data256", n=n, seed=1)
    model = build_tiny_llava(tmp / "tiny")
    # warm-up (imports, first load), then the measured run with a cold cache
    evaluate(model="hf", model_args=f"pretrained={model}", tasks="aggressiveness_rating", dataset=str(data),
             output_path=tmp / "warm", limit=8, cache_dir=tmp / "cw", show_progress=False)
    Timers.run = Timers.forward = 0.0
    t = time.perf_counter()
    res = evaluate(model="hf", model_args=f"pretrained={model}", tasks="aggressiveness_rating", dataset=str(data),
                   output_path=tmp / "o", batch_size=16, cache_dir=tmp / "c", show_progress=False)
    wall = time.perf_counter() - t
    r = res["aggressiveness_rating"]
    assert r.counts.n_error == 0, r.errors
    print(f"[overhead] n={n} samples ({r.counts.model_calls} requests), wall {wall:.2f}s, in Runner.run "
          f"{Timers.run:.2f}s, in model forward {Timers.forward:.2f}s")
    print(f"[overhead] harness outside Runner.run: {(wall - Timers.run) / n * 1000:.2f} ms/sample "
          f"(includes dataset load + image hashing + metrics + writing)")
    print(f"[overhead] everything outside model forward passes: {(wall - Timers.forward) / n * 1000:.2f} ms/sample")

    # resume: identical command again → 0 model calls, weights never loaded
    loads = []
    orig = hf.HFRunner._load
    hf.HFRunner._load = lambda self: (loads.append(1), orig(self))[1]
    t = time.perf_counter()
    again = evaluate(model="hf", model_args=f"pretrained={model}", tasks="aggressiveness_rating", dataset=str(data),
                     output_path=tmp / "o", batch_size=16, cache_dir=tmp / "c", show_progress=False)
    hf.HFRunner._load = orig
    a = again["aggressiveness_rating"]
    print(f"[resume] re-run: model calls {a.counts.model_calls}, model loads {len(loads)}, "
          f"wall {time.perf_counter() - t:.2f}s, metrics identical: {a.metrics == r.metrics}")


def batching(tmp: Path, n: int = 64) -> None:
    """Samples/s at batch 1 vs 16 on a compute-bound model, for three workloads (interleaved, best of 2)."""
    data = build_synthetic_avatars(tmp / "data64", n=n, seed=2)
    model = build_tiny_llava(tmp / "big", hidden=512, layers=4)
    workloads = [("choice only (1 forward pass)", "scoring=choice", ""),
                 ("rating, both scorings, 8 new tokens", "", "max_tokens=8"),
                 ("generation, 64 new tokens (a dialogue turn)", "scoring=sampled", "max_tokens=64")]
    for label, task_args, gen in workloads:
        rates: dict[int, float] = {}
        for bs in (1, 16, 1, 16):
            t = time.perf_counter()
            evaluate(model="hf", model_args=f"pretrained={model}", tasks="aggressiveness_rating", dataset=str(data),
                     output_path=tmp / f"b{bs}", batch_size=bs, use_cache=False, overwrite=True,
                     task_args=task_args, gen_kwargs=gen, show_progress=False)
            rates[bs] = max(rates.get(bs, 0.0), n / (time.perf_counter() - t))
        print(f"[batching] hidden 512 × 4 layers, {n} samples, {label}: batch 1 {rates[1]:.1f} samples/s, "
              f"batch 16 {rates[16]:.1f} samples/s → {rates[16] / rates[1]:.2f}×")


if __name__ == "__main__":
    instrument()
    with tempfile.TemporaryDirectory() as d:
        os.environ["VBENCH_CACHE"] = str(Path(d) / "cache")
        overhead(Path(d))
        batching(Path(d))
