"""End to end in a real headless browser: eval → submit → build → the pages, sorted, charted, inert.

Screenshots of the overview, a board and a model page (1280 px wide) are saved under the test's
temporary folder (``screenshots/``) for a person to look at.
"""
from __future__ import annotations

import json

import pytest

from tests.leaderboard.browser import chrome, find_browser, serve
from tests.leaderboard.conftest import INJECTED, packed, publish, write_layout
from vbench.cli.main import main

_, _, MISSING = find_browser()
pytestmark = [pytest.mark.browser, pytest.mark.skipif(bool(MISSING), reason=MISSING)]
WIDTH = 1280


@pytest.fixture(scope="module")
def site(site_runs, runs, tmp_path_factory):
    """Runs of every task by three models on the published datasets, plus hostile files → build."""
    root = tmp_path_factory.mktemp("e2e")
    ds = root / "dataset"
    copies = publish(site_runs, ds)
    inj = packed(runs["seed2"])  # on a local folder: the unranked "other datasets" board
    inj["results"]["model"]["model_id"] = INJECTED
    write_layout(ds, inj)
    tampered = packed(runs["seed1"])
    tampered["results"]["metrics"]["mean_expected_rating"]["value"] = 1.0
    write_layout(ds, tampered, "submissions/x/aggressiveness_rating__1.0__dddd.json")
    wrong = packed(runs["seed0"])
    wrong["results"]["schema_version"] = "9.9"
    write_layout(ds, wrong, "submissions/x/aggressiveness_rating__1.0__eeee.json")
    (ds / "submissions" / "x" / "big.json").write_text('{"pad": "' + "x" * 2_000_000 + '"}')
    out = root / "site"
    assert main(["leaderboard", "build", "--from", str(ds), "--out", str(out), "--max-file-mb", "1",
                 "--include-synthetic", *copies]) == 0
    return out


@pytest.fixture(scope="module")
def shots(tmp_path_factory):
    return tmp_path_factory.mktemp("screenshots")


@pytest.fixture(scope="module")
def browser(site):
    with serve(site) as base, chrome() as drv:
        drv.set_window_size(WIDTH, 1000)
        yield drv, base


def _screenshot(drv, path) -> None:
    """The whole page at 1280 px wide."""
    height = drv.execute_script("return document.documentElement.scrollHeight")
    drv.set_window_size(WIDTH, min(height + 140, 6000))
    drv.save_screenshot(str(path))
    drv.set_window_size(WIDTH, 1000)
    assert path.stat().st_size > 10_000


def _column(drv, col, table="leaderboard"):
    return drv.execute_script(
        "var col = arguments[0], t = document.getElementById(arguments[1]);"
        "var head = t.tHead.rows[t.tHead.rows.length - 1];"
        "var i = Array.prototype.findIndex.call(head.cells, function (c) {"
        "  return c.getAttribute('data-col') === col; });"
        "return Array.prototype.map.call(t.tBodies[0].rows, function (r) { return r.cells[i].getAttribute('data-v'); });",
        col, table)


def _nums(values):
    return [float(v) for v in values if v not in ("", None)]


def _loaded(drv, img) -> bool:
    from selenium.webdriver.support.ui import WebDriverWait

    drv.execute_script("arguments[0].scrollIntoView()", img)
    WebDriverWait(drv, 15).until(lambda d: d.execute_script(
        "return arguments[0].complete && arguments[0].naturalWidth > 0", img))
    return True


def _click(drv, col, table="leaderboard"):
    drv.find_element("css selector", f"#{table} th[data-col='{col}'] button").click()


def test_overview_is_a_model_by_task_table(browser, shots):
    drv, base = browser
    drv.get(f"{base}/index.html")
    assert drv.execute_script("return document.documentElement.scrollWidth <= document.documentElement.clientWidth")
    _screenshot(drv, shots / "overview.png")
    groups = [th.text for th in drv.find_elements("css selector", "#overview tr.groups th.group")]
    assert groups == ["Aggressiveness r", "Kiss up, kick down", "Ultimatum solo offer", "Value preference"]
    models = _column(drv, "model", "overview")
    assert {"model-a", "model-b", "model-c", "GPT-4o", "InternVL2"} <= set(models)
    assert INJECTED not in models  # its run is on a dataset vbench does not publish
    tiers = {m: t for m, t in zip(models, _column(drv, "tier", "overview"))}
    assert tiers["model-a"] == "self-reported" and tiers["GPT-4o"] == "paper"
    col = "aggressiveness_rating:pearson_human_rating"
    th = drv.find_element("css selector", f"#overview th[data-col='{col}']")
    _click(drv, col, "overview")
    values = _nums(_column(drv, col, "overview"))
    assert th.get_attribute("aria-sort") == "ascending" and values == sorted(values) and len(values) == 4
    _click(drv, col, "overview")
    assert _nums(_column(drv, col, "overview")) == sorted(values, reverse=True)
    cells = drv.find_elements("css selector", "#overview td small")
    assert cells and all(c.text.startswith("[") for c in cells)  # intervals beside the headline values
    drv.find_element("link text", "model-a").click()
    assert drv.find_element("id", "model-title").text == "model-a"


