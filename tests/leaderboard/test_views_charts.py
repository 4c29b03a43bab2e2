"""Reading metrics of any task shape, and the SVG charts."""
from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from vbench.leaderboard import charts, views

MV = lambda v, lo=None, hi=None: {"value": v, "ci_low": lo, "ci_high": hi, "n": 10}  # noqa: E731


@pytest.mark.parametrize("metrics, scale", [
    ({"preference": {name: MV(0.1 * i) for i, (_, name, _) in enumerate(views.SCHWARTZ)}}, 1.0),
    ({"per_value": {key: {"mean": MV(0.1 * i)} for i, (key, _, _) in enumerate(views.SCHWARTZ)}}, 1.0),
    ({"preference": {"overall": MV(0.5), "values": {name: {"score": MV(0.1 * i), "n": 5, "std_keywords": 0.1}
                                                     for i, (_, name, _) in enumerate(views.SCHWARTZ)}}}, 1.0),
    ({"per_value": {key: {"detail": {"mean": MV(0.1)}} for key, _, _ in views.SCHWARTZ}}, None),
    ({"scores": {abbr: 10.0 * i for i, (_, _, abbr) in enumerate(views.SCHWARTZ)}}, 100.0),
    ({"std_by_value": {k: MV(0.9) for k, _, _ in views.SCHWARTZ},
      "preference_score": {k: MV(0.1 * i) for i, (k, _, _) in enumerate(views.SCHWARTZ)}}, 1.0),
])
def test_value_profile_found_in_any_shape(metrics, scale):
    prof = views.value_profile(metrics)
    if scale is None:  # nested one level deeper than a value: not a profile
        assert prof is None
        return
    assert list(prof) == [k for k, _, _ in views.SCHWARTZ]
    assert prof["universalism"] == pytest.approx(0.1)
    assert prof["security"] == pytest.approx(0.9)


def test_value_profile_absent():
    assert views.value_profile({"mean_rating": MV(3.0), "power": MV(1.0)}) is None


def test_human_correlation_follows_primary_score_else_sampled_rating():
    m = {"pearson_human_rating": MV(0.2, 0.0, 0.4), "pearson_human_expected_rating": MV(0.4, 0.1, 0.6)}
    p = views.human_correlation(m)  # no primary_score: the paper's sampled rating
    assert (p.label, p.value, p.lo, p.hi) == ("pearson_human_rating", 0.2, 0.0, 0.4)
    p = views.human_correlation({**m, "primary_score": "expected_rating"})
    assert (p.label, p.value, p.lo, p.hi) == ("pearson_human_expected_rating", 0.4, 0.1, 0.6)
    assert views.human_correlation({"pearson_human_expected_rating": MV(0.4)}).label == "pearson_human_expected_rating"
    assert views.human_correlation({"pearson_human_rating": {"value": None}}) is None


def test_kiss_up_coefficients_from_ols_blocks():
    ols = {"coef": {"const": {"b": 60.0}, "own_aggressiveness": {"b": 1.5, "ci_low": 0.5, "ci_high": 2.5},
                    "opponent_aggressiveness": {"b": -0.8, "ci_low": -1.2, "ci_high": -0.4}}, "n": 100, "r2": 0.2}
    pts = views.kiss_up_coefficients("ultimatum_pair", {"offer_ols": ols, "mean_offer": MV(62.0)})
    assert [(p.label, p.value) for p in pts] == [("offer_ols.own_aggressiveness", 1.5),
                                                 ("offer_ols.opponent_aggressiveness", -0.8)]
    assert views.kiss_up_coefficients("aggressiveness_rating", {"ols_factors": ols}) == []


def test_isq_gains_nested_per_strategy_and_platform():
    m = {"i_avg": {"isq": {"tiktok": MV(0.3, 0.1, 0.5), "youtube": MV(0.2)}, "plain": {"tiktok": MV(0.0)}},
         "alignment_gain": MV(0.05), "yes_rate": MV(0.5)}
    labels = {p.label: p.value for p in views.isq_gains(views.columns(m))}
    assert labels == {"i_avg.isq.tiktok": 0.3, "i_avg.isq.youtube": 0.2, "i_avg.plain.tiktok": 0.0,
                      "alignment_gain": 0.05}
    assert views.headline("isq_induction", list(views.columns(m))) == "i_avg.isq.tiktok"


def test_columns_skip_distributions_extras_and_non_finite():
    m = {"mean_rating": {"value": 3.0, "extra": {"std": 1.0}}, "rating_distribution": {"1": 0.5},
         "primary_score": "rating", "flag": True, "weird": {"value": float("nan")}, "bare_nan": float("nan")}
    cols = views.columns(m, [("Weird (label)", m["weird"])])
    assert list(cols) == ["Weird (label)", "mean_rating"]  # the summary label replaces the path
    assert views.scalar(cols["Weird (label)"]) is None


def test_svg_charts_are_well_formed_and_escape_labels():
    evil = '</text><script>alert(1)</script>'
    svg = charts.bars([views.Point(evil, 0.5, 0.2, 0.7), views.Point("b", -0.3)], evil, (-1, 1))
    root = ET.fromstring(svg)
    ns = {"s": charts.SVG_NS}
    assert not root.findall(".//s:script", ns)
    assert len(root.findall(".//s:rect[@class='bar']", ns)) == 2
    assert any(evil[:20] in (t.text or "") for t in root.findall(".//s:text", ns))
    radar = ET.fromstring(charts.radar(["SD", "UNI", "BEN"], [0.2, 1.5, -1.0], evil))
    poly = radar.find(".//s:polygon[@class='series']", ns)
    assert len(poly.get("points").split()) == 3


def test_board_charts_follow_the_metrics_present():
    from vbench.leaderboard.board import Board, BoardKey, Row
    from vbench.leaderboard.render import _board_charts

    ols = {"coef": {"const": {"b": 60.0}, "own_level": {"b": 1.2, "ci_low": 0.2, "ci_high": 2.2},
                    "opponent_level": {"b": -0.5, "ci_low": -1.0, "ci_high": 0.0}}}
    key = BoardKey("ultimatum_pair", "1.0", "ab" * 8, "cd" * 8)
    board = Board(key=key, rows=[Row(key=key, model=f"m{i}", tier="self-reported", source="x",
                                     metrics={"offer_ols": ols, "i_avg": {"isq": MV(0.1 * i)},
                                              "pearson_human_rating": MV(0.3)}) for i in range(3)])
    board.finalize(40)
    kinds = [c["kind"] for c in _board_charts(board)]
    assert kinds.count("kiss-up") == 3 and kinds.count("isq-gain") == 3 and kinds.count("human-r") == 1
    assert "radar" not in kinds
    assert board.headline == "i_avg.isq" and [r.model for r in board.rows] == ["m2", "m1", "m0"]


def test_kiss_up_prefers_the_block_the_task_names():
    m = {"kiss_up_kick_down": {"own_level": MV(1.0, 0.5, 1.5), "opponent_level": MV(-2.0)},
         "ols_offer": {"coef": {"own_level": {"b": 9.0}}}}
    assert [(p.label, p.value) for p in views.kiss_up_coefficients("ultimatum_pair", m)] == \
           [("own_level", 1.0), ("opponent_level", -2.0)]
