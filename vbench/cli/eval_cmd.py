"""`vbench eval`: flags follow lm-evaluation-harness (`--model`, `--model_args`, `--tasks`, ...).

Every setting flag defaults to "not given" (``argparse.SUPPRESS``): the defaults live in ``EvalConfig``
alone, so with ``--config run.yaml`` only the flags actually typed replace the file's values.
"""
from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from vbench.cli.argtypes import batch_size as batch_size_type
from vbench.cli.argtypes import error_rate, positive_int
from vbench.errors import UsageError
from vbench.scale.shards import shard_arg

if TYPE_CHECKING:
    from vbench.config import EvalConfig


def add_parser(sub) -> None:
    p = sub.add_parser("eval", help="evaluate a model on tasks", formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="Evaluate a model on one or more tasks; re-running the same command resumes.",
                       epilog="example:\n  vbench eval --model hf --model_args pretrained=Qwen/Qwen2.5-VL-3B-Instruct "
                              "--tasks aggressiveness_rating --limit 50\n  vbench eval --config run.yaml --limit 5",
                       argument_default=argparse.SUPPRESS)
    p.add_argument("--config", metavar="FILE.yaml", default=None,
                   help="settings from a YAML file (keys are the flag names: model, model_args, tasks, ...); "
                        "flags given here replace its values")
    p.add_argument("--model", help="backend (hf, vllm, openai, ...) or model-zoo alias; `vbench ls models`")
    p.add_argument("--model_args", "--model-args", help="k=v,... for the backend, e.g. pretrained=PATH,dtype=bfloat16")
    p.add_argument("--model-role", "--model_role", action="append", metavar="ROLE=MODEL[:k=v,...]",
                   help="a model for one task role (repeatable), e.g. player_a=qwen-vl and player_b=openai:model=gpt-4o "
                        "(ultimatum_pair), judge=claude-sonnet (ultimatum tasks); roles per task: `vbench ls tasks`")
    p.add_argument("--backend", metavar="NAME",
                   help="run a model-zoo alias on another backend it lists, e.g. --model qwen-vl --backend hf")
    p.add_argument("--max_concurrency", "--max-concurrency", type=positive_int, metavar="N",
                   help="API backends: requests in flight at once (default 32)")
    p.add_argument("--tasks", help="comma-separated task names; `vbench ls tasks`")
    p.add_argument("--task_args", "--task-args", help="k=v,... options of the task (`vbench ls tasks` lists each task's options)")
    p.add_argument("--dataset", help="HF dataset id, local folder (imagefolder layout) or parquet file")
    p.add_argument("--limit", type=positive_int, help="use only the first N samples")
    p.add_argument("--repeats", type=positive_int, help="episodes per sample (default: the task's)")
    p.add_argument("--batch_size", "--batch-size", type=batch_size_type, help="requests per backend batch, or auto")
    p.add_argument("--seed", type=int, help="run seed; per-request seeds derive from it (default 0)")
    p.add_argument("--gen_kwargs", "--gen-kwargs", help="override generation: temperature=..,max_tokens=..,top_p=..,seed=..")
    p.add_argument("--output_path", "--output-path", help="output folder (default: results/)")
    p.add_argument("--log_samples", "--log-samples", action="store_true",
                   help="kept for lm-eval familiarity: per-sample JSONL is always written (it is what resume uses)")
    p.add_argument("--no-cache", "--no_cache", dest="use_cache", action="store_false", help="do not read or write the response cache")
    p.add_argument("--cache-dir", "--cache_dir", dest="cache_dir", help="cache folder (default: $VBENCH_CACHE or ~/.cache/vbench)")
    p.add_argument("--skip_bad_samples", "--skip-bad-samples", action="store_true",
                   help="skip samples with corrupt/missing images (listed in results) instead of stopping")
    p.add_argument("--overwrite", action="store_true", help="discard samples of an earlier, different run in the output folder")
    p.add_argument("--fail-on-error", "--fail_on_error", type=error_rate, metavar="RATE", dest="fail_on_error",
                   help="exit 1 when more than this share of episodes failed (0 = any failure; "
                        "default: only when every episode failed)")
    p.add_argument("--shard", type=shard_arg, metavar="I/N",
                   help="run only part I of N of the episodes (a fixed partition by episode id) into "
                        "<task>/shard-I-of-N/; `vbench merge` joins the parts")
    p.add_argument("--quiet", dest="show_progress", action="store_false", help="no progress bar or summary table")
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


def given_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The settings typed on the command line (flags not given are absent, never their defaults)."""
    from vbench.config import EvalConfig

    given: dict[str, Any] = {k: v for k, v in vars(args).items() if k in EvalConfig.model_fields}
    if "model_role" in vars(args):
        given["model_roles"] = parse_roles(args.model_role)
    return given


def eval_config(args: argparse.Namespace) -> "EvalConfig":
    """The run's settings: the ``--config`` file's, with every flag given on the command line replacing its key."""
    from vbench.config import EvalConfig

    given = given_settings(args)
    config = EvalConfig.from_file(args.config, given) if args.config else EvalConfig.build(given)
    missing = [f"--{key}" for key in ("model", "tasks") if key not in config.model_fields_set]
    if missing:
        where = f" (or their keys in {args.config})" if args.config else ""
        raise UsageError(f"the following arguments are required: {', '.join(missing)}{where} "
                         "(see `vbench eval --help`)")
    return config


def run(args) -> int:
    from vbench.evaluator import error_budget_exceeded, evaluate
    from vbench.summary import print_summary

    config = eval_config(args)
    try:
        results = evaluate(config=config, command=config.as_command())
    except UsageError as exc:
        raise _blame_file(exc, args) from None
    if config.show_progress:
        print_summary(results, str(config.output_path))
    failures = [msg for res in results.values() if (msg := error_budget_exceeded(res, config.fail_on_error))]
    for msg in failures:
        print(f"vbench: error: {msg}", file=sys.stderr)
    return 1 if failures else 0


def _blame_file(exc: UsageError, args: argparse.Namespace) -> UsageError:
    """``--task_args: unknown key 'x'`` names the config file's key when the value came from the file."""
    flag, sep, rest = str(exc).partition(": ")
    key = flag.removeprefix("--")
    if args.config and sep and flag.startswith("--") and key not in given_settings(args):
        from vbench.config import read_config_file

        if key in read_config_file(args.config):
            return UsageError(f"{args.config}: {key}: {rest}")
    return exc
