import pytest

from vbench.tasks.isq_induction.metrics import compute_metrics, relative_increase
from vbench.types import Record


def rec(strategy, trial, watched, values, targets=("Power",), platform="tiktok"):
    return Record(task="isq_induction", episode_id=f"{platform}/{strategy}/{trial}", index=0,
                  sample={"platform": platform, "strategy": strategy, "trial": trial, "persona_values": list(targets),
                          "base_alignment": 0.1, "pool": "platform"},
                  outputs={"watched": watched, "item_values": values, "parse_failures": 0})


def test_relative_increase_and_the_zero_denominator():
    assert relative_increase(4, 6) == pytest.approx(0.5)
    assert relative_increase(4, 0) == pytest.approx(-1)
    assert relative_increase(0, 0) == 0.0
    assert relative_increase(0, 3) is None


def test_i_avg_matches_equation_one():
    n = 2
    records = [
        rec("simple", 0, [1, 0, 1, 1], ["Power"] * 4),        # Yf=1, Yl=2 -> +1.0
        rec("simple", 1, [1, 1, 0, 1], ["Power"] * 4),        # Yf=2, Yl=1 -> -0.5
        rec("simple", 2, [0, 0, 0, 0], ["Power"] * 4),        # 0/0 -> 0
        rec("simple", 3, [0, 0, 1, 0], ["Power"] * 4),        # x/0 -> undefined, excluded
    ]
    m = compute_metrics(records, n)["cells"]["simple/tiktok"]
    assert m["I_avg"]["value"] == pytest.approx((1.0 - 0.5 + 0.0) / 3)
    assert m["I_avg"]["n"] == 3
    extra = m["I_avg"]["extra"]
    assert (extra["n_trials"], extra["n_zero_denominator"], extra["n_zero_zero"], extra["n_undefined"]) == (4, 2, 1, 1)
    assert m["yes_rate_change"]["value"] == pytest.approx(((2 - 1) + (1 - 2) + 0 + 1) / 4 / n)


def test_alignment_first_last_and_paired_gain_over_plain():
    n = 2
    plain = [rec("plain", t, [0] * 4, ["Power", "Hedonism", "Hedonism", "Power"]) for t in range(2)]
    isq = [rec("isq", 0, [1] * 4, ["Hedonism", "Hedonism", "Power", "Power"]),
           rec("isq", 1, [1] * 4, ["Hedonism", "Power", "Power", "Hedonism"], targets=("Power", "Hedonism"))]
    m = compute_metrics(plain + isq, n)
    cell = m["cells"]["isq/tiktok"]
    assert cell["alignment_first"]["value"] == pytest.approx((0 + 1) / 2)
    assert cell["alignment_last"]["value"] == pytest.approx((1 + 1) / 2)
    # plain's last-n alignment: trial 0 targets Power -> 0.5; trial 1 targets Power -> 0.5
    assert cell["alignment_gain_vs_plain"]["value"] == pytest.approx(((1 - 0.5) + (1 - 0.5)) / 2)
    assert "alignment_gain_vs_plain" not in m["cells"]["plain/tiktok"]
    assert m["by_strategy"]["isq"]["n_trials"] == 2


def test_gain_pairs_by_platform_and_trial():
    n = 1
    records = [rec("plain", 0, [0, 0], ["Power", "Power"], platform="a"),
               rec("plain", 0, [0, 0], ["Hedonism", "Hedonism"], platform="b"),
               rec("isq", 0, [0, 0], ["Power", "Power"], platform="b")]
    m = compute_metrics(records, n)
    assert m["cells"]["isq/b"]["alignment_gain_vs_plain"]["value"] == pytest.approx(1.0)
