"""`vbench leaderboard build|verify`: the static leaderboard site and the `verified` tier."""
from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError("must be > 0")
    return value


def _fraction(text: str) -> float:
    value = _positive_float(text)
    if value > 1:
        raise argparse.ArgumentTypeError("must be in (0, 1]")
    return value


def add_parser(sub) -> None:
    p = sub.add_parser("leaderboard", help="build the leaderboard site, or verify a submission by re-running it")
    lsub = p.add_subparsers(dest="leaderboard_command", required=True, parser_class=type(p))
    b = lsub.add_parser("build", help="check every submission and write tables + a static HTML site",
                        formatter_class=argparse.RawDescriptionHelpFormatter,
                        epilog="examples:\n  vbench leaderboard build --from my-org/vbench-results --out site/\n"
                               "  vbench leaderboard build --from my-org/vbench-results --space space/   "
                               "# then: hf upload my-org/leaderboard space/ . --repo-type space")
    b.add_argument("--from", dest="source", required=True, help="results dataset: Hub id ORG/NAME or a local folder")
    where = b.add_mutually_exclusive_group(required=True)
    where.add_argument("--out", help="site folder (created, or replaced if it is an earlier site)")
    where.add_argument("--space", help="like --out, plus the README front matter of a static Hugging Face Space")
    b.add_argument("--include-synthetic", action="store_true",
                   help="show runs on synthetic data or random/dummy models (marked); by default they are left out")
    b.add_argument("--dataset-copy", action="append", default=[], metavar="HUB_ID=PATH",
                   help="a local copy of a published dataset, used to check fingerprints (default: load it by id)")
    b.add_argument("--revision", default=None, help="Hub revision (branch, tag or commit) to build from")
    b.add_argument("--no-paper", action="store_true", help="leave out the papers' published rows")
    b.add_argument("--title", default="vbench leaderboard")
    b.add_argument("--max-file-mb", type=_positive_float, default=64.0, help="reject larger files (default 64)")
    b.add_argument("--max-records", type=int, default=200_000, help="reject submissions with more records")
    b.add_argument("--workers", type=int, default=None, help="checking processes (default: CPU count, max 8)")
    b.add_argument("--no-cache", dest="use_cache", action="store_false",
                   help="re-check every file (default: reuse verdicts of unchanged files checked by this same code)")
    b.set_defaults(func=run_build)

    v = lsub.add_parser("verify", help="re-run a random subset of a submission's episodes; record the outcome",
                        formatter_class=argparse.RawDescriptionHelpFormatter,
                        epilog="example:\n  vbench leaderboard verify submissions/dummy/aggressiveness_rating__1.0__ab12.json "
                               "--from ./results-dataset --n 8")
    v.add_argument("submission", help="submission file (a path, or a path inside --from)")
    v.add_argument("--from", dest="source", default=None, help="results dataset (Hub id or folder) holding it")
    v.add_argument("--to", default=None, help="where to record the outcome (default: the dataset it came from)")
    v.add_argument("--n", type=int, default=8, help="episodes to re-run (random, seeded)")
    v.add_argument("--seed", type=int, default=0, help="seed of the random subset")
    v.add_argument("--tolerance", type=float, default=0.02, help="absolute tolerance for numeric outputs")
    v.add_argument("--min-agreement", type=_fraction, default=0.9, help="share of episodes that must agree")
    v.add_argument("--dataset", default=None, help="where the submission's dataset is on this machine")
    v.add_argument("--model_args", "--model-args", default="", help="override model args (paths, devices, keys)")
    v.add_argument("--cache-dir", default=None, help="image store folder (default: $VBENCH_CACHE)")
    v.add_argument("--dry-run", action="store_true", help="print the outcome, record nothing")
    v.set_defaults(func=run_verify)


