"""Figure: the vLLM runner's asynchronous engine (``engine=async``, ``AsyncLLM``) against its blocking path
(``engine=sync``, one ``LLM.chat`` per scheduler batch) on the same ultimatum_pair games, in one run.

Each engine runs in a process of its own, as a user runs it, in the order A-B-B-A (``--order``) so that
drift of a shared machine falls on both sides: it is started (start-up reported on its own), then the
games are played through the evaluator with a fresh response cache and a cold prefix cache. Reported:
start-up, wall per run, the sync/async wall ratio, the share of prompt tokens served from vLLM's prefix
cache, the load average, and whether every run's samples.jsonl is byte-identical (it must be: the engine
never changes an answer).

CPU (vLLM's CPU build, the environment of scripts/test-vllm-cpu.sh):
    VLLM_CPU_KVCACHE_SPACE=1 VLLM_ENABLE_V1_MULTIPROCESSING=0 python benchmarks/bench_vllm_async.py
GPU: python benchmarks/bench_vllm_async.py --model Qwen/Qwen2-VL-2B-Instruct --model_args gpu_memory_utilization=0.4
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")

ENGINES = ("async", "sync")


def play(runner, engine: str, data: Path, games: int, gen_kwargs: str, out: Path, batch_size: str) -> dict:
    """One evaluation of ultimatum_pair on ``runner``: wall, prefix-cache share, the samples' bytes."""
    import vbench.evaluator as ev

    runner.reset_prefix_cache()
    stats = runner.prefix_cache
    before = (stats.prompt_tokens, stats.cached_tokens, runner.calls)
    runner._batch_size = batch_size
    s = time.perf_counter()  # a Runner instance handed to evaluate is used as is and not closed
    ev.evaluate(runner, tasks="ultimatum_pair", dataset=str(data), limit=games, repeats=1, gen_kwargs=gen_kwargs,
                output_path=out, cache_dir=out / "cache", show_progress=False)
    wall = time.perf_counter() - s
    prompt, cached = stats.prompt_tokens - before[0], stats.cached_tokens - before[1]
    [samples] = list(out.rglob("samples.jsonl"))
    return {"engine": engine, "wall": wall, "requests": runner.calls - before[2], "prompt_tokens": prompt,
            "hit_rate": cached / prompt if prompt else 0.0, "samples": samples.read_bytes()}


