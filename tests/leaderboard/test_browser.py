"""End to end in a real headless browser: eval → submit → build → the page, sorted, charted, inert."""
from __future__ import annotations

import json

import pytest

from tests.leaderboard.browser import chrome, find_browser, serve
from tests.leaderboard.conftest import INJECTED, packed, write_layout
from vbench.cli.main import main

_, _, MISSING = find_browser()
pytestmark = [pytest.mark.browser, pytest.mark.skipif(bool(MISSING), reason=MISSING)]


@pytest.fixture(scope="module")
def site(runs, tmp_path_factory):
    """eval (the `runs` fixture) → submit to a folder → add hostile files → build."""
    root = tmp_path_factory.mktemp("e2e")
    ds = root / "dataset"
    assert main(["submit", str(runs["seed0"]), str(runs["seed1"]), str(runs["subset"]), "--to", str(ds)]) == 0
    inj = packed(runs["seed0"])
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
    assert main(["leaderboard", "build", "--from", str(ds), "--out", str(out), "--max-file-mb", "1"]) == 0
    return out


@pytest.fixture(scope="module")
def browser(site):
    with serve(site) as base, chrome() as drv:
        yield drv, base


def _column(drv, col):
    return drv.execute_script(
        "var col = arguments[0], t = document.getElementById('leaderboard');"
        "var i = Array.prototype.findIndex.call(t.tHead.rows[0].cells, function (c) {"
        "  return c.getAttribute('data-col') === col; });"
        "return Array.prototype.map.call(t.tBodies[0].rows, function (r) { return r.cells[i].getAttribute('data-v'); });",
        col)


def _loaded(drv, img) -> bool:
    """Scroll a (lazy) chart into view and wait until it has decoded."""
    from selenium.webdriver.support.ui import WebDriverWait

    drv.execute_script("arguments[0].scrollIntoView()", img)
    WebDriverWait(drv, 15).until(lambda d: d.execute_script(
        "return arguments[0].complete && arguments[0].naturalWidth > 0", img))
    return True


def _click(drv, col):
    drv.find_element("css selector", f"#leaderboard th[data-col='{col}'] button").click()


def test_index_lists_boards_and_report(browser):
    drv, base = browser
    drv.get(f"{base}/index.html")
    rows = drv.find_elements("css selector", "#boards tbody tr.board-row")
    assert len(rows) == 4  # two comparable-run boards + two paper boards
    assert "3 files rejected" in drv.find_element("css selector", ".summary").text
    drv.find_element("id", "report-link").click()
    reasons = drv.find_element("id", "rejected").text
    assert "metrics disagree" in reasons and "schema_version '9.9'" in reasons and "byte limit" in reasons


def test_board_rows_sorting_charts_and_no_injected_script(browser):
    drv, base = browser
    drv.get(f"{base}/index.html")
    link = next(a for a in drv.find_elements("css selector", "#boards a")
                if a.text == "aggressiveness_rating" and "3" in a.find_element("xpath", "../..").text.split())
    link.click()
    assert drv.find_element("id", "leaderboard").get_attribute("data-sortable-ready") == "1"
    assert len(drv.find_elements("css selector", "#leaderboard tbody tr")) == 3
    head = "pearson_human_rating"  # the paper's sampled-rating r heads the board
    th = drv.find_element("css selector", f"#leaderboard th[data-col='{head}']")
    assert th.get_attribute("aria-sort") == "descending"
    values = [float(v) for v in _column(drv, head)]
    assert values == sorted(values, reverse=True)
    _click(drv, head)
    assert th.get_attribute("aria-sort") == "ascending"
    assert [float(v) for v in _column(drv, head)] == sorted(values)
    ranks = [td.text for td in drv.find_elements("css selector", "#leaderboard td.rank")]
    assert ranks == ["1", "2", "3"]
    _click(drv, "model")
    models = _column(drv, "model")
    assert models == sorted(models, key=str.lower)
    # the injected model name is shown as text and never ran
    assert drv.execute_script("return typeof window.__pwned") == "undefined"
    assert any(INJECTED in td.text for td in drv.find_elements("css selector", "#leaderboard td.model"))
    assert drv.execute_script("return document.scripts.length") == 1
    assert not drv.find_elements("css selector", "#leaderboard img")
    # charts are present and load
    imgs = drv.find_elements("css selector", "#charts img")
    assert imgs and all(_loaded(drv, i) for i in imgs)
    severe = [e for e in drv.get_log("browser") if e["level"] == "SEVERE"]
    assert not severe, severe


def test_paper_board_radars(browser, site):
    drv, base = browser
    board = next(b for b in json.loads((site / "tables" / "index.json").read_text()) if b["task"] == "value_spectrum")
    drv.get(f"{base}/boards/{board['board']}.html")
    assert len(drv.find_elements("css selector", "#leaderboard tbody tr")) == 8
    assert "Value-Spectrum" in drv.find_element("css selector", ".citation").text
    radars = drv.find_elements("css selector", "figure.chart-radar img")
    assert len(radars) == 8
    assert all(_loaded(drv, i) for i in radars)
    assert {t.text for t in drv.find_elements("css selector", "#leaderboard td span.tier")} == {"paper"}


def test_page_works_from_the_file_system(site):
    """Opened straight from disk (no server), the CSP still lets the site's own script sort."""
    board = next(p for p in (site / "boards").glob("value_spectrum-*.html"))
    with chrome() as drv:
        drv.get(board.as_uri())
        assert drv.find_element("id", "leaderboard").get_attribute("data-sortable-ready") == "1"
        drv.find_element("css selector", "#leaderboard th[data-col='preference.Power'] button").click()
        vals = [float(v) for v in _column(drv, "preference.Power")]
        assert vals == sorted(vals, reverse=True) and vals[0] == pytest.approx(0.94)
