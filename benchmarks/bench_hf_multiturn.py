"""Prefix reuse figure: 64 ultimatum_pair games vs 1 game on the tiny random LLaVA, reuse off and on.

Every run goes through `vbench.evaluate` end to end (no response cache, batch size 64, temperature 1,
64 new tokens per turn unless told otherwise), the four runs side by side in one process after a
warm-up. Besides wall and CPU time it counts the prompt positions the model computed (from the hf
runner's prefill log records): with reuse on, a turn computes only what its stored prefix lacks.
Target: 64 games take at most 4x the wall time of 1 game (reuse on). The "model floor" line replays the
very ``generate`` calls the reuse-on runs made (same inputs, caches and samplers), with nothing of vbench
around them: the ratio a perfect engine would reach with this model on this machine.

torch runs on ``--threads`` intra-op threads (default 1): on a machine whose cores are busy with other
work, OpenMP threads spin-wait for each other and a small batched matmul can take 50x longer with 2
threads than with 1, which would measure the machine's load rather than the runner.

Run: python benchmarks/bench_hf_multiturn.py [--max-tokens N] [--games N] [--threads N]
"""
from __future__ import annotations

import argparse
import copy
import logging
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


class PrefillCounter(logging.Handler):
    """Adds up the runner's per-batch prefill records."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.rows = self.prompt = self.computed = 0

    def emit(self, record: logging.LogRecord) -> None:
        stats = getattr(record, "prefill", None)
        if stats is not None:
            self.rows += stats.rows
            self.prompt += stats.prompt_positions
            self.computed += stats.computed_positions


class GenerateRecorder:
    """Keeps a copy of every ``generate`` call the runner makes (inputs, cache, sampler), to replay them
    later with nothing of vbench around: the model's own cost of the same batches."""

    def __init__(self):
        self.calls: list[dict] = []
        self.active = False

    def install(self) -> None:
        from transformers import GenerationMixin

        orig = GenerationMixin.generate
        recorder = self

        def generate(model, *args, **kwargs):
            if recorder.active:
                recorder.calls.append({"model": model, "args": args, "kwargs": copy.deepcopy(kwargs)})
            return orig(model, *args, **kwargs)

        GenerationMixin.generate = generate  # type: ignore[method-assign]

    def replay(self, calls: list[dict]) -> float:
        import torch

        total = 0.0
        for call in calls:
            kwargs = copy.deepcopy(call["kwargs"])  # a fresh cache and sampler state each time
            t = time.perf_counter()
            with torch.inference_mode():
                call["model"].generate(*call["args"], **kwargs)
            total += time.perf_counter() - t
        return total


RECORDER = GenerateRecorder()


def run(model: Path, data: Path, out: Path, games: int, gen: str, cache_mb: int):
    counter = PrefillCounter()
    logger = logging.getLogger("vbench.runners.hf_prefix")
    logger.addHandler(counter)
    logger.setLevel(logging.DEBUG)
    load0 = os.getloadavg()[0]
    c, t = time.process_time(), time.perf_counter()
    try:
        res = evaluate(model="hf", model_args=f"pretrained={model},prefix_cache_mb={cache_mb}", tasks="ultimatum_pair",
                       dataset=str(data), limit=games, repeats=1, batch_size=64, use_cache=False, output_path=out,
                       gen_kwargs=gen, task_args="images_per_level=3", show_progress=False)["ultimatum_pair"]
    finally:
        logger.removeHandler(counter)
    wall, cpu = time.perf_counter() - t, time.process_time() - c
    assert res.counts.n_ok == games, res.counts
    return {"wall": wall, "cpu": cpu, "rows": counter.rows, "prompt": counter.prompt, "computed": counter.computed,
            "load": (load0 + os.getloadavg()[0]) / 2}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--max-tokens", type=int, default=64, help="new tokens per turn (the paper uses 300)")
    ap.add_argument("--games", type=int, default=64)
    ap.add_argument("--cache-mb", type=int, default=2048, help="prefix_cache_mb of the reuse-on runs")
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads (0: torch's default)")
    args = ap.parse_args()
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    gen = f"temperature=1,max_tokens={args.max_tokens}"
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        data = build_synthetic_avatars(tmp / "avatars", n=32, seed=2)
        model = build_tiny_llava(tmp / "tiny")
        run(model, data, tmp / "warm", 1, "max_tokens=4", 0)  # imports and first load
        RECORDER.install()
        recorded: dict[int, list[dict]] = {}
        for label, mb in (("off", 0), ("on", args.cache_mb)):
            for games in (1, args.games):
                RECORDER.active, RECORDER.calls = label == "on", []
                results[label, games] = r = run(model, data, tmp / f"{label}{games}", games, gen, mb)
                RECORDER.active = False
                if label == "on":
                    recorded[games] = RECORDER.calls
                print(f"  done: reuse {label}, {games} games: {r['wall']:.1f} s wall, {r['cpu']:.1f} s CPU",
                      file=sys.stderr, flush=True)
    import torch

    print(f"tiny LLaVA, ultimatum_pair, {args.max_tokens} new tokens per turn, batch size 64, "
          f"{os.cpu_count()} cores, {torch.get_num_threads()} torch threads")
    print(f"{'reuse':>5} {'games':>5} {'wall s':>8} {'CPU s':>8} {'load':>5} {'turns':>6} "
          f"{'prompt pos/turn':>15} {'computed/turn':>13}")
    for (label, games), r in results.items():
        turns = max(r["rows"], 1)
        print(f"{label:>5} {games:>5} {r['wall']:8.2f} {r['cpu']:8.2f} {r['load']:5.2f} {r['rows']:6d} "
              f"{r['prompt'] / turns:15.1f} {r['computed'] / turns:13.1f}")
    for label in ("off", "on"):
        one, many = results[label, 1], results[label, args.games]
        print(f"reuse {label}: {args.games} games / 1 game = {many['wall'] / one['wall']:.2f}x wall, "
              f"{many['cpu'] / one['cpu']:.2f}x CPU (target <= 4x wall)")
    # the same generate calls (reuse on) with nothing around them, alternated to share the machine's drift
    floors: dict[int, list[float]] = {1: [], args.games: []}
    for _ in range(3):
        for games in floors:
            floors[games].append(RECORDER.replay(recorded[games]))
    one, many = min(floors[1]), min(floors[args.games])
    print(f"model floor (the same generate calls replayed bare, best of 3): 1 game {one:.2f} s, "
          f"{args.games} games {many:.2f} s -> {many / one:.2f}x; the runner's ratio above can be no lower "
          f"than this on this machine")
    off, on = results["off", args.games], results["on", args.games]
    print(f"{args.games} games, reuse on vs off: {on['wall'] / off['wall']:.2f}x wall, "
          f"{on['cpu'] / off['cpu']:.2f}x CPU, "
          f"{on['computed'] / max(off['computed'], 1):.2f}x prompt positions computed")


if __name__ == "__main__":
    main()
