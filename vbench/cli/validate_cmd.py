"""`vbench validate RESULTS`: check results.json files, run folders or packed submissions."""
from __future__ import annotations

import json
import sys
from pathlib import Path


def add_parser(sub) -> None:
    p = sub.add_parser("validate", help="check results.json / run folders / submission files against the schema",
                       description="Strict schema, numeric ranges, a task version and prompt set this vbench knows, "
                                   "per-sample hashes and metrics recomputed from the records (when present). "
                                   "Exit 0 when every file is valid, 1 otherwise.")
    p.add_argument("paths", nargs="*", help="results.json, a run folder, or a submission .json")
    p.add_argument("--no-recompute", action="store_true", help="skip recomputing metrics from the records")
    p.add_argument("--print-schema", choices=["results", "submission", "verification"],
                   help="print a JSON Schema and exit")
    p.add_argument("--write-schemas", metavar="DIR", nargs="?", const="", default=None,
                   help="write the JSON Schema files (default: the package's schemas/ folder) and exit")
    p.set_defaults(func=run)


def _check(path: Path, recompute: bool):
    from vbench.errors import UsageError
    from vbench.leaderboard.checks import Checked, check_submission
    from vbench.leaderboard.pack import assemble, find_runs
    from vbench.leaderboard.schema import InputError, Limits, read_strict

    limits = Limits()
    out = []
    targets = [path] if path.is_file() else find_runs(path)
    for target in targets:
        try:
            obj, _ = read_strict(target, limits)
            if not (isinstance(obj, dict) and obj.get("format") == "vbench-submission"):
                obj = assemble(target, limits, require_samples=False)
            out.append((target, check_submission(obj, limits, recompute=recompute)))
        except (InputError, UsageError) as exc:
            out.append((target, Checked(reasons=[str(exc)])))
    return out


def run(args) -> int:
    from vbench.errors import UsageError
    from vbench.leaderboard import schema
    from vbench.leaderboard.integrity import published_id

    if args.print_schema:
        name = {"results": f"results-{schema.SCHEMA_VERSION}", "submission": f"submission-{schema.FORMAT_VERSION}",
                "verification": f"verification-{schema.FORMAT_VERSION}"}[args.print_schema]
        print(json.dumps(schema.export_schemas()[f"{name}.schema.json"], indent=2, sort_keys=True))
        return 0
    if args.write_schemas is not None:
        for p in schema.write_schemas(Path(args.write_schemas) if args.write_schemas else schema.SCHEMA_DIR):
            print(p)
        return 0
    if not args.paths:
        raise UsageError("give at least one results.json, run folder or submission file")
    bad = 0
    for raw in args.paths:
        path = Path(raw)
        if not path.exists():
            raise UsageError(f"{path}: no such file or folder")
        for target, checked in _check(path, not args.no_recompute):
            if checked.ok:
                res = checked.submission.results
                how = "metrics recomputed" if checked.recomputed else "; ".join(checked.notes) or "metrics not recomputed"
                if published_id(res.task.dataset) == "":
                    how += "; dataset not published by vbench: unranked on the leaderboard"
                if checked.synthetic:
                    how += "; synthetic (left off the leaderboard): " + "; ".join(checked.synthetic)
                print(f"valid    {target}  ({res.task.name} v{res.task.version}, {res.model.model_id}, "
                      f"{res.counts.n_episodes} episodes; {how})")
            else:
                bad += 1
                print(f"INVALID  {target}: " + "; ".join(checked.reasons), file=sys.stderr)
    return 1 if bad else 0
