"""vLLM runner figures for its blocking path (``engine=sync``, one ``LLM.chat`` per batch), measured side by
side in one run on one engine (benchmarks/bench_vllm_async.py compares it with the asynchronous engine):

* engine start time;
* throughput of ultimatum_pair games through the evaluator (requests/s, output tokens/s);
* the same recorded batches replayed through the vLLM runner and through ``LLM.chat`` directly
  (identical conversations and sampling parameters; order alternated per batch): the runner/direct ratio;
* parity with transformers on the same weights (greedy text matches, total variation of `choose`).

CPU (vLLM's CPU build, see scripts/test-vllm-cpu.sh):
    VLLM_CPU_KVCACHE_SPACE=1 VLLM_ENABLE_V1_MULTIPROCESSING=0 python benchmarks/bench_vllm.py
GPU (benchmarks/gpu_check.sh): python benchmarks/bench_vllm.py --model Qwen/Qwen2-VL-2B-Instruct --no-parity
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")


def _record(runner):
    """Wrap runner.run to keep every batch it is given."""
    batches, orig = [], runner.run

    def run(reqs):
        batches.append(list(reqs))
        return orig(reqs)

    runner.run = run
    return batches, orig


def replay(runner, run, batches, rounds: int) -> dict[str, float]:
    """Each recorded batch of generations through the runner and through LLM.chat, ``rounds`` times,
    alternating which goes first; also the time the runner spends inside LLM.chat."""
    from vllm import SamplingParams

    from vbench.runners.vllm import sampling_kwargs, to_vllm_messages

    llm = runner._start_sync()
    t = {"runner": 0.0, "direct": 0.0, "inside_chat": 0.0}
    toks = {"runner": 0, "direct": 0}
    chat = llm.chat

    def timed_chat(*args, **kwargs):
        s = time.perf_counter()
        try:
            return chat(*args, **kwargs)
        finally:
            t["inside_chat"] += time.perf_counter() - s

    n = 0
    for batch in batches * rounds:
        gen = [r for r in batch if r.kind == "generate"]
        if not gen:
            continue
        n += 2 * len(gen)  # each side answers the batch twice

        def direct(gen=gen):
            convs = [to_vllm_messages(r.messages, runner.store, runner.args.image_input) for r in gen]
            outs = llm.chat(convs, sampling_params=[SamplingParams(**sampling_kwargs(r)) for r in gen], use_tqdm=False)
            return sum(len(o.outputs[0].token_ids) for o in outs)

        def through_runner(gen=gen):
            llm.chat = timed_chat
            try:
                return sum(r.usage.get("completion_tokens", 0) for r in run(gen))
            finally:
                del llm.chat

        # A-B-B-A per batch: order effects (warm caches, drift of a shared machine) fall on both sides alike
        for name, fn in [("direct", direct), ("runner", through_runner), ("runner", through_runner),
                         ("direct", direct)]:
            s = time.perf_counter()
            toks[name] += fn()
            t[name] += time.perf_counter() - s
    return {"requests": n, **{f"{k}_s": v for k, v in t.items()}, **{f"{k}_tokens": v for k, v in toks.items()}}


def parity(model: str, runner) -> None:
    from PIL import Image

    from tests.vllm_suite.test_parity import _requests, total_variation
    from vbench.runners.factory import build_runner

    store = runner.store
    images = [store.put_image(Image.new("RGB", (64, 48), (60 * i, 200 - 50 * i, 90 + 20 * i))) for i in range(3)]
    reqs = _requests(images)
    hf = build_runner("hf", f"pretrained={model},dtype=float32,device=cpu", store=store)
    a, b = hf.run(reqs), runner.run(reqs)
    hf.close()
    gen = [(x.text, y.text) for r, x, y in zip(reqs, a, b) if r.kind == "generate"]
    tvs = [total_variation(x.probs, y.probs) for r, x, y in zip(reqs, a, b) if r.kind == "choose"]
    print(f"parity hf vs vllm: greedy text identical {sum(x == y for x, y in gen)}/{len(gen)} prompts (with images); "
          f"choose total variation max {max(tvs):.2e}, mean {sum(tvs) / len(tvs):.2e} over {len(tvs)} requests")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", help="model path or Hub id (default: a tiny random Qwen2-VL built here)")
    ap.add_argument("--games", type=int, default=8, help="ultimatum_pair samples (one game each)")
    ap.add_argument("--max_tokens", type=int, default=32)
    ap.add_argument("--rounds", type=int, default=2, help="replays of the recorded batches (each A-B-B-A)")
    ap.add_argument("--model_args", default="max_model_len=2048,enforce_eager=true,gpu_memory_utilization=0.5",
                    help="extra vLLM runner arguments")
    ap.add_argument("--no-parity", action="store_true", help="skip the transformers comparison")
    a = ap.parse_args()

    from vbench.data.synthetic import build_synthetic_avatars
    from vbench.evaluator import evaluate
    from vbench.runners.factory import build_runner

    tmp = Path(tempfile.mkdtemp(prefix="bench_vllm_"))
    model = a.model
    if model is None:
        from vbench.testing.tiny_models import build_tiny_qwen2vl_vllm

        model = str(build_tiny_qwen2vl_vllm(tmp / "tiny-qwen2vl-vllm"))
        a.model_args += ",dtype=float32"
    data = build_synthetic_avatars(tmp / "avatars", n=a.games, seed=0)
    runner = build_runner("vllm", f"pretrained={model},{a.model_args},engine=sync")
    s = time.perf_counter()
    runner._start_sync()
    print(f"engine start: {time.perf_counter() - s:.1f} s ({model})")

    batches, orig_run = _record(runner)
    s = time.perf_counter()
    evaluate(runner, tasks="ultimatum_pair", dataset=str(data), limit=a.games, repeats=1,
             gen_kwargs=f"max_tokens={a.max_tokens}", output_path=tmp / "out", cache_dir=tmp / "cache",
             show_progress=False)
    wall = time.perf_counter() - s
    n_req = sum(len(b) for b in batches)
    print(f"ultimatum_pair through the evaluator: {a.games} games, {n_req} requests in {len(batches)} batches, "
          f"{wall:.1f} s = {n_req / wall:.2f} requests/s")

    r = replay(runner, orig_run, batches, a.rounds)
    for k in ("direct", "runner"):
        print(f"  replay via {k:6s}: {r['requests'] / r[k + '_s']:.2f} requests/s, "
              f"{r[k + '_tokens'] / r[k + '_s']:.1f} output tokens/s ({r['requests']} requests, {r[k + '_s']:.1f} s)")
    print(f"runner / direct LLM.chat throughput: {r['direct_s'] / r['runner_s']:.3f}x (requests/s ratio, same prompts, "
          f"{a.rounds} rounds); the runner's own time outside LLM.chat: "
          f"{1000 * (r['runner_s'] - r['inside_chat_s']) / r['requests']:.2f} ms per request "
          f"({(r['runner_s'] - r['inside_chat_s']) / r['runner_s']:.1%} of its time)")
    if not a.no_parity and a.model is None:
        parity(model, runner)
    runner.close()


if __name__ == "__main__":
    main()
