"""Episode-engine figures, side by side for this checkout and (``--baseline PATH``) another one.

(a) Multi-turn API: 64 ultimatum_pair games against a loopback server answering in 0.1 s, 5% of
    requests (drawn from their seeds) stragglers of 2 s, concurrency 64. Model time is the wall time
    inside ``Scheduler.run`` (the fixed start-up — imports, dataset read, samples — and the metrics are
    outside it); the critical-path bound is the slowest game's own turns, summed from each turn's seed.
(b) Crash: a 600-request aggressiveness_rating API eval (300 images, concurrency 32, 0.1 s answers) is
    SIGKILLed after 300 answers and re-run; the server counts requests answered before the kill and
    asked again after it.
(c) Single-turn overhead: aggressiveness_rating on 200 images with the tiny random LLaVA, steady part
    only: time inside ``Scheduler.run`` minus the model load (timed around ``HFRunner._load``), against
    a bare transformers loop over the same images, 16 images per ``generate`` (same prompts, 2 new tokens,
    first-step log-probs), timed after its model load. Each side runs in its own long-lived process
    (once one thread has run torch's OpenMP kernels, another thread gets a second team of OpenMP threads,
    so measuring both sides in one process slows whichever runs second); the orchestrator alternates
    them run by run (ABBA) and reports the median ratio of neighbouring runs, which cancels the
    machine's drift over seconds. vbench runs at
    --batch_size 32: a rating and its choice over the same messages share one generate, so 32 requests
    = 16 images per forward pass.
(d) API throughput: 1,000 single-request episodes through ``Scheduler.run`` at concurrency 64 against a
    0.1 s server (ideal 640 req/s).

Each client runs in its own process with PYTHONPATH set to the checkout measured; the servers run from
this checkout. Run: python benchmarks/bench_engine.py [--baseline /path/to/old/checkout] [--figs abcd]
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()
ROOT = HERE.parent.parent
if "--client" in sys.argv:  # a client measures the checkout its PYTHONPATH names; this one only as a fallback
    sys.path.append(str(ROOT))
else:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

STRAGGLERS = ("0.1", "0.0", "0.05", "1.9")  # base, jitter, straggler share, straggler extra (seconds)


# -- clients (run under the checkout measured) -------------------------------------------------------------
CPU: list[float] = []  # process CPU seconds (all threads) inside each Scheduler.run


def _timed_scheduler() -> list[float]:
    """Wall time of every Scheduler.run call, appended to the returned list."""
    from vbench.runners import scheduler

    spans: list[float] = []
    orig = scheduler.Scheduler.run

    def run(self, episodes, on_record):
        t, c = time.perf_counter(), time.process_time()
        try:
            return orig(self, episodes, on_record)
        finally:
            spans.append(time.perf_counter() - t)
            CPU.append(time.process_time() - c)

    scheduler.Scheduler.run = run
    return spans


def client_a(url: str, tmp: Path) -> dict[str, Any]:
    from vbench.data.synthetic import build_synthetic_avatars
    from vbench.evaluator import evaluate

    import aiohttp  # noqa: F401 - the SDK's import (seconds on a loaded machine) is fixed start-up cost
    import openai  # noqa: F401

    spans = _timed_scheduler()
    data = build_synthetic_avatars(tmp / "avatars", n=32, seed=2)
    t = time.perf_counter()
    res = evaluate(model="openai", model_args=f"model=X,base_url={url}/v1", tasks="ultimatum_pair",
                   dataset=str(data), limit=64, repeats=1, max_concurrency=64, use_cache=False,
                   output_path=tmp / "out", task_args="images_per_level=3", show_progress=False)["ultimatum_pair"]
    wall = time.perf_counter() - t
    samples = next((tmp / "out").glob("*/ultimatum_pair/samples.jsonl"))
    import vbench

    return {"wall": wall, "model_time": spans[-1], "n_ok": res.counts.n_ok, "samples": str(samples),
            "requests": res.counts.model_calls, "code": vbench.__file__, "cpu": CPU[-1]}


def client_c(tmp: Path, which: str) -> None:
    """One side of figure (c), kept alive: ``vbench`` (the engine drives the hf runner from its batch
    thread) or ``bare`` (a plain loop on the main thread). After setup and a warm run it times one run per
    ``run`` line on stdin and prints it, so the orchestrator can alternate the sides run by run: the
    machine's speed drifts over seconds, and a ratio of neighbouring runs cancels the drift where a ratio
    of separate batches of runs does not. Separate processes, because once one thread has run torch's
    OpenMP kernels a second thread gets its own team of OpenMP threads, and two teams on two cores would
    make whichever side runs second look slow."""
    from vbench.data.synthetic import build_synthetic_avatars
    from vbench.evaluator import evaluate
    from vbench.runners import hf
    from vbench.testing.tiny_models import build_tiny_llava

    data = build_synthetic_avatars(tmp / "avatars", n=200, seed=5)
    model = build_tiny_llava(tmp / "tiny")
    if which == "bare":
        bare_loop(model, data, 16)  # warm

        def once(rep: int) -> float:
            return bare_loop(model, data, 16)
    else:
        spans = _timed_scheduler()
        loads: list[float] = []
        orig_load = hf.HFRunner._load

        def load(self):
            t = time.perf_counter()
            first = self._model is None
            orig_load(self)
            if first:
                loads.append(time.perf_counter() - t)

        hf.HFRunner._load = load
        evaluate(model="hf", model_args=f"pretrained={model},device=cpu", tasks="aggressiveness_rating",
                 dataset=str(data), use_cache=False, output_path=tmp / "warm", show_progress=False)  # images stored

        def once(rep: int) -> float:
            spans.clear()
            loads.clear()
            res = evaluate(model="hf", model_args=f"pretrained={model},device=cpu", tasks="aggressiveness_rating",
                           dataset=str(data), batch_size=32, use_cache=False, output_path=tmp / f"o{rep}",
                           show_progress=False)["aggressiveness_rating"]
            assert res.counts.n_ok == 200, res.counts
            return spans[-1] - sum(loads)
    print("ready", flush=True)
    for rep, line in enumerate(sys.stdin):
        if line.strip() != "run":
            break
        print(json.dumps(once(rep)), flush=True)


def fig_c(code: Path, tmp: Path, pairs: int) -> dict[str, Any]:
    """Alternate the two sides run by run (ABBA), one long-lived process each; pair neighbouring runs."""
    env = {**os.environ, "PYTHONPATH": f"{code}{os.pathsep}{ROOT}" if code != ROOT else str(ROOT)}
    procs = {}
    for side in ("c-vbench", "c-bare"):
        (tmp / side).mkdir(parents=True, exist_ok=True)
        procs[side] = subprocess.Popen([sys.executable, str(HERE), "--client", side, "--tmp", str(tmp / side)],
                                       env=env, cwd=str(code), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                       stderr=subprocess.DEVNULL, text=True)
    try:
        for side, proc in procs.items():
            assert proc.stdout is not None
            while (line := proc.stdout.readline()) and line.strip() != "ready":
                pass
            if not line:
                raise RuntimeError(f"client {side} under {code} exited during setup")

        def one(side: str) -> float:
            proc = procs[side]
            assert proc.stdin is not None and proc.stdout is not None
            proc.stdin.write("run\n")
            proc.stdin.flush()
            return float(proc.stdout.readline())

        times: dict[str, list[float]] = {"c-vbench": [], "c-bare": []}
        for i in range(pairs):
            order = ("c-vbench", "c-bare") if i % 2 == 0 else ("c-bare", "c-vbench")
            for side in order:
                times[side].append(one(side))
        return times
    finally:
        for proc in procs.values():
            if proc.stdin:
                proc.stdin.close()
            proc.wait(timeout=120)


def bare_loop(model_dir: Path, data: Path, per_batch: int) -> float:
    """The same model work without vbench: per batch one generate (2 new tokens, first-step logits)."""
    import torch
    from PIL import Image
    from transformers import AutoModelForImageTextToText, AutoProcessor

    from vbench.tasks.aggressiveness_rating.task import PROMPTS

    proc = AutoProcessor.from_pretrained(model_dir)
    tok = getattr(proc, "tokenizer", proc)
    tok.padding_side = "left"
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    model = AutoModelForImageTextToText.from_pretrained(model_dir, dtype=torch.float32).eval()
    files = sorted(p for p in data.iterdir() if p.suffix == ".png")[:200]
    system = PROMPTS["profiles"]["aggressive"]["system"]
    chat = [{"role": "system", "content": [{"type": "text", "text": system}]},
            {"role": "user", "content": [{"type": "image"}]}]
    prompt = proc.apply_chat_template(chat, add_generation_prompt=True, tokenize=False)
    t = time.perf_counter()
    for i in range(0, len(files), per_batch):
        images = [[Image.open(f).convert("RGB")] for f in files[i:i + per_batch]]
        inputs = proc(text=[prompt] * len(images), images=images, return_tensors="pt", padding=True)
        with torch.inference_mode():
            out = model.generate(**inputs, max_new_tokens=2, do_sample=False, output_logits=True,
                                 return_dict_in_generate=True)
        torch.log_softmax(out.logits[0].float(), dim=-1)
        tok.batch_decode(out.sequences[:, inputs["input_ids"].shape[1]:], skip_special_tokens=True)
    return time.perf_counter() - t


def client_d(url: str, tmp: Path, n: int = 1000, concurrency: int = 64) -> dict[str, Any]:
    from benchmarks._api_requests import image_requests
    from vbench.runners.openai_api import OpenAIArgs, OpenAIRunner
    from vbench.runners.scheduler import EpisodeSpec, Scheduler

    store, reqs = image_requests(n)
    runner = OpenAIRunner(OpenAIArgs(model="bench", base_url=url + "/v1"), store=store, max_concurrency=concurrency)

    def one(req):
        yield [req]
        return {}

    def specs(k: int, tag: str):
        return [EpisodeSpec(f"{tag}{i}", i, {}, one(r)) for i, r in enumerate(reqs[:k])]

    Scheduler({"default": runner}).run(specs(concurrency, "warm"), lambda r: None)  # connections, image cache
    times = []
    for rep in range(3):
        t = time.perf_counter()
        Scheduler({"default": runner}).run(specs(n, f"r{rep}-"), lambda r: None)
        times.append(time.perf_counter() - t)
    runner.close()
    return {"best": n / min(times), "median": n / sorted(times)[1], "ideal": concurrency / 0.1}


# -- orchestration (this checkout) ---------------------------------------------------------------------------
def _client(code: Path, fig: str, url: str, tmp: Path) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": f"{code}{os.pathsep}{ROOT}" if code != ROOT else str(ROOT)}
    r = subprocess.run([sys.executable, str(HERE), "--client", fig, "--url", url, "--tmp", str(tmp)], env=env,
                       capture_output=True, text=True, timeout=1800, cwd=str(code))
    if r.returncode != 0:
        raise RuntimeError(f"client {fig} under {code} failed:\n{r.stderr[-3000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def critical_path(samples: Path) -> float:
    """The slowest game's own turns: each turn's latency from its request seed (as the server draws it)."""
    from vbench.runners.scheduler import derive_seed
    from vbench.testing.api_server import Latency

    lat = Latency(*(float(x) for x in STRAGGLERS))
    worst = 0.0
    for line in samples.read_text().splitlines():
        rec = json.loads(line)
        per_step: dict[int, int] = {}
        total = 0.0
        for turn in rec["turns"]:
            pos = per_step.get(turn["step"], 0)
            per_step[turn["step"]] = pos + 1
            total += lat.of(str(derive_seed(rec["seed"], rec["episode_id"], turn["step"], pos)))
        worst = max(worst, total)
    return worst


def crash_b(code: Path, tmp: Path, concurrency: int = 32) -> dict[str, Any]:
    from vbench.data.synthetic import build_synthetic_avatars
    from vbench.testing.api_server import FakeAPIServer

    data = tmp / "avatars300"
    if not data.exists():
        build_synthetic_avatars(data, n=300, seed=4)
    env = {**os.environ, "PYTHONPATH": str(code)}
    with FakeAPIServer(latency=0.1) as srv:
        cmd = [sys.executable, "-m", "vbench", "eval", "--model", "openai", "--model_args",
               f"model=X,base_url={srv.openai_url}", "--tasks", "aggressiveness_rating", "--dataset", str(data),
               "--output_path", str(tmp / "out"), "--cache-dir", str(tmp / "cache"), "--max_concurrency",
               str(concurrency), "--quiet"]
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=str(code))
        while proc.poll() is None and sum(e.answered is not None for e in srv.events) < 300:
            time.sleep(0.002)
        proc.send_signal(signal.SIGKILL)
        killed = time.monotonic()
        proc.wait()
        answered = {e.key for e in srv.events if e.answered is not None and e.answered <= killed}
        mark = len(srv.events)
        again = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600, cwd=str(code))
        assert again.returncode == 0, again.stderr
        resent = {e.key for e in srv.events[mark:]} & answered
        total = len({e.key for e in srv.events})
    return {"answered_before_kill": len(answered), "resent": len(resent), "requests": total,
            "concurrency": concurrency}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--baseline", type=Path, help="another checkout (e.g. the lockstep engine) measured beside")
    ap.add_argument("--figs", default="abcd")
    ap.add_argument("--c-pairs", type=int, default=12, help="(c): neighbouring vbench/bare run pairs")
    ap.add_argument("--client", help=argparse.SUPPRESS)
    ap.add_argument("--url", default="", help=argparse.SUPPRESS)
    ap.add_argument("--tmp", type=Path, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.client:
        a.tmp.mkdir(parents=True, exist_ok=True)
        if a.client.startswith("c-"):
            client_c(a.tmp, a.client[2:])
            return
        out = {"a": lambda: client_a(a.url, a.tmp), "d": lambda: client_d(a.url, a.tmp)}[a.client]()
        import vbench

        print(json.dumps({**out, "code": vbench.__file__}))
        return

    from vbench.testing.api_server import server_process

    codes = [("engine", ROOT)] + ([("baseline", a.baseline.resolve())] if a.baseline else [])
    print(f"load average at start: {os.getloadavg()} on {os.cpu_count()} cores")
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        if "a" in a.figs:
            base, jitter, rate, slow = STRAGGLERS
            with server_process("--latency", base, "--jitter", jitter, "--slow-rate", rate, "--slow", slow) as url:
                for name, code in codes:
                    r = _client(code, "a", url, tmp / f"a-{name}")
                    bound = critical_path(Path(r["samples"]))
                    print(f"    ({name}: vbench from {r['code']})")
                    print(f"(a) {name:<8} 64 ultimatum_pair games, {r['requests']} requests: model time "
                          f"{r['model_time']:.2f} s (wall {r['wall']:.2f} s, {r['cpu']:.2f} s CPU in it), "
                          f"critical path {bound:.2f} s -> "
                          f"{r['model_time'] / bound:.2f}x (target <= 1.3)")
        if "b" in a.figs:
            for name, code in codes:
                r = crash_b(code, tmp / f"b-{name}")
                print(f"(b) {name:<8} killed after {r['answered_before_kill']} of {r['requests']} answers: "
                      f"{r['resent']} re-sent on re-run (concurrency {r['concurrency']}; target <= it)")
        if "c" in a.figs:
            for name, code in codes:
                runs = fig_c(code, tmp / f"c-{name}", a.c_pairs)
                ratios = [v / b for v, b in zip(runs["c-vbench"], runs["c-bare"])]
                vb, bare = min(runs["c-vbench"]), min(runs["c-bare"])
                print(f"(c) {name:<8} 200 images, steady part, {a.c_pairs} neighbouring pairs (ABBA): vbench "
                      f"--batch_size 32 / bare 16-image loop, median of pair ratios {statistics.median(ratios):.2f}x "
                      f"(target <= 1.2); best {vb:.2f} / {bare:.2f} s -> {vb / bare:.2f}x; "
                      f"runs {({k: [round(t, 3) for t in v] for k, v in runs.items()})}")
        if "d" in a.figs:
            with server_process("--latency", "0.1") as url:
                for name, code in codes:
                    r = _client(code, "d", url, tmp / f"d-{name}")
                    print(f"(d) {name:<8} 1000 requests at concurrency 64: best {r['best']:.0f} req/s "
                          f"({r['best'] / r['ideal']:.1%} of {r['ideal']:.0f}), median {r['median']:.0f} req/s "
                          f"({r['median'] / r['ideal']:.1%}) (target >= 90%)")
    print(f"load average at end: {os.getloadavg()} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
