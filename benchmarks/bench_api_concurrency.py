"""Concurrency figure: 1,000 requests at concurrency 64 against a loopback server answering in 100 ms.

The ideal is 64 / 0.1 s = 640 requests/s; the target is >= 90% of it. Printed side by side in one run:
the OpenAI runner (official SDK, retries, image data URLs, response parsing) and a bare aiohttp client
posting the same bodies (the ceiling this machine and server allow, no SDK). The server runs in its own
process so it does not share the client's interpreter.

    python benchmarks/bench_api_concurrency.py [--n 1000] [--concurrency 64] [--latency 0.1]
"""
from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._api_requests import image_requests  # noqa: E402
from vbench.runners.openai_api import OpenAIArgs, OpenAIRunner, to_openai_messages  # noqa: E402
from vbench.testing.api_server import server_process  # noqa: E402


async def bare_client(url: str, bodies: list[dict], concurrency: int) -> tuple[float, float]:
    import aiohttp

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:
        sem = asyncio.Semaphore(concurrency)

        async def one(body: dict) -> None:
            async with sem:
                async with session.post(url + "/chat/completions", json=body) as r:
                    await r.json()

        await asyncio.gather(*(one(b) for b in bodies[:concurrency]))  # warm the connections
        t0, c0 = time.perf_counter(), time.process_time()
        await asyncio.gather(*(one(b) for b in bodies))
        return time.perf_counter() - t0, time.process_time() - c0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--concurrency", type=int, default=64)
    ap.add_argument("--latency", type=float, default=0.1)
    ap.add_argument("--repeat", type=int, default=3, help="timed runs per client (best and median reported)")
    a = ap.parse_args()
    ideal = a.concurrency / a.latency
    store, reqs = image_requests(a.n)
    with server_process("--latency", str(a.latency)) as url:
        runner = OpenAIRunner(OpenAIArgs(model="bench", base_url=url + "/v1"), store=store,
                              max_concurrency=a.concurrency)
        runner.run(reqs[:a.concurrency])  # client, connections and image cache warm
        runner_times, runner_cpu = [], []
        for _ in range(a.repeat):
            t0, c0 = time.perf_counter(), time.process_time()
            out = runner.run(reqs)
            runner_times.append(time.perf_counter() - t0)
            runner_cpu.append(time.process_time() - c0)
            assert all(r.ok for r in out), [r.error for r in out if not r.ok][:3]
        runner.close()
        bodies = [{"model": "bench", "messages": to_openai_messages(r.messages, store.data_url), "max_tokens": 2,
                   "seed": r.gen.seed} for r in reqs]
        bare = [asyncio.run(bare_client(url + "/v1", bodies, a.concurrency)) for _ in range(a.repeat)]

    def row(name: str, times: list[float], cpu: list[float]) -> None:
        best, med = min(times), sorted(times)[len(times) // 2]
        print(f"{name:<34} {a.n / best:8.0f} {a.n / med:8.0f} {a.n / best / ideal:9.1%} {a.n / med / ideal:9.1%} "
              f"{1000 * sorted(cpu)[len(cpu) // 2] / a.n:11.2f}")

    print(f"{a.n} requests, concurrency {a.concurrency}, server latency {a.latency * 1000:.0f} ms; "
          f"ideal {ideal:.0f} req/s, target >= {0.9 * ideal:.0f} req/s")
    print(f"{'client':<34} {'best/s':>8} {'median/s':>8} {'best/ideal':>9} {'med/ideal':>9} {'cpu ms/req':>11}")
    row("vbench openai runner (SDK)", runner_times, runner_cpu)
    row("bare aiohttp (ceiling, no SDK)", [t for t, _ in bare], [c for _, c in bare])
    print(f"machine load average (1 min): {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
