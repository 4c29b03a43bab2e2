"""Task display declarations, reading metrics through them, and the SVG charts."""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from vbench.leaderboard import charts, views
from vbench.leaderboard.board import Board, BoardKey, Row, attach_papers
from vbench.registry import TASKS
from vbench.tasks.display import Alternative, load_display, schwartz_names

MV = lambda v, lo=None, hi=None: {"value": v, "ci_low": lo, "ci_high": hi, "n": 10}  # noqa: E731
BUILTIN = ["aggressiveness_rating", "ultimatum_solo", "ultimatum_pair", "value_spectrum", "isq_induction"]


@pytest.mark.parametrize("task", BUILTIN)
def test_every_builtin_task_declares_its_display(task):
    if task not in TASKS:
        pytest.skip(f"{task} is not registered in this checkout")
    display = load_display(task)
    assert display is not None and display.headline and display.short
    keys = [c.key for c in display.all_columns()]
    assert len(keys) == len(set(keys)) and all("{" not in k for k in keys)


def test_headlines_are_the_ones_the_papers_report():
    assert load_display("aggressiveness_rating").headline[0].key == "pearson_human_rating"
    assert [a.key for a in load_display("aggressiveness_rating").headline[0].fallback] == ["pearson_human_expected_rating"]
    assert [h.key for h in load_display("ultimatum_pair").headline] == ["ols_offer.coef.opponent_level",
                                                                         "ols_offer.coef.own_level"]
    assert [h.key for h in load_display("isq_induction").headline] == ["by_strategy.isq.alignment_gain_vs_plain",
                                                                        "by_strategy.isq.I_avg"]
    kinds = {t: [c.kind for c in load_display(t).charts] for t in BUILTIN}
    assert kinds["value_spectrum"] == ["radar", "value_bars"] and kinds["ultimatum_pair"] == ["coefficients"]
    assert "sentiment" not in str(load_display("ultimatum_pair").charts)


def test_no_task_facts_are_kept_in_the_leaderboard_package():
    package = Path(views.__file__).parent
    code = "\n".join(p.read_text() for p in package.glob("*.py"))
    for fact in ("pearson_human", "I_avg", "kiss", "Self-direction", "own_level", "preference"):
        assert fact not in code, fact
    assert not list(package.glob("*.yaml"))


def test_resolve_uses_fallbacks_and_reads_ols_coefficients():
    col = load_display("aggressiveness_rating").headline[0]
    cell = views.resolve({"pearson_human_expected_rating": MV(0.4, 0.1, 0.6)}, col.candidates())
    assert (cell.value, cell.lo, cell.hi, cell.key) == (0.4, 0.1, 0.6, "pearson_human_expected_rating")
    assert "expected" in cell.label
    assert views.resolve({"pearson_human_rating": {"value": None}}, col.candidates()).value is None
    ols = {"ols_offer": {"coef": {"own_level": {"b": 1.5, "ci_low": 0.5, "ci_high": 2.5}}}}
    cell = views.resolve(ols, [Alternative(key="ols_offer.coef.own_level", label="own")])
    assert (cell.value, cell.lo, cell.hi) == (1.5, 0.5, 2.5)


def test_schwartz_templates_expand_over_the_ten_values():
    cols = load_display("value_spectrum").all_columns()
    per_value = [c for c in cols if c.group == "Preference per value"]
    assert [c.key for c in per_value] == [f"preference_p_yes.values.{v}.score" for v in schwartz_names()]
    assert per_value[0].label == "SD" and per_value[0].fallback[0].key == "preference.values.Self-direction.score"


def _board(task: str, metrics_by_model: dict[str, dict], scope: str = "published") -> Board:
    key = BoardKey(task, "1.0", "ab" * 8, "cd" * 8, "", scope)
    return Board(key=key, rows=[Row(key=key, model=m, tier="self-reported", source="x", metrics=met, recomputed=True)
                                for m, met in metrics_by_model.items()])