def child(a: argparse.Namespace) -> None:
    """One engine in this process: start it, play the games ``--plays`` times, print one RESULT line."""
    from vbench.runners.factory import build_runner
    from vbench.types import GenParams, Message, Request

    runner = build_runner("vllm", f"pretrained={a.model},{a.model_args},engine={a.child}")
    s = time.perf_counter()
    runner.run([Request(messages=(Message.user("hello"),), gen=GenParams(max_tokens=2, seed=0))])
    first = time.perf_counter() - s
    plays = [play(runner, a.child, Path(a.data), a.games, a.gen_kwargs, Path(a.out) / f"play{k}", a.batch_size)
             for k in range(a.plays)]
    runner.close()
    print("RESULT " + json.dumps({
        "engine": a.child, "start": runner.start_seconds, "first_answer": first, "load": os.getloadavg()[0],
        "multiprocessing": os.environ.get("VLLM_ENABLE_V1_MULTIPROCESSING", "1"),
        "plays": [{k: v for k, v in p.items() if k != "samples"} | {"sha256": hashlib.sha256(p["samples"]).hexdigest()}
                  for p in plays]}), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", help="model path or Hub id (default: a tiny random Qwen2-VL built here)")
    ap.add_argument("--games", type=int, default=64, help="ultimatum_pair samples (one game each)")
    ap.add_argument("--gen_kwargs", default="max_tokens=32,temperature=0.8")
    ap.add_argument("--order", default="async,sync,sync,async", help="engines, one process each, in this order")
    ap.add_argument("--plays", type=int, default=1, help="times each process plays the games (cold prefix cache)")
    ap.add_argument("--batch_size", default="auto", help="the evaluator's --batch_size for both engines")
    ap.add_argument("--model_args", default="max_model_len=2048,enforce_eager=true,gpu_memory_utilization=0.5",
                    help="extra vLLM runner arguments (both engines)")
    ap.add_argument("--child", choices=ENGINES, help=argparse.SUPPRESS)
    ap.add_argument("--data", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.child:
        return child(a)

    from vbench.data.synthetic import build_synthetic_avatars

    tmp = Path(tempfile.mkdtemp(prefix="bench_vllm_async_"))
    if a.model is None:
        from vbench.testing.tiny_models import build_tiny_qwen2vl_vllm

        a.model = str(build_tiny_qwen2vl_vllm(tmp / "tiny-qwen2vl-vllm"))
        a.model_args += ",dtype=float32"
    data = build_synthetic_avatars(tmp / "avatars", n=a.games, seed=0)
    load0 = os.getloadavg()
    results = []
    for k, engine in enumerate(a.order.split(",")):
        # each engine in a process of its own, as a user runs it (an in-process vllm.LLM slows an AsyncLLM
        # client sharing its process several-fold on a small CPU)
        cmd = [sys.executable, __file__, "--child", engine, "--model", a.model, "--model_args", a.model_args,
               "--games", str(a.games), "--gen_kwargs", a.gen_kwargs, "--plays", str(a.plays),
               "--batch_size", a.batch_size, "--data", str(data), "--out", str(tmp / f"run{k}-{engine}")]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
        if proc.returncode or not lines:
            sys.exit(f"{engine} run failed:\n{proc.stderr[-3000:]}")
        res = json.loads(lines[0][7:])
        results.append(res)
        print(f"{engine:5s} (process {k}): engine start {res['start']:.1f} s, first answer after {res['first_answer']:.1f} s; "
              + "; ".join(f"games {p['wall']:.1f} s, {p['requests']} requests, prefix cache {p['hit_rate']:.1%} of "
                          f"{p['prompt_tokens']} prompt tokens" for p in res["plays"])
              + f" (load average {res['load']:.1f})", flush=True)
    load1 = os.getloadavg()

    walls = {e: [p["wall"] for r in results if r["engine"] == e for p in r["plays"]] for e in ENGINES}
    starts = {e: [r["start"] for r in results if r["engine"] == e] for e in ENGINES}
    hits = {e: [p["hit_rate"] for r in results if r["engine"] == e for p in r["plays"]] for e in ENGINES}
    identical = len({p["sha256"] for r in results for p in r["plays"]}) == 1
    mp = {r["engine"]: r["multiprocessing"] for r in results}
    print(f"\n{a.games} ultimatum_pair games, {a.gen_kwargs}, batch_size {a.batch_size}, order {a.order} "
          f"(load average {load0[0]:.1f} at start, {load1[0]:.1f} at end; {os.cpu_count()} cores)")
    for e in ENGINES:
        if walls[e]:
            print(f"  {e:5s}: engine start median {statistics.median(starts[e]):.1f} s, games median wall "
                  f"{statistics.median(walls[e]):.1f} s (runs {', '.join(f'{w:.1f}' for w in walls[e])}), prefix-cache "
                  f"hit rate {statistics.mean(hits[e]):.1%}"
                  + (f", VLLM_ENABLE_V1_MULTIPROCESSING={mp[e]}" if e == "sync" else ", engine core in its own process"))
    if walls["sync"] and walls["async"]:
        print(f"  sync / async games wall: {statistics.median(walls['sync']) / statistics.median(walls['async']):.2f}x; "
              f"engine start async / sync: {statistics.median(starts['async']) / statistics.median(starts['sync']):.1f}x")
    print(f"  samples.jsonl byte-identical across all runs: {identical}")


if __name__ == "__main__":
    main()
