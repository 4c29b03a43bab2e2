"""`vbench analyze <study> --transcripts PATH...`: recompute a study's metrics from saved transcripts."""
from __future__ import annotations

import argparse


def add_parser(sub) -> None:
    p = sub.add_parser("analyze", help="re-analyse saved transcripts without a model",
                       description="Recompute extraction and metrics from transcripts (a run's samples.jsonl or "
                                   "transcripts converted to the documented schema).")
    kinds = p.add_subparsers(dest="analysis", required=True, parser_class=type(p))
    u = kinds.add_parser("ultimatum", help="ultimatum games (ultimatum_solo / ultimatum_pair)",
                         formatter_class=argparse.RawDescriptionHelpFormatter,
                         epilog="example:\n  vbench analyze ultimatum --transcripts results/*/ultimatum_pair/samples.jsonl "
                                "--output_path analysis")
    u.add_argument("--transcripts", nargs="+", required=True, metavar="PATH",
                   help="JSONL files (or run folders holding samples.jsonl)")
    u.add_argument("--output_path", "--output-path", default="analysis",
                   help="writes DIR/<task>/analysis.json and transcripts.jsonl (default: analysis/)")
    u.add_argument("--keep-outcomes", "--keep_outcomes", action="store_true",
                   help="keep the outcome fields given in the transcripts; extract only the missing ones")
    u.add_argument("--no-language", "--no_language", dest="language", action="store_false",
                   help="skip the language measures (pronouns, VADER sentiment)")
    u.add_argument("--levels", type=int, default=7, help="number of aggressiveness levels (default 7)")
    u.add_argument("--judge-model", "--judge_model", default=None,
                   help="extract outcomes with the release's LLM-judge prompts through this model (backend or alias)")
    u.add_argument("--judge-args", "--judge_args", default="", help="k=v,... model args for the judge")
    u.add_argument("--cache-dir", "--cache_dir", default=None, help="response cache folder for the judge")
    u.add_argument("--quiet", action="store_true", help="no summary table")
    u.set_defaults(func=run_ultimatum)


def run_ultimatum(args) -> int:
    from rich.console import Console
    from rich.table import Table

    from vbench.summary import _fmt
    from vbench.tasks.ultimatum.analyze import analyze
    from vbench.tasks.ultimatum.metrics import summary_rows

    docs = analyze(args.transcripts, args.output_path, keep_outcomes=args.keep_outcomes, n_levels=args.levels,
                   judge_model=args.judge_model, judge_args=args.judge_args, cache_dir=args.cache_dir,
                   language=args.language)
    if not args.quiet:
        table = Table(title="vbench analyze ultimatum")
        for col in ("task", "metric", "value [95% CI]", "n"):
            table.add_column(col)
        for task, doc in docs.items():
            for name, value in summary_rows(doc["metrics"]):
                table.add_row(task, name, _fmt(value), str(value.get("n", "")))
            c, e = doc["counts"], doc["extraction"]
            table.add_row(task, "games (usable / all)", f"{c['games_usable']} / {c['n_games']}", "")
            table.add_row(task, "outcome fields (given / extracted)", f"{e['fields_given']} / {e['fields_extracted']}", "")
            dropped = sum(e["dropped_labels"].values())
            if dropped:
                table.add_row(task, "given labels dropped (invalid)", str(dropped), "")
        Console(width=140).print(table)
        print(f"analysis written under {args.output_path}/")
    return 0