def test_board_hides_empty_columns_sorts_by_headline_and_ranks_runs_only():
    board = _board("aggressiveness_rating", {f"m{i}": {"pearson_human_rating": MV(0.1 * i), "mean_rating": MV(3.0)}
                                              for i in range(3)})
    (board,) = [b for b in attach_papers([board]) if b.key.task == "aggressiveness_rating"]
    board.finalize()
    assert [c.key for c in board.columns] == ["pearson_human_rating", "mean_rating"]  # the rest are empty
    assert [(r.model, r.rank) for r in board.rows] == [("m2", 1), ("m1", 2), ("m0", 3), ("GPT-4o", None)]
    other = _board("aggressiveness_rating", {"m": {"pearson_human_rating": MV(0.3)}}, scope="other")
    other.finalize()
    assert other.rows[0].rank is None and "unranked" in other.title


def test_plugin_task_without_declaration_shows_its_summary_rows():
    board = _board("made_up_task", {"m": {"score": MV(0.5), "extra_block": {"deep": MV(0.1)}}})
    board.finalize()
    assert [c.key for c in board.columns] == ["score", "extra_block.deep"] and board.headline.key == "score"


def test_fmt_drops_the_sign_of_zero():
    assert views.fmt(-1e-15, "+.2f") == "0.00" and views.fmt(0.25, "+.2f") == "+0.25" and views.fmt(0.5, ".0%") == "50%"


def test_svg_charts_are_well_formed_and_escape_labels():
    evil = '</text><script>alert(1)</script>'
    ns = {"s": charts.SVG_NS}
    svg = charts.bars([views.Point(evil, 0.5, 0.2, 0.7), views.Point("b", -0.3)], evil, (-1, 1))
    root = ET.fromstring(svg)
    assert not root.findall(".//s:script", ns)
    assert len(root.findall(".//s:rect[@class='bar']", ns)) == 2
    assert any(evil[:20] in (t.text or "") for t in root.findall(".//s:text", ns))
    radar = ET.fromstring(charts.radar(["SD", "UNI", "BEN"], [0.2, 1.5, -1.0], evil))
    assert len(radar.find(".//s:polygon[@class='series']", ns).get("points").split()) == 3
    grouped = ET.fromstring(charts.grouped_bars(
        [evil, "m2"], [("own", [views.Point("own", 1.0, 0.5, 1.5), None]), ("opponent", [views.Point("o", -2.0), None])],
        evil, paper=[False, True]))
    assert len(grouped.findall(".//s:rect[@class='bar']", ns)) == 2 and len(grouped.findall(".//s:line[@class='ci']", ns)) == 1
    lines = ET.fromstring(charts.curves(["first", "last"], [("plain", [0.1, 0.2]), ("ISQ", [0.1, None])], evil))
    assert len(lines.findall(".//s:polyline[@class='curve']", ns)) == 1  # one point is not a curve


def test_declared_charts_follow_the_metrics_present():
    from vbench.leaderboard.figures import board_charts

    ols = {"coef": {"const": {"b": 60.0}, "own_level": {"b": 1.2, "ci_low": 0.2, "ci_high": 2.2},
                    "opponent_level": {"b": -0.5, "ci_low": -1.0, "ci_high": 0.0}}}
    board = _board("ultimatum_pair", {f"m{i}": {"ols_offer": ols, "language": {"ols_sentiment": ols}}
                                      for i in range(3)})
    board.finalize()
    (chart,) = board_charts(board)
    assert chart["kind"] == "coefficients" and "sentiment" not in chart["svg"]
    assert chart["svg"].count('class="bar"') == 6 and re.search(r"own level", chart["svg"])
    isq = {"by_strategy": {s: {"alignment_first": MV(0.2), "alignment_last": MV(0.3 + i / 10),
                               "alignment_gain_vs_plain": MV(i / 10)} for i, s in enumerate(("plain", "simple", "isq"))}}
    board = _board("isq_induction", {"m": isq})
    board.finalize()
    assert [c["kind"] for c in board_charts(board)] == ["curves"]
    assert board.headline.key == "by_strategy.isq.alignment_gain_vs_plain"
