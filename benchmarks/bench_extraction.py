"""Outcome rules against the hand-labelled turns: accuracy per split, offers and decisions apart.

Unit: one labelled turn. Splits: the original 143 turns, the tuning turns of styled_turns.yaml, the
held-out turns of styled_turns_heldout.yaml (never used to tune the rules), and all of them. Intervals
are Wilson 95% intervals (statsmodels). ``--show-errors`` lists the turns the rules get wrong.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml
from statsmodels.stats.proportion import proportion_confint

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATA = ROOT / "tests" / "ultimatum" / "data"


def _splits() -> dict[str, list[dict]]:
    original = yaml.safe_load((DATA / "labelled_turns.yaml").read_text())
    rows = [dict(r, role="proposer" if b.startswith("proposer") else "responder") for b, rs in original.items() for r in rs]
    out = {"original (143)": rows,
           "tuning": yaml.safe_load((DATA / "styled_turns.yaml").read_text()),
           "held-out": yaml.safe_load((DATA / "styled_turns_heldout.yaml").read_text())}
    out["all"] = [r for rs in list(out.values()) for r in rs]
    return out


def _check(row: dict) -> dict[str, bool]:
    from vbench.tasks.ultimatum.extraction import parse_offer, parse_response

    if row["role"] == "proposer":
        want = None if row["offer"] is None else float(row["offer"])
        return {"offer": parse_offer(row["text"]).offer == want}
    got = parse_response(row["text"])
    return {"accepted": got.accepted == row["accepted"], "counter": got.counter_proposal == row.get("counter", False)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--show-errors", action="store_true")
    args = ap.parse_args()
    print(f"{'split':<16}{'field':<10}{'right / n':>12}{'accuracy':>10}  95% CI (Wilson)")
    for name, rows in _splits().items():
        results = [(_check(r), r) for r in rows]
        for field in ("offer", "accepted", "counter"):
            marks = [(c[field], r) for c, r in results if field in c]
            right = sum(ok for ok, _ in marks)
            lo, hi = proportion_confint(right, len(marks), method="wilson")
            print(f"{name:<16}{field:<10}{f'{right} / {len(marks)}':>12}{right / len(marks):>10.3f}  [{lo:.3f}, {hi:.3f}]")
            if args.show_errors and name != "all":
                for ok, r in marks:
                    if not ok:
                        print(f"    wrong: {r['text']!r}")


if __name__ == "__main__":
    main()
