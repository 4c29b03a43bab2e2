"""Coverage of vbench's nominal 95% intervals on simulated studies with known truth (figure: >= 90% each).

Every replication draws new persona images with random effects (as proposer and, correlated, as opponent)
and runs the real designs through the shipped metric code (vbench.testing.studies): ultimatum_pair
(7 levels x 5 images, all 1,225 ordered pairs x repeats x 4 rounds), ultimatum_solo (35 images x 2
orders x repeats) and aggressiveness_rating (35 images x 3 repeats, human ratings). Rows marked "shipped"
are what results.json reports; the other rows compute alternative intervals on the same data, to show
why the shipped method was chosen (the old unit-blind intervals, two-way clustering for pairs).

    python benchmarks/bench_coverage.py                # 200 replications (several minutes on 2 cores)
    python benchmarks/bench_coverage.py --reps 40      # quicker look
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _rows(games):
    """(offer, own level, opponent level, proposer image, opponent image) of every model proposal."""
    out = []
    for t in games:
        for o in t.outcomes:
            p, r = t.players.seat(o.proposer), t.players.seat("b" if o.proposer == "a" else "a")
            if p.kind == "model" and o.offer is not None:
                out.append((o.offer, p.level, r.level if r.kind == "model" else None, p.image_id, r.image_id))
    return out


def _hit(lo, hi, truth):
    return None if lo is None or hi is None else lo <= truth <= hi


def one_replication(seed: int, repeats: int) -> list[tuple[str, str, float | None, float | None, float]]:
    """(estimand, interval method, low, high, truth) of every interval in one replication of each study."""
    from vbench.analysis import stats
    from vbench.tasks.aggressiveness_rating.metrics import compute_metrics as rating_metrics
    from vbench.tasks.ultimatum.metrics import compute_metrics
    from vbench.testing.studies import Design, RatingDesign, pair_study, rating_study, rating_truth, solo_study

    design, rdesign = Design(repeats=repeats), RatingDesign()
    out: list[tuple[str, str, float | None, float | None, float]] = []

    def record(estimand: str, method: str, lo, hi, truth: float) -> None:
        out.append((estimand, method, lo, hi, truth))

    games, truth = pair_study(seed, design)
    m = compute_metrics(games, "pair")
    kk = m["kiss_up_kick_down"]
    for est, key, tkey in (("pair own-level slope", "own_level", "own_slope"),
                           ("pair opponent-level slope", "opponent_level", "opp_slope")):
        record(est, "shipped: delete-one-image jackknife, t(G-1)", kk[key]["ci_low"], kk[key]["ci_high"], truth[tkey])
    record("pair mean offer", "shipped: pigeonhole bootstrap", m["mean_offer"]["ci_low"],
           m["mean_offer"]["ci_high"], truth["mean_offer"])
    level1 = truth["mean_offer"] - 3 * design.own_slope  # level 1 proposers against a balanced pool
    record("pair offer_by_level[1]", "shipped: pigeonhole bootstrap", m["offer_by_level"]["1"]["ci_low"],
           m["offer_by_level"]["1"]["ci_high"], level1)
    rows = _rows(games)
    y, own, opp, pimg, oimg = (list(c) for c in zip(*rows))
    X = {"own_level": own, "opponent_level": opp}
    pairs = list(zip(pimg, oimg))
    for method, kw in (("dyadic-robust sandwich (CR1), t(G-1)", {"crossed": pairs, "pair_cov": "dyadic"}),
                       ("two-way CGM (proposer, opponent image)", {"crossed": pairs, "pair_cov": "twoway"}),
                       ("old: proposer image only (CR1)", {"clusters": pimg, "cluster_cov": "cgm"})):
        fit = stats.ols(y, X, **kw)
        for est, key, tkey in (("pair own-level slope", "own_level", "own_slope"),
                               ("pair opponent-level slope", "opponent_level", "opp_slope")):
            c = fit["coef"][key]
            record(est, method, c["ci_low"], c["ci_high"], truth[tkey])
    old = stats.mean(y)
    record("pair mean offer", "old: rounds independent", old.ci_low, old.ci_high, truth["mean_offer"])
    one = stats.mean(y, pimg)
    record("pair mean offer", "proposer-image cluster bootstrap", one.ci_low, one.ci_high, truth["mean_offer"])

    games, truth = solo_study(seed, design)
    m = compute_metrics(games, "solo")
    s = m["offer_level_slope"]
    record("solo slope", "shipped: image jackknife (cluster-jk), t(G-1)", s["ci_low"], s["ci_high"], truth["own_slope"])
    record("solo mean offer", "shipped: image cluster bootstrap", m["mean_offer"]["ci_low"],
           m["mean_offer"]["ci_high"], truth["mean_offer"])
    rows = _rows(games)
    y = [r[0] for r in rows]
    cgm = stats.ols(y, {"own_level": [r[1] for r in rows]}, clusters=[r[3] for r in rows], cluster_cov="cgm")
    c = cgm["coef"]["own_level"]
    record("solo slope", "one-way CGM sandwich (CR1), t(G-1)", c["ci_low"], c["ci_high"], truth["own_slope"])
    old = stats.mean(y)
    record("solo mean offer", "old: rounds independent", old.ci_low, old.ci_high, truth["mean_offer"])

    r_truth = rating_truth(rdesign)
    records = rating_study(seed, rdesign)
    p = rating_metrics(records)["pearson_human_rating"]
    record("aggressiveness-human r", "shipped: per image, Fisher z", p["ci_low"], p["ci_high"], r_truth)
    old = stats.pearson([r.outputs["rating"] for r in records], [r.sample["human_rating"] for r in records])
    record("aggressiveness-human r", "old: episodes as n", old.ci_low, old.ci_high, r_truth)
    return out


def _one(args: tuple[int, int]):
    return one_replication(*args)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0, help="first replication seed")
    ap.add_argument("--repeats", type=int, default=5, help="games per pair (pair) / per image and order (solo)")
    ap.add_argument("--jobs", type=int, default=1, help="worker processes (results do not depend on it)")
    args = ap.parse_args()
    from vbench.testing.studies import Design, RatingDesign, rating_truth

    design, rdesign = Design(repeats=args.repeats), RatingDesign()
    hits: dict[tuple[str, str], list] = defaultdict(list)
    widths: dict[tuple[str, str], list] = defaultdict(list)
    t0 = time.perf_counter()
    jobs = [(args.seed + rep, args.repeats) for rep in range(args.reps)]
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        for done, rows in enumerate(pool.map(_one, jobs), 1):
            for est, method, lo, hi, truth in rows:
                hits[(est, method)].append(_hit(lo, hi, truth))
                if lo is not None and hi is not None:
                    widths[(est, method)].append(hi - lo)
            if done % 25 == 0:
                print(f"  {done}/{args.reps} replications, {time.perf_counter() - t0:.0f} s", flush=True)
    r_truth = rating_truth(rdesign)
    print(f"\ncoverage of nominal 95% intervals, {args.reps} replications (seeds {args.seed}..{args.seed + args.reps - 1}); "
          f"pair: {design.levels * design.per_level} images, {(design.levels * design.per_level) ** 2} ordered pairs x "
          f"{design.repeats} repeats x 4 rounds; solo: {design.levels * design.per_level} images x 2 orders x "
          f"{design.repeats} repeats; rating: {rdesign.images} images x {rdesign.repeats} repeats (true r {r_truth:.3f})")
    print(f"{'estimand':28s} {'interval':42s} {'coverage':>8s} {'+-MC se':>8s} {'mean width':>10s}")
    for (est, method), h in hits.items():
        ok = [x for x in h if x is not None]
        cov = sum(ok) / len(ok) if ok else float("nan")
        se = math.sqrt(cov * (1 - cov) / len(ok)) if ok else float("nan")
        w = widths[(est, method)]
        flag = "  <- below 90%" if method.startswith("shipped") and cov < 0.90 else ""
        print(f"{est:28s} {method:42s} {cov:8.3f} {se:8.3f} {sum(w) / max(len(w), 1):10.3f}{flag}")
    print(f"\nwall time {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
