"""Issue-7 figure: builder overhead outside the pipeline call (< 5% of wall time; tiny pipeline, batch 8).

Two measures in one run, on the same tiny random Stable Diffusion pipeline and the same images:
  1. inside the builder: wall time of the generation loop vs time spent in the pipeline call;
  2. side by side: the builder's wall time vs a bare loop calling the same pipeline on the same batches.
The bare loop and the builder alternate for --rounds rounds (machine load drifts); sums are compared.
Run: python benchmarks/bench_avatars.py [--n 64] [--batch-size 8] [--size 64] [--steps 4] [--rounds 3]
(CPU, about a minute; torch uses --threads threads, default 1, so a shared machine does not oversubscribe).
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from vbench.data.avatars.builder import BuildSpec, build_avatars  # noqa: E402
from vbench.data.avatars.design import load_templates, make_design  # noqa: E402
from vbench.data.avatars.pipeline import load_pipeline  # noqa: E402
from vbench.testing.tiny_sd import build_tiny_sd  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=64)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        model = build_tiny_sd(Path(tmp) / "tiny-sd")
        pipe = load_pipeline(str(model))
        spec = BuildSpec(model_id=str(model), n=args.n, height=args.size, width=args.size, steps=args.steps)
        items = make_design(load_templates(spec.templates), spec.n, spec.seed)
        kw = dict(steps=spec.steps, guidance=spec.guidance_scale, height=spec.height, width=spec.width)
        pipe([items[0].prompt], [items[0].negative_prompt], [items[0].seed], **kw)  # warm-up

        bare = builder_total = wall = in_pipe = 0.0
        for r in range(args.rounds):
            t0 = time.perf_counter()
            for s in range(0, len(items), args.batch_size):
                b = items[s:s + args.batch_size]
                pipe([i.prompt for i in b], [i.negative_prompt for i in b], [i.seed for i in b], **kw)
            bare += time.perf_counter() - t0
            t0 = time.perf_counter()
            stats = build_avatars(Path(tmp) / f"out{r}", spec, batch_size=args.batch_size, progress=False,
                                  pipeline=pipe, write_card=False)
            builder_total += time.perf_counter() - t0
            wall, in_pipe = wall + stats.wall_s, in_pipe + stats.pipeline_s

    print(f"images: {args.n} ({args.size}x{args.size}, {args.steps} steps), batch {args.batch_size}, "
          f"{args.rounds} rounds, {args.threads} torch thread(s)")
    print(f"builder generation loop: {wall:.2f} s wall, {in_pipe:.2f} s in the pipeline call "
          f"→ overhead {(wall - in_pipe) / wall:.2%} (target < 5%)")
    print(f"side by side: bare pipeline loop {bare:.2f} s, builder incl. plan/resume scan/final metadata "
          f"{builder_total:.2f} s → {(builder_total - bare) / builder_total:+.2%} of the builder's wall time")


if __name__ == "__main__":
    main()
