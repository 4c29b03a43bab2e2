"""`vbench eval`: flags follow lm-evaluation-harness (`--model`, `--model_args`, `--tasks`, ...)."""
from __future__ import annotations

import argparse
import sys

from vbench.cli.argtypes import batch_size as batch_size_type
from vbench.cli.argtypes import error_rate, positive_int
from vbench.errors import UsageError
from vbench.scale.shards import shard_arg


def add_parser(sub) -> None:
    p = sub.add_parser("eval", help="evaluate a model on tasks", formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="Evaluate a model on one or more tasks; re-running the same command resumes.",
                       epilog="example:\n  vbench eval --model hf --model_args pretrained=Qwen/Qwen2.5-VL-3B-Instruct "
                              "--tasks aggressiveness_rating --limit 50")
    p.add_argument("--model", required=True, help="backend (hf, vllm, openai, ...) or model-zoo alias; `vbench ls models`")
    p.add_argument("--model_args", "--model-args", default="", help="k=v,... for the backend, e.g. pretrained=PATH,dtype=bfloat16")
    p.add_argument("--model-role", "--model_role", action="append", default=[], metavar="ROLE=MODEL[:k=v,...]",
                   help="a model for one task role (repeatable), e.g. player_a=qwen-vl and player_b=openai:model=gpt-4o "
                        "(ultimatum_pair), judge=claude-sonnet (ultimatum tasks); roles per task: `vbench ls tasks`")
    p.add_argument("--backend", default=None, metavar="NAME",
                   help="run a model-zoo alias on another backend it lists, e.g. --model qwen-vl --backend hf")
    p.add_argument("--max_concurrency", "--max-concurrency", type=positive_int, default=None, metavar="N",
                   help="API backends: requests in flight at once (default 32)")
    p.add_argument("--tasks", required=True, help="comma-separated task names; `vbench ls tasks`")
    p.add_argument("--task_args", "--task-args", default="", help="k=v,... options of the task (`vbench ls tasks` lists each task's options)")
    p.add_argument("--dataset", default=None, help="HF dataset id, local folder (imagefolder layout) or parquet file")
    p.add_argument("--limit", type=positive_int, default=None, help="use only the first N samples")
    p.add_argument("--repeats", type=positive_int, default=None, help="episodes per sample (default: the task's)")
    p.add_argument("--batch_size", "--batch-size", type=batch_size_type, default="auto", help="requests per backend batch, or auto")
    p.add_argument("--seed", type=int, default=0, help="run seed; per-request seeds derive from it")
    p.add_argument("--gen_kwargs", "--gen-kwargs", default="", help="override generation: temperature=..,max_tokens=..,top_p=..,seed=..")
    p.add_argument("--output_path", "--output-path", default="results", help="output folder (default: results/)")
    p.add_argument("--log_samples", "--log-samples", action="store_true",
                   help="kept for lm-eval familiarity: per-sample JSONL is always written (it is what resume uses)")
    p.add_argument("--no-cache", "--no_cache", dest="use_cache", action="store_false", help="do not read or write the response cache")
    p.add_argument("--cache-dir", "--cache_dir", default=None, help="cache folder (default: $VBENCH_CACHE or ~/.cache/vbench)")
    p.add_argument("--skip_bad_samples", "--skip-bad-samples", action="store_true",
                   help="skip samples with corrupt/missing images (listed in results) instead of stopping")
    p.add_argument("--overwrite", action="store_true", help="discard samples of an earlier, different run in the output folder")
    p.add_argument("--fail-on-error", "--fail_on_error", type=error_rate, default=None, metavar="RATE",
                   help="exit 1 when more than this share of episodes failed (0 = any failure; "
                        "default: only when every episode failed)")
    p.add_argument("--shard", type=shard_arg, default=None, metavar="I/N",
                   help="run only part I of N of the episodes (a fixed partition by episode id) into "
                        "<task>/shard-I-of-N/; `vbench merge` joins the parts")
    p.add_argument("--quiet", action="store_true", help="no progress bar or summary table")
    p.set_defaults(func=run)


def parse_roles(items: list[str]) -> dict[str, tuple[str, str]]:
    roles: dict[str, tuple[str, str]] = {}
    for item in items:
        role, sep, spec = item.partition("=")
        if not sep or not role or not spec:
            raise UsageError(f"--model-role: expected ROLE=MODEL[:k=v,...], got {item!r}")
        model, _, args = spec.partition(":")
        if role in roles:
            raise UsageError(f"--model-role: role {role!r} given twice")
        roles[role] = (model, args)
    return roles


def run(args) -> int:
    from vbench.evaluator import error_budget_exceeded, evaluate
    from vbench.summary import print_summary

    results = evaluate(
        model=args.model, model_args=args.model_args, tasks=args.tasks, model_roles=parse_roles(args.model_role),
        backend=args.backend, max_concurrency=args.max_concurrency,
        dataset=args.dataset, limit=args.limit, batch_size=args.batch_size, seed=args.seed, repeats=args.repeats,
        output_path=args.output_path, gen_kwargs=args.gen_kwargs, task_args=args.task_args,
        use_cache=args.use_cache, cache_dir=args.cache_dir, skip_bad_samples=args.skip_bad_samples,
        overwrite=args.overwrite, show_progress=not args.quiet, command=["vbench", *sys.argv[1:]],
        shard=args.shard,
    )
    if not args.quiet:
        print_summary(results, args.output_path)
    failures = [msg for res in results.values() if (msg := error_budget_exceeded(res, args.fail_on_error))]
    for msg in failures:
        print(f"vbench: error: {msg}", file=sys.stderr)
    return 1 if failures else 0