def run_build(args) -> int:
    from vbench.errors import UsageError
    from vbench.leaderboard.build import build
    from vbench.leaderboard.render import check_out_dir
    from vbench.leaderboard.schema import Limits

    out = Path(args.out or args.space)
    check_out_dir(out.expanduser().resolve())
    copies = {}
    for item in args.dataset_copy:
        hub_id, sep, path = item.partition("=")
        if not sep or not hub_id or not path:
            raise UsageError(f"--dataset-copy {item!r}: expected HUB_ID=PATH")
        if not Path(path).expanduser().exists():
            raise UsageError(f"--dataset-copy {item!r}: no such folder {path}")
        copies[hub_id] = str(Path(path).expanduser())
    limits = Limits(max_file_bytes=int(args.max_file_mb * 2**20), max_records=max(0, args.max_records))
    report = build(args.source, out, limits, args.workers, not args.no_paper, args.title, args.revision,
                   args.use_cache, args.include_synthetic, copies, space=bool(args.space))
    print(f"{report.accepted} runs accepted ({report.verified} verified), {len(report.rejected)} files rejected, "
          f"{len(report.synthetic)} synthetic{'' if args.include_synthetic else ' left out'}, "
          f"{len(report.boards)} boards -> {out}/index.html ({report.seconds:.1f}s)")
    if args.space:
        print(f"static Space ready: hf upload ORG/SPACE {out} . --repo-type space")
    for item in report.rejected[:20]:
        print(f"  rejected {item['file']}: {'; '.join(item['reasons'])}")
    if len(report.rejected) > 20:
        print(f"  ... and {len(report.rejected) - 20} more: see {out}/report.md")
    return 0


def _locate(args) -> tuple[Path, str, str | None]:
    """(local file, path inside the dataset, default destination) of the submission to verify."""
    from vbench.errors import UsageError
    from vbench.leaderboard.store import inside, is_hub_id

    rel = args.submission
    if args.source and is_hub_id(args.source):
        from huggingface_hub import hf_hub_download

        try:
            local = hf_hub_download(args.source, rel, repo_type="dataset")
        except Exception as exc:  # network/auth/not found: one line
            raise UsageError(f"cannot download {rel} from {args.source}: {str(exc).splitlines()[0][:200]}") from None
        return Path(local), rel, args.source
    if args.source:
        return inside(Path(args.source), rel), rel, args.source
    path = Path(rel)
    parts = path.resolve().parts
    if len(parts) >= 4 and parts[-3] == "submissions":
        return path, "/".join(parts[-3:]), str(Path(*parts[:-3]))
    return path, path.name, None


def run_verify(args) -> int:
    from vbench.args import parse_kv
    from vbench.errors import UsageError
    from vbench.leaderboard.pack import dumps, model_folder
    from vbench.leaderboard.schema import Limits, safe_slug
    from vbench.leaderboard.store import VERIFICATIONS, destination_for
    from vbench.leaderboard.verify import load_checked, verify

    if args.tolerance < 0:
        raise UsageError("--tolerance must be >= 0")
    path, rel, default_to = _locate(args)
    sub, raw = load_checked(path, Limits())
    dest_spec = args.to or default_to
    dest = None
    if not args.dry_run:
        if not dest_spec:
            raise UsageError("say where to record the outcome with --to (or use --dry-run)")
        dest = destination_for(dest_spec)
    ver = verify(sub, hashlib.sha256(raw).hexdigest(), rel, n=args.n, seed=args.seed, abs_tol=args.tolerance,
                 min_agreement=args.min_agreement, dataset=args.dataset,
                 model_args=parse_kv(args.model_args, "--model_args"), cache_dir=args.cache_dir)
    print(json.dumps({k: ver.model_dump()[k] for k in ("passed", "checked", "agreed", "agreement",
                                                        "model_fingerprint_match")}))
    for m in ver.mismatches[:5]:
        print(f"  {m['episode_id']}: {m['reason']}")
    if dest is not None:
        target = f"{VERIFICATIONS}/{model_folder(sub)}/{safe_slug(Path(rel).stem)}.json"
        where = dest.put({target: dumps(ver)}, message=f"Verify {rel}",
                         description=f"`vbench leaderboard verify`: {ver.agreed}/{ver.checked} episodes agree")
        print(f"recorded {target} in {where}")
    return 0 if ver.passed else 1
