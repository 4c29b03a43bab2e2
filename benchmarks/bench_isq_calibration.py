"""isq_induction calibration: does the headline measure persona induction rather than taste?

Scripted viewers (``vbench.tasks.isq_induction.viewers``) replace the model on a SYNTHETIC corpus
large enough that every persona's pool supplies the design (no marginal pool): ``aligned`` takes on
the persona, ``random`` likes a random half of the items, ``fixed`` always likes Hedonism. For every
platform profile the table prints the headline (last-n alignment gain of a persona strategy over
``plain``, cluster bootstrap over trials) and the paper's I_avg, with 95% intervals. A metric of
persona induction must be clearly positive for ``aligned`` and about zero for the other two.

Run: python benchmarks/bench_isq_calibration.py [--trials 10] [--scrolls 100] [--n 50] [--per-value 450]
"""
from __future__ import annotations

import argparse
import os
import tempfile
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from vbench.tasks.isq_induction.synthetic_corpus import build_synthetic_corpus  # noqa: E402
from vbench.tasks.isq_induction.task import PLATFORMS  # noqa: E402
from vbench.tasks.isq_induction.viewers import VIEWERS, run_viewer  # noqa: E402


def fmt(mv: dict) -> str:
    if mv.get("value") is None:
        return "n/a"
    lo, hi = mv.get("ci_low"), mv.get("ci_high")
    ci = f"[{lo:+.3f}, {hi:+.3f}]" if lo is not None else "[n/a]"
    return f"{mv['value']:+.3f} {ci}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=10)
    ap.add_argument("--scrolls", type=int, default=100)
    ap.add_argument("--n", type=int, default=50)
    ap.add_argument("--per-value", type=int, default=450, help="synthetic items per value (3 platforms share them)")
    args = ap.parse_args()
    platforms = list(PLATFORMS["profiles"])
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        corpus = build_synthetic_corpus(f"{tmp}/corpus", n_per_value=args.per_value, dim=32, seed=0)
        print(f"synthetic corpus: {10 * args.per_value} items, built in {time.perf_counter() - t:.1f}s; design "
              f"{len(platforms)} platforms × plain,simple,isq × {args.trials} trials × {args.scrolls} scrolls, n={args.n}")
        task_args = {"trials": args.trials, "scrolls": args.scrolls, "n": args.n, "platforms": ",".join(platforms)}
        results = {}
        for kind in VIEWERS:
            t = time.perf_counter()
            results[kind] = run_viewer(str(corpus), kind, task_args, f"{tmp}/images")
            d = results[kind]["design"]
            print(f"  {kind}: {time.perf_counter() - t:.1f}s; min liked items per platform "
                  f"{ {p: s['min_liked_items'] for p, s in d['supply'].items()} }, marginal trials "
                  f"{sum(s['marginal_trials'] for s in d['supply'].values())}")
    print()
    print("| platform | viewer | headline: isq alignment gain vs plain | simple gain vs plain | I_avg (isq) | I_avg (plain) |")
    print("|---|---|---|---|---|---|")
    for platform in platforms + ["pooled"]:
        for kind in VIEWERS:
            m = results[kind]
            cell = (lambda s: m["by_strategy"][s]) if platform == "pooled" else (lambda s: m["cells"][f"{s}/{platform}"])
            print(f"| {platform} | {kind} | {fmt(cell('isq')['alignment_gain_vs_plain'])} | "
                  f"{fmt(cell('simple')['alignment_gain_vs_plain'])} | {fmt(cell('isq')['I_avg'])} | "
                  f"{fmt(cell('plain')['I_avg'])} |")
    h = results["aligned"]["headline"]
    print(f"\nintervals: {h['method']}; unit: {h['unit']}; per platform n = {args.trials} trials, pooled "
          f"n = {h['n']} feeds in {h['n_clusters']} clusters")


if __name__ == "__main__":
    main()
