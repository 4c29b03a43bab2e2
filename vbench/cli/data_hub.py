"""`vbench data push` / `vbench data pull`: publish or download a dataset with its card (Hub or local folder)."""
from __future__ import annotations


def add_data_parser(sub) -> None:
    p = sub.add_parser("push", help="publish a dataset folder with its card to the HF Hub (or a local folder)",
                       description="Upload any dataset vbench can load, with its card, as parquet shards. "
                                   "--repo ORG/NAME goes to the Hub; a path (./dir, /dir, file://dir) writes the same "
                                   "layout locally.")
    p.add_argument("src", help="dataset folder (imagefolder, saved dataset or parquet)")
    p.add_argument("--repo", required=True, help="ORG/NAME on the Hub, or a local folder (./dir)")
    p.add_argument("--private", action="store_true", help="create the Hub repo as private")
    p.add_argument("--card", default=None, help="card template in datasets_card/ (default: the folder's README.md)")
    p.add_argument("--license", default=None, help="override the card's license")
    p.add_argument("--token", default=None, help="Hub token (default: HF_TOKEN or `hf auth login`)")
    p.set_defaults(func=run_push)

    q = sub.add_parser("pull", help="download a dataset (Hub id, default name such as 'avatars', or local folder)")
    q.add_argument("repo", help="ORG/NAME, a default name (avatars, screenshots) or a local folder")
    q.add_argument("--out", default=None, help="target folder (default: ./NAME)")
    q.add_argument("--revision", default=None)
    q.add_argument("--token", default=None)
    q.set_defaults(func=run_pull)


def run_push(args) -> int:
    from vbench.data.hub import push_dataset

    where = push_dataset(args.src, args.repo, private=args.private, token=args.token, card=args.card,
                         license=args.license)
    print(f"pushed {args.src} → {where}")
    return 0


def run_pull(args) -> int:
    from vbench.data.hub import pull_dataset

    out = pull_dataset(args.repo, args.out, revision=args.revision, token=args.token)
    print(f"{out}  (use it with --dataset {out})")
    return 0
