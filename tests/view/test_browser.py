"""Headless Chromium: each task's view, escaping, filtering, comparison and the static export.

Screenshots are kept under pytest's tmp dir (``.../screenshots/*.png``) as artifacts to look at.
"""
from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from tests.view.conftest import INJECTED, rewrite
from vbench.testing.browser import chrome, find_browser, serve
from vbench.view.export import export
from vbench.view.runs import find_runs
from vbench.view.server import make_server, site_url
from vbench.view.site import Site

pytestmark = [pytest.mark.browser, pytest.mark.skipif(bool(find_browser()[2]), reason=find_browser()[2] or "ok")]


@pytest.fixture(scope="module")
def driver():
    with chrome() as d:
        yield d


@pytest.fixture(scope="module")
def shots(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("screenshots")


class Live:
    def __init__(self, folders):
        self.site = Site(find_runs(list(folders)))
        self.server = make_server(self.site, 0)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.base = site_url(self.server).rstrip("/")

    def run_id(self, folder: Path) -> str:
        return next(r.run_id for r in self.site.runs.values() if r.path == folder)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def live(runs):
    srv = Live(runs.values())
    yield srv
    srv.close()


def visit(d, url: str, shots: Path | None = None, name: str = "") -> None:
    d.set_window_size(1400, 1000)
    d.get(url)
    d.execute_script("return document.readyState")
    wait_images(d)
    if shots is not None:
        height = d.execute_script("return document.body.scrollHeight")
        d.set_window_size(1400, min(max(height, 700), 3000))
        wait_images(d)
        d.save_screenshot(str(shots / f"{name}.png"))


def wait_images(d) -> None:
    deadline = time.time() + 10
    while time.time() < deadline and not d.execute_script(
            "return Array.from(document.images).every(i => i.complete || i.closest('details:not([open])'))"):
        time.sleep(0.1)


def n(d, css: str) -> int:
    return len(d.find_elements("css selector", css))


def broken_images(d) -> int:
    return d.execute_script("return Array.from(document.images).filter("
                            "i => !i.naturalWidth && !i.closest('details:not([open])')).length")  # folded: not loaded


def severe(d) -> list[str]:
    return [e["message"] for e in d.get_log("browser") if e["level"] == "SEVERE"]


def lines(folder: Path) -> list[dict]:
    return [json.loads(x) for x in (folder / "samples.jsonl").read_text().splitlines()]


def test_runs_list(driver, live, runs, shots):
    visit(driver, live.base + "/", shots, "runs")
    assert n(driver, "tr.run-row") == len(runs)
    text = driver.find_element("css selector", "table.runs").text
    for task in ("aggressiveness_rating", "ultimatum_solo", "ultimatum_pair", "value_spectrum", "isq_induction"):
        assert task in text
    assert n(driver, "a.compare-link") == 1  # the two aggressiveness_rating runs
    assert severe(driver) == []


def test_rating_grid_sorted_by_disagreement(driver, live, runs, shots):
    rid = live.run_id(runs["aggressiveness_rating"])
    visit(driver, f"{live.base}/run/{rid}?sort=disagreement", shots, "aggressiveness_rating")
    cards = driver.find_elements("css selector", ".card.rating")
    assert len(cards) == len(lines(runs["aggressiveness_rating"]))
    dis = [float(c.get_attribute("data-disagreement")) for c in cards]
    assert dis == sorted(dis, reverse=True) and dis[0] > 0
    assert n(driver, ".card.rating .prob") == 7 * len(cards)  # P(1..7) beside the human rating
    assert broken_images(driver) == 0 and severe(driver) == []


@pytest.mark.parametrize("task", ["ultimatum_solo", "ultimatum_pair"])
def test_ultimatum_dialogue_and_extraction(driver, live, runs, shots, task):
    rid = live.run_id(runs[task])
    visit(driver, f"{live.base}/run/{rid}", shots, task)
    games = lines(runs[task])
    assert n(driver, ".card.game") == len(games)
    assert n(driver, ".card.game .seat") == 2 * len(games)
    assert n(driver, ".bubble") == sum(len(g["outputs"]["transcript"]["turns"]) for g in games)
    assert n(driver, ".round .extractor") == sum(len(g["outputs"]["transcript"]["outcomes"]) for g in games)
    flags = sum(bool(o["counter_proposal"]) + bool(o["offer_nonanswer"] or o["response_nonanswer"])
                for g in games for o in g["outputs"]["transcript"]["outcomes"])
    assert n(driver, ".tag.flag") == flags
    first = driver.find_element("css selector", ".card.game .bubble").text
    assert games[0]["outputs"]["transcript"]["turns"][0]["text"].split()[-1] in first
    assert broken_images(driver) == 0 and severe(driver) == []
    visit(driver, f"{live.base}/run/{rid}/ep/0", shots, f"{task}-episode")  # the full conversation
    assert n(driver, "details.turn") == len(games[0]["turns"])
    assert n(driver, "details.turn[open] .msg.system") == 1 and n(driver, "details.turn[open] img.inmsg") >= 1


def test_value_spectrum_grouped_by_value_and_keyword(driver, live, runs, shots):
    rid = live.run_id(runs["value_spectrum"])
    visit(driver, f"{live.base}/run/{rid}", shots, "value_spectrum")
    recs = lines(runs["value_spectrum"])
    headings = [h.text.lower() for h in driver.find_elements("css selector", "h2.gvalue")]
    assert sorted(headings) == sorted({r["sample"]["value"].lower() for r in recs})
    assert n(driver, ".card.value") == len(recs) and n(driver, ".card.value .pyes") == len(recs)
    assert n(driver, ".card.value .followup") == sum(len(r["outputs"].get("followups", [])) for r in recs) > 0
    assert broken_images(driver) == 0 and severe(driver) == []


def test_isq_timeline_and_curve(driver, live, runs, shots):
    rid = live.run_id(runs["isq_induction"])
    visit(driver, f"{live.base}/run/{rid}", shots, "isq_induction")
    recs = lines(runs["isq_induction"])
    assert n(driver, ".card.trial") == len(recs)
    assert n(driver, ".timeline figure.scroll") == sum(len(r["outputs"]["watched"]) for r in recs)
    assert n(driver, "figure.scroll.watch") == sum(sum(r["outputs"]["watched"]) for r in recs)
    assert n(driver, ".curve polyline") == len(recs)
    assert n(driver, "table.parts") == sum(1 for r in recs if r["outputs"].get("isq_parts"))
    assert broken_images(driver) == 0 and severe(driver) == []


def test_filters_and_search_in_the_page(driver, live, runs, shots):
    from selenium.webdriver.support.ui import Select

    folder = runs["ultimatum_pair"]
    rid = live.run_id(folder)
    live.site.indexes[rid].build()
    visit(driver, f"{live.base}/run/{rid}")
    level = str(lines(folder)[0]["outputs"]["transcript"]["players"]["a"]["level"])
    Select(driver.find_element("name", "level")).select_by_value(level)  # submits on change
    time.sleep(0.5)
    want = sum(1 for g in lines(folder) if level in {str(p["level"]) for p in g["outputs"]["transcript"]["players"].values()})
    assert f"level={level}" in driver.current_url and n(driver, ".card.game") == want
    word = lines(folder)[1]["outputs"]["transcript"]["turns"][2]["text"].split()[0]
    box = driver.find_element("name", "q")
    box.clear()
    box.send_keys(word + "\n")
    time.sleep(0.5)
    visit(driver, driver.current_url, shots, "ultimatum_pair-filtered")
    assert 0 < n(driver, ".card.game") <= want
    Select(driver.find_element("name", "errors")).select_by_value("only")
    time.sleep(0.5)
    assert n(driver, ".card.game") == 0 and "No episode matches" in driver.page_source


def test_compare_two_runs_side_by_side(driver, live, runs, shots):
    a, b = runs["aggressiveness_rating"], runs["aggressiveness_rating@2"]
    visit(driver, live.base + "/")
    driver.find_element("css selector", "a.compare-link").click()
    time.sleep(0.5)
    visit(driver, driver.current_url, shots, "compare")
    assert n(driver, ".cmp-cell") == 2 * len(lines(a))
    assert n(driver, ".cmp-cell .missing-ep") == 0  # same samples in both runs
    left = {c.text for c in driver.find_elements("css selector", ".cmp-cell:nth-child(odd) .eid")}
    assert left == {r["episode_id"] for r in lines(b)}
    assert broken_images(driver) == 0


def test_model_text_never_runs(driver, copy_run, shots):
    folder = copy_run("ultimatum_pair")

    def inject(rec):
        rec["turns"][0]["response"] = INJECTED
        rec["outputs"]["transcript"]["turns"][0]["text"] = INJECTED
        rec["outputs"]["transcript"]["players"]["a"]["image_id"] = INJECTED
        return rec

    rewrite(folder / "samples.jsonl", inject)
    srv = Live([folder])
    try:
        rid = srv.run_id(folder)
        for path, name in ((f"/run/{rid}", "escaped"), (f"/run/{rid}/ep/0", "escaped-episode")):
            visit(driver, srv.base + path, shots, name)
            assert driver.execute_script("return window.__pwned === undefined")
            assert "<script>window.__pwned = 1</script>" in driver.find_element("css selector", "main").text
    finally:
        srv.close()


def test_static_export_works_from_plain_files(driver, runs, tmp_path, shots):
    out = tmp_path / "site"
    export(find_runs([runs["aggressiveness_rating"], runs["ultimatum_pair"], runs["isq_induction"]]), out)
    with serve(out) as base:
        visit(driver, base + "/index.html", shots, "export-index")
        driver.find_element("link text", next(r.model for r in find_runs([runs["aggressiveness_rating"]]))).click()
        time.sleep(0.5)
        visit(driver, driver.current_url, shots, "export-rating")
        total = n(driver, ".card.rating")
        assert total == len(lines(runs["aggressiveness_rating"])) and broken_images(driver) == 0
        driver.find_element("id", "sortdis").click()
        dis = [float(c.get_attribute("data-disagreement")) for c in driver.find_elements("css selector", ".card.rating")]
        assert dis == sorted(dis, reverse=True)
        target = lines(runs["aggressiveness_rating"])[3]["episode_id"]
        driver.find_element("id", "pagefilter").send_keys(target)
        assert n(driver, ".card.rating:not(.hidden)") == 1
        driver.find_element("css selector", ".card.rating:not(.hidden) a.eid").click()
        time.sleep(0.3)
        assert driver.current_url.endswith("-e3.html") and n(driver, "details.turn") >= 1
        assert broken_images(driver) == 0 and severe(driver) == []