def test_board_sorts_ranks_and_charts(browser, site, shots):
    drv, base = browser
    drv.get(f"{base}/index.html")
    drv.find_element("partial link text", "Aggressiveness rating").click()
    assert drv.find_element("id", "leaderboard").get_attribute("data-sortable-ready") == "1"
    _screenshot(drv, shots / "board.png")
    head = "pearson_human_rating"
    th = drv.find_element("css selector", f"#leaderboard th[data-col='{head}']")
    assert th.get_attribute("aria-sort") == "descending"
    assert "r with human ratings" in th.text and "Pearson r" in th.text
    groups = [g.text for g in drv.find_elements("css selector", "#leaderboard tr.groups th.group")]
    assert groups[:2] == ["Agreement with humans", "Ratings"]
    values = _nums(_column(drv, head))
    assert values[:3] == sorted(values[:3], reverse=True)  # ranked runs first, the paper row after
    assert _column(drv, "rank")[:4] == ["1", "2", "3", ""]
    assert drv.execute_script(  # no header is squeezed into a letter-per-line column
        "return Array.prototype.every.call(document.querySelectorAll('#leaderboard thead th.metric'),"
        " function (t) { return t.getBoundingClientRect().width >= 60; })")
    _click(drv, head)
    assert th.get_attribute("aria-sort") == "ascending" and _nums(_column(drv, head)) == sorted(values)
    _click(drv, "model")
    models = _column(drv, "model")
    assert models == sorted(models, key=str.lower)
    imgs = drv.find_elements("css selector", "#charts img")
    assert imgs and all(_loaded(drv, i) for i in imgs)
    assert not [e for e in drv.get_log("browser") if e["level"] == "SEVERE"]


def test_model_page_lists_every_task(browser, shots):
    drv, base = browser
    drv.get(f"{base}/index.html")
    drv.find_element("link text", "model-a").click()
    _screenshot(drv, shots / "model.png")
    sections = drv.find_elements("css selector", "section.model-task h3")
    assert len(sections) == 4 and all("#" in s.text for s in sections)
    imgs = drv.find_elements("css selector", "#charts img")
    assert {i.get_attribute("src").rsplit("-", 1)[-1] for i in imgs} >= {"intervals.svg", "coefficients.svg",
                                                                         "radar.svg"}
    assert all(_loaded(drv, i) for i in imgs)


def test_report_and_injected_names_stay_inert(browser, site):
    drv, base = browser
    drv.get(f"{base}/index.html")
    assert "3 files rejected" in drv.find_element("css selector", ".summary").text
    drv.find_element("partial link text", "other dataset").click()
    assert any(INJECTED in td.text for td in drv.find_elements("css selector", "#leaderboard td.model"))
    assert drv.execute_script("return typeof window.__pwned") == "undefined"
    assert drv.execute_script("return document.scripts.length") == 1
    assert not drv.find_elements("css selector", "#leaderboard img")
    drv.find_element("id", "report-link").click()
    reasons = drv.find_element("id", "rejected").text
    assert "metrics disagree" in reasons and "schema_version '9.9'" in reasons and "byte limit" in reasons


def test_value_spectrum_board_has_paper_radars_beside_runs(browser, site):
    drv, base = browser
    board = next(b for b in json.loads((site / "tables" / "index.json").read_text()) if b["task"] == "value_spectrum")
    drv.get(f"{base}/boards/{board['board']}.html")
    assert len(drv.find_elements("css selector", "#leaderboard tbody tr")) == 11
    assert "Value-Spectrum" in drv.find_element("css selector", ".citation").text
    radars = drv.find_elements("css selector", "figure.chart-radar img")
    assert len(radars) == 11 and all(_loaded(drv, i) for i in radars)
    tiers = [t.text for t in drv.find_elements("css selector", "#leaderboard td span.tier:first-child")]
    assert tiers.count("paper") == 8


def test_page_works_from_the_file_system(site):
    """Opened straight from disk (no server), the CSP still lets the site's own script sort."""
    board = next(p for p in (site / "boards").glob("value_spectrum-*.html"))
    col = "preference_p_yes.values.Power.score"
    with chrome() as drv:
        drv.get(board.as_uri())
        assert drv.find_element("id", "leaderboard").get_attribute("data-sortable-ready") == "1"
        drv.find_element("css selector", f"#leaderboard th[data-col='{col}'] button").click()
        vals = _nums(_column(drv, col))
        assert vals == sorted(vals, reverse=True) and vals[0] == pytest.approx(0.94)


def test_overview_opens_sorted_as_its_header_says(browser):
    drv, base = browser
    drv.get(f"{base}/index.html")
    col = "aggressiveness_rating:pearson_human_rating"
    assert drv.find_element("css selector", f"#overview th[data-col='{col}']").get_attribute("aria-sort") == "descending"
    tiers = _column(drv, "tier", "overview")
    runs = [v for v, t in zip(_column(drv, col, "overview"), tiers) if t != "paper"]
    assert _nums(runs) == sorted(_nums(runs), reverse=True) and tiers.index("paper") == len(runs)
