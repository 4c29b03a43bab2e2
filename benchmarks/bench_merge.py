"""`vbench merge` on a big run: 25,000 episodes split in 8 shards, merged, checked against the unsharded run.

Builds synthetic avatars, runs the dummy backend on aggressiveness_rating with enough repeats for
~25,000 episodes once whole and once as 8 shards, then times `vbench.scale.merge.merge` (reading and
checking every part, recomputing the metrics, writing samples.jsonl and results.json) and checks that
the merged samples.jsonl equals the unsharded one byte for byte.

Run: python benchmarks/bench_merge.py [--episodes 25000] [--shards 8]   (CPU; a few minutes)
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from vbench.data.synthetic import build_synthetic_avatars
from vbench.evaluator import evaluate
from vbench.scale.merge import merge


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--episodes", type=int, default=25_000)
    ap.add_argument("--shards", type=int, default=8)
    opts = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-merge-"))
    os.environ["VBENCH_CACHE"] = str(tmp / "cache")
    avatars = build_synthetic_avatars(tmp / "avatars", n=12, seed=0)
    repeats = -(-opts.episodes // 12)
    common = dict(model="dummy", tasks="aggressiveness_rating", dataset=str(avatars), repeats=repeats,
                  use_cache=False, show_progress=False, task_args="scoring=sampled")
    t0 = time.perf_counter()
    whole = evaluate(output_path=tmp / "whole", **common)["aggressiveness_rating"]
    t_whole = time.perf_counter() - t0
    t0 = time.perf_counter()
    for i in range(1, opts.shards + 1):
        evaluate(output_path=tmp / "sharded", shard=(i, opts.shards), **common)
    t_shards = time.perf_counter() - t0
    parts = tmp / "sharded" / "dummy" / "aggressiveness_rating"
    t0 = time.perf_counter()
    merged = merge([parts], tmp / "merged", ["bench"])
    t_merge = time.perf_counter() - t0
    (out_dir,) = merged
    same = (out_dir / "samples.jsonl").read_bytes() == (tmp / "whole" / "dummy" / "aggressiveness_rating" /
                                                        "samples.jsonl").read_bytes()
    size = (out_dir / "samples.jsonl").stat().st_size
    print(f"load average {os.getloadavg()[0]:.1f} (2 cores)")
    print(f"episodes {whole.counts.n_episodes:,} ({size / 2**20:.1f} MiB samples.jsonl), {opts.shards} shards")
    print(f"unsharded eval {t_whole:.1f}s; {opts.shards} shard evals one after another {t_shards:.1f}s")
    print(f"merge {t_merge:.2f}s ({whole.counts.n_episodes / t_merge:,.0f} episodes/s); "
          f"samples.jsonl byte-identical to the unsharded run: {same}")


if __name__ == "__main__":
    main()
