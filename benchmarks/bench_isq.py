"""isq_induction figures: the recommender step, and the default design end to end.

1. Recommender: a 50k-item corpus (512-d embeddings), scripted viewers that watch one value. Every
   trial picks each scroll from all its answers so far and advances on its own, so the cost that
   matters is one scroll of one trial (next_item + feedback): measured for one trial at a time, and
   for 1,000 trials advancing independently in a random interleaving (their states stay live side by
   side, as in a run). Wall and CPU time per scroll; ×1,000 gives the cost of one scroll of 1,000
   trials, comparable with the batched lockstep step of task versions before 3.0.
2. Design: 3 platforms × 3 strategies × 10 trials × S scrolls through `vbench.evaluate` with a cold
   cache: wall time, requests/s, scheduler steps (lockstep: = S, not S × trials), time inside
   Runner.run vs everything else. The full default design (S = 100, 24,000 requests) runs on the
   model-free `dummy` backend; the tiny random LLaVA runs the same 90 trials with fewer scrolls
   (--hf-scrolls, default 4), because on CPU each of its `choose` requests costs several forward
   passes (multi-token surface variants) and 24,000 of them take hours.

Run: python benchmarks/bench_isq.py [--models dummy,hf] [--hf-scrolls 4] [--skip-recommender]
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402

from vbench.evaluator import evaluate  # noqa: E402
from vbench.runners.base import Runner  # noqa: E402
from vbench.tasks.isq_induction.feed_space import build_space, project  # noqa: E402
from vbench.tasks.isq_induction.recommender import FeedSimulator, PlatformProfile  # noqa: E402
from vbench.tasks.isq_induction.synthetic_corpus import build_synthetic_corpus, synthetic_embeddings  # noqa: E402
from vbench.tasks.isq_induction.task import PLATFORMS  # noqa: E402


def _scroll_times(feeds: list, order: np.ndarray, values: np.ndarray, liked: np.ndarray,
                  shown: np.ndarray) -> tuple[np.ndarray, float, float]:
    """Advance ``feeds[t]`` once per entry of ``order``; per-scroll wall times, total wall and CPU."""
    wall = np.empty(order.size)
    done = np.zeros(len(feeds), np.int64)
    t0, c0 = time.perf_counter(), time.process_time()
    for k, t in enumerate(order):
        start = time.perf_counter()
        item = feeds[t].next_item()
        feeds[t].feedback(bool(values[item] == liked[t]))
        wall[k] = time.perf_counter() - start
        shown[t, done[t]] = item
        done[t] += 1
    return wall, time.perf_counter() - t0, time.process_time() - c0


def recommender(n_per_value: int = 5_000, dim: int = 512, trials: int = 1_000, scrolls: int = 100,
                solo: int = 50) -> None:
    emb, values, _ = synthetic_embeddings(n_per_value, dim, seed=0)
    t = time.perf_counter()
    vecs = project(emb, int(PLATFORMS["space"]["pca_dim"]))
    space = build_space("all", np.arange(values.size), vecs, seed=0)
    print(f"[recommender] corpus {values.size} × {dim}: PCA + {space.n_topics} k-means topics built in "
          f"{time.perf_counter() - t:.2f}s (once per run); load average {os.getloadavg()[0]:.2f}")
    for name in ("tiktok", "youtube"):
        sim = FeedSimulator(space, PlatformProfile(**PLATFORMS["profiles"][name]), scrolls)
        liked = np.arange(trials) % 10
        # one trial at a time: each runs its 100 scrolls before the next starts
        shown = np.zeros((solo, scrolls), np.int64)
        order = np.repeat(np.arange(solo), scrolls)
        one, _, _ = _scroll_times([sim.start(1000 + i) for i in range(solo)], order, values, liked, shown)
        # 1,000 live trials, each scroll of a randomly chosen one: no batching, no shared state
        shown = np.zeros((trials, scrolls), np.int64)
        order = np.random.default_rng(0).permutation(np.repeat(np.arange(trials), scrolls))
        many, wall, cpu = _scroll_times([sim.start(1000 + i) for i in range(trials)], order, values, liked, shown)
        us_one, us_many = one * 1e6, many * 1e6
        hit = values[shown] == liked[:, None]
        print(f"[recommender] {name}: one trial: scroll wall median {np.median(us_one):.0f} µs "
              f"(p90 {np.percentile(us_one, 90):.0f}) over {solo} trials × {scrolls} scrolls; "
              f"{trials} interleaved trials: median {np.median(us_many):.0f} µs (p90 {np.percentile(us_many, 90):.0f}), "
              f"mean wall {wall / order.size * 1e6:.0f} µs, CPU {cpu / order.size * 1e6:.0f} µs per scroll "
              f"→ {wall / scrolls * 1e3:.1f} ms wall ({cpu / scrolls * 1e3:.1f} ms CPU) per scroll of all {trials}; "
              f"planted-value share first/last half {hit[:, :scrolls // 2].mean():.2f}/{hit[:, scrolls // 2:].mean():.2f}")


class RunTimer:
    total = 0.0


def _instrument(cls: type[Runner]) -> None:
    orig = cls.run

    def run(self, reqs):
        t = time.perf_counter()
        try:
            return orig(self, reqs)
        finally:
            RunTimer.total += time.perf_counter() - t

    cls.run = run


def design(tmp: Path, model: str, trials: int, scrolls: int) -> None:
    RunTimer.total = 0.0
    # 3 platform slices, each with >= scrolls items per value: every persona pool supplies the design
    corpus = build_synthetic_corpus(tmp / "corpus", n_per_value=max(60, 3 * scrolls), dim=64, seed=0)
    if model == "hf":
        from vbench.runners.hf import HFRunner
        from vbench.testing.tiny_models import build_tiny_llava

        _instrument(HFRunner)
        model_args = f"pretrained={build_tiny_llava(tmp / 'tiny-llava')},device=cpu"
    else:
        from vbench.runners.dummy import DummyRunner

        _instrument(DummyRunner)
        model_args = ""
    task_args = {"trials": trials, "scrolls": scrolls, "n": max(1, scrolls // 2)}
    t = time.perf_counter()
    res = evaluate(model=model, model_args=model_args, tasks="isq_induction", dataset=str(corpus),
                   task_args=task_args, output_path=tmp / "out", cache_dir=tmp / "cache", show_progress=False)
    wall = time.perf_counter() - t
    r = res["isq_induction"]
    assert r.counts.n_error == 0, r.errors
    n_trials = r.counts.n_episodes
    print(f"[design] {model}: 3 platforms × 3 strategies × {trials} trials × {scrolls} scrolls = {n_trials} trials")
    print(f"[design] wall {wall:.1f}s, {r.counts.model_calls} requests → {r.counts.model_calls / wall:.1f} requests/s; "
          f"scheduler steps {r.counts.scheduler_steps} (one per scroll; {n_trials * scrolls} if trials ran one "
          f"by one, ×6 more for sequential ISQ questions)")
    print(f"[design] time in Runner.run {RunTimer.total:.1f}s; everything else (corpus, feed, scheduler, "
          f"cache, logs, metrics, plot) {wall - RunTimer.total:.1f}s")
    if scrolls < 100:
        full = r.counts.model_calls * 100 // scrolls
        print(f"[design] at this rate the 100-scroll design ({full} requests, 100 steps) would take "
              f"~{full / (r.counts.model_calls / wall) / 60:.0f} min")
    for name in ("plain", "simple", "isq"):
        m = r.metrics["by_strategy"][name]
        print(f"[design] {name}: I_avg {m['I_avg']['value']}, yes-rate {m['yes_rate']['value']:.3f}, "
              f"alignment first/last {m['alignment_first']['value']:.3f}/{m['alignment_last']['value']:.3f}")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--models", default="dummy,hf", help="comma-separated: dummy, hf")
    p.add_argument("--trials", type=int, default=10)
    p.add_argument("--scrolls", type=int, default=100, help="scrolls for the dummy backend")
    p.add_argument("--hf-scrolls", type=int, default=4, help="scrolls for the tiny LLaVA")
    p.add_argument("--skip-recommender", action="store_true")
    p.add_argument("--skip-design", action="store_true")
    args = p.parse_args()
    if not args.skip_recommender:
        recommender()
    if not args.skip_design:
        for model in [m.strip() for m in args.models.split(",") if m.strip()]:
            with tempfile.TemporaryDirectory() as d:
                os.environ["VBENCH_CACHE"] = str(Path(d) / "vbcache")
                design(Path(d), model, args.trials, args.scrolls if model == "dummy" else args.hf_scrolls)


if __name__ == "__main__":
    main()
