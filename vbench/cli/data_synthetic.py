"""`vbench data synthetic-avatars`: a small labelled synthetic persona set (offline demos/tests)."""
from __future__ import annotations


def add_data_parser(sub) -> None:
    p = sub.add_parser("synthetic-avatars", help="draw a small factor-labelled SYNTHETIC persona set (not the study's)")
    p.add_argument("--out", required=True)
    p.add_argument("--n", type=int, default=24)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=run)


def run(args) -> int:
    from vbench.data.synthetic import build_synthetic_avatars

    print(build_synthetic_avatars(args.out, n=args.n, seed=args.seed))
    return 0
