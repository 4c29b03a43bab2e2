"""Fault figure: a 500-sample run with 20% of requests failing (429 / 500 / dropped / timed out) loses
no sample, and reports errors apart from answers.

Runs ``vbench.evaluate`` (aggressiveness_rating, both scorings: 2 requests per sample) against a
loopback OpenAI-compatible server injecting faults into 20% of all attempts, twice side by side:
default retries (6), and a single retry (so some requests exhaust their retries and become infra
errors); then re-runs the second to show that only the failed episodes are asked again.

    python benchmarks/bench_api_faults.py [--n 500] [--rate 0.2]
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from vbench.data.synthetic import build_synthetic_avatars  # noqa: E402
from vbench.evaluator import evaluate  # noqa: E402
from vbench.testing.api_server import FakeAPIServer, Faults  # noqa: E402


def run(srv: FakeAPIServer, data: Path, out: Path, cache: Path, extra: str) -> tuple[dict, float, int]:
    sent = len(srv.events)
    t0 = time.perf_counter()
    res = evaluate(model="openai", model_args=f"model=bench,base_url={srv.openai_url},timeout=1.0,{extra}",
                   tasks="aggressiveness_rating", dataset=str(data), output_path=out, cache_dir=cache,
                   max_concurrency=64, show_progress=False)["aggressiveness_rating"]
    folder = out / "bench" / "aggressiveness_rating"
    records = [json.loads(x) for x in (folder / "samples.jsonl").read_text().splitlines()]
    status = {"ok": sum(r["status"] == "ok" for r in records), "error": sum(r["status"] == "error" for r in records),
              "records": len(records), "unique": len({r["episode_id"] for r in records})}
    return {"counts": res.counts, "status": status}, time.perf_counter() - t0, len(srv.events) - sent


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=500)
    ap.add_argument("--rate", type=float, default=0.2)
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="vbench-faults-"))
    data = build_synthetic_avatars(tmp / "avatars", n=a.n, seed=0)
    faults = Faults(rate=a.rate, kinds=("429", "500", "drop", "timeout"), retry_after=0.2, hang=2.0, seed=1)
    print(f"{a.n} samples x 2 requests, {a.rate:.0%} of attempts fail (429 w/ Retry-After, 500, dropped, "
          f"timed out), concurrency 64")
    print(f"{'configuration':<30} {'time s':>7} {'attempts':>8} {'faults':>7} {'ok':>5} {'error':>5} "
          f"{'lost':>5} {'err rate':>8}")
    with FakeAPIServer(faults=faults) as srv:
        for label, extra, name in (("default retries (6)", "", "a"), ("max_retries=1", "max_retries=1", "b")):
            before = srv.outcomes()
            r, dt, attempts = run(srv, data, tmp / name, tmp / f"cache-{name}", extra)
            after = srv.outcomes()
            n_faults = sum(v - before.get(k, 0) for k, v in after.items() if k != "ok")
            s, c = r["status"], r["counts"]
            lost = a.n - s["unique"]
            print(f"{label:<30} {dt:7.1f} {attempts:8d} {n_faults:7d} {s['ok']:5d} {s['error']:5d} {lost:5d} "
                  f"{c.error_rate:8.1%}")
        srv.faults.rate = 0.0  # outage over: re-run the second configuration
        r, dt, attempts = run(srv, data, tmp / "b", tmp / "cache-b", "max_retries=1")
        s = r["status"]
        print(f"{'re-run of max_retries=1':<30} {dt:7.1f} {attempts:8d} {0:7d} {s['ok']:5d} {s['error']:5d} "
              f"{a.n - s['unique']:5d} {r['counts'].error_rate:8.1%}")
        kinds = {k: v for k, v in srv.outcomes().items() if k != "ok"}
        print("faults injected by kind:", ", ".join(f"{k}={v}" for k, v in sorted(kinds.items())))


if __name__ == "__main__":
    main()
