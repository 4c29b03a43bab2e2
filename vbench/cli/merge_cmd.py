"""`vbench merge SHARD_DIRS... --output_path OUT`: join the shards of `vbench eval --shard I/N` runs."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "merge", help="join the shards of sharded runs (`vbench eval --shard I/N`) into whole runs",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Check that the shards belong together and write each run as an unsharded `vbench eval` "
                    "would have: samples.jsonl byte for byte, metrics recomputed from the records.",
        epilog="example:\n  vbench merge results/dummy/aggressiveness_rating/shard-*-of-4 --output_path results")
    p.add_argument("runs", nargs="+", help="shard folders (shard-I-of-N), or folders holding them")
    p.add_argument("--output_path", "--output-path", required=True, help="merged runs go to OUT/<model>/<task>/")
    p.add_argument("--overwrite", action="store_true", help="replace a run already in the output folder")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from vbench.scale.merge import merge

    merged = merge([Path(p) for p in args.runs], Path(args.output_path), ["vbench", *sys.argv[1:]], args.overwrite)
    for out_dir, res in merged.items():
        print(f"{res.task.name}: {res.counts.n_episodes} episodes merged -> {out_dir}")
    return 0
