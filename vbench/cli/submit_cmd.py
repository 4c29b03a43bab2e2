"""`vbench submit RUN_DIR --to ORG/DATASET|DIR`: pack runs and open a pull request on the results dataset."""
from __future__ import annotations

import argparse
import json
from pathlib import Path


def add_parser(sub) -> None:
    p = sub.add_parser(
        "submit", help="submit runs to a leaderboard results dataset (Hub pull request or local folder)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Check each run exactly as the leaderboard will, pack it with its per-sample hashes and "
                    "add it as submissions/<model>/<task>__<version>__<run id>.json.",
        epilog="examples:\n  vbench submit results/ --to my-org/vbench-results      # opens a PR (needs HF_TOKEN)\n"
               "  vbench submit results/dummy/aggressiveness_rating --to ./results-dataset")
    p.add_argument("runs", nargs="+", help="run folder(s) written by `vbench eval` (or an --output_path holding several)")
    p.add_argument("--to", required=True, help="Hub dataset id ORG/NAME, or a local folder (a path that exists or "
                                                "starts with ./ or /)")
    p.add_argument("--no-samples", action="store_true", help="withhold the records (only their hashes are sent); "
                                                             "the leaderboard then cannot recompute the metrics")
    p.add_argument("--notes", default=None, help="free text stored with the submission (max 2000 characters)")
    p.add_argument("--dry-run", action="store_true", help="check and list the files without sending anything")
    p.set_defaults(func=run)


def run(args) -> int:
    from vbench.errors import UsageError
    from vbench.leaderboard.pack import pack_all
    from vbench.leaderboard.store import destination_for
    from vbench.leaderboard.synthetic import submission_synthetic_reasons
    from vbench.results import RunResults

    if args.notes is not None and len(args.notes) > 2000:
        raise UsageError("--notes: at most 2000 characters")
    dest = destination_for(args.to)  # validate the destination before any work
    files: dict[str, bytes] = {}
    for run_dir in args.runs:
        packed = pack_all(Path(run_dir), include_samples=not args.no_samples, notes=args.notes)
        files.update(packed)
    for rel, data in sorted(files.items()):
        obj = json.loads(data)
        synthetic = submission_synthetic_reasons(RunResults.model_validate(obj["results"]), obj["samples"])
        note = f"  synthetic, left off the leaderboard: {'; '.join(synthetic)}" if synthetic else ""
        print(f"{rel}  ({len(data):,} bytes){note}")
    if args.dry_run:
        print(f"dry run: {len(files)} file(s) checked, nothing sent")
        return 0
    where = dest.put(files, message=f"Add {len(files)} vbench run(s)",
                     description="Submitted with `vbench submit`; checked with `vbench validate`.")
    skipped = getattr(dest, "skipped", [])
    for rel in skipped:
        print(f"already present, left as is: {rel}")
    print(f"submitted {len(files) - len(skipped)} run(s) to {where}")
    return 0
