"""`vbench sweep --models a,b --tasks x,y`: every (model, task) cell, locally or on a Ray cluster."""
from __future__ import annotations

import argparse

from vbench.cli.argtypes import batch_size as batch_size_type
from vbench.cli.argtypes import positive_int


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "sweep", help="evaluate several models on several tasks (local or Ray), resumable",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Run every (model, task) cell as a job with the resources its model needs; finished cells "
                    "are skipped on re-run, partial ones resume, a failing cell never stops the others. "
                    "Results land in OUTPUT/<model>/<task>/ as with `vbench eval`.",
        epilog="examples:\n  vbench sweep --models dummy,qwen-vl --tasks aggressiveness_rating,ultimatum_solo "
               "--dataset demo/avatars\n  vbench sweep --config sweep.yaml --executor ray --ray-address auto")
    p.add_argument("--models", default="", help="comma-separated: names from the config's `models:`, "
                                                "backends or model-zoo aliases (default: every config model)")
    p.add_argument("--tasks", default="", help="comma-separated task names (default: every config task)")
    p.add_argument("--config", default=None, help="sweep YAML: models (args, shards, resources), tasks "
                                                  "(dataset, task_args, limit, repeats, shards), defaults")
    p.add_argument("--executor", choices=["local", "ray"], default="local",
                   help="local: one job after another in this process; ray: Ray tasks (pip install "
                        "'vbench-personas[ray]')")
    p.add_argument("--ray-address", "--ray_address", default=None, metavar="ADDR",
                   help="join a running cluster (auto, HOST:PORT, ray://HOST:PORT); default: start a local one")
    p.add_argument("--num-cpus", "--num_cpus", type=positive_int, default=None,
                   help="CPUs of a local Ray cluster started here (default: all)")
    p.add_argument("--output_path", "--output-path", default=None,
                   help="results folder or fsspec URL (s3://, gs://, hf://...); default: the config's, or sweep/")
    p.add_argument("--cache-dir", "--cache_dir", default=None, help="the driver's cache folder (default: $VBENCH_CACHE)")
    p.add_argument("--dataset", default=None, help="dataset for tasks whose config entry names none")
    p.add_argument("--shards", type=positive_int, default=None, help="split each cell into N shard jobs")
    p.add_argument("--limit", type=positive_int, default=None)
    p.add_argument("--repeats", type=positive_int, default=None)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--batch_size", "--batch-size", type=batch_size_type, default=None)
    p.add_argument("--gen_kwargs", "--gen-kwargs", default=None)
    p.add_argument("--max-retries", "--max_retries", type=int, default=None,
                   help="Ray: re-run a job this often when its worker is lost (default 3)")
    p.add_argument("--quiet", action="store_true", help="no live table: one line per finished job")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from vbench.scale.plan import apply_overrides, load_config, split_names
    from vbench.scale.sweep import run_sweep

    cfg = apply_overrides(load_config(args.config), {
        "output_path": args.output_path, "cache_dir": args.cache_dir, "dataset": args.dataset,
        "shards": args.shards, "limit": args.limit, "repeats": args.repeats, "seed": args.seed,
        "batch_size": args.batch_size, "gen_kwargs": args.gen_kwargs, "max_retries": args.max_retries})
    console = Console(stderr=True)
    if not console.is_terminal:
        console = Console(stderr=True, width=160)
    board = run_sweep(cfg, split_names(args.models), split_names(args.tasks), args.executor, args.ray_address,
                      console, live=False if args.quiet else None, num_cpus=args.num_cpus)
    out = Console()
    board.print_summary(out if out.is_terminal else Console(width=160))
    n = board.counts()
    print(f"sweep: {n['done']} cells done, {n['skipped']} skipped (finished before), {n['failed']} failed "
          f"-> {cfg.output_path}")
    return 1 if n["failed"] else 0
