"""`vbench demo`: build offline demo inputs (synthetic personas, a tiny random VLM)."""
from __future__ import annotations

from pathlib import Path


def add_parser(sub) -> None:
    p = sub.add_parser("demo", help="build offline demo inputs: synthetic persona images and a tiny random VLM")
    p.add_argument("--out", default="demo", help="folder to write into (default: demo/)")
    p.add_argument("--n", type=int, default=24, help="number of synthetic persona images")
    p.add_argument("--arch", choices=["llava", "qwen2vl"], default="llava", help="tiny model architecture")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=run)


def run(args) -> int:
    from vbench.data.synthetic import build_synthetic_avatars
    from vbench.testing.tiny_models import build_tiny_vlm

    out = Path(args.out)
    avatars = build_synthetic_avatars(out / "avatars", n=args.n, seed=args.seed)
    model = build_tiny_vlm(out / f"tiny-{args.arch}", arch=args.arch, seed=args.seed)
    print(f"synthetic personas (not the study's avatars): {avatars}")
    print(f"tiny random {args.arch} model (answers are noise): {model}")
    print(f"next: vbench eval --model hf --model_args pretrained={model} --tasks aggressiveness_rating "
          f"--dataset {avatars}")
    return 0
