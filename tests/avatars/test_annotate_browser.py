"""The rating page driven by a real headless Chromium (selenium + chromedriver)."""
from __future__ import annotations

import shutil
import tempfile

import pytest

from vbench.annotate.app import create_app
from vbench.annotate.server import ServerThread, open_session

CHROMIUM, DRIVER = shutil.which("chromium") or "/usr/bin/chromium", shutil.which("chromedriver") or "/usr/bin/chromedriver"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--window-size=1000,900"]


@pytest.fixture
def browser():
    import os

    if not (os.path.exists(CHROMIUM) and os.path.exists(DRIVER)):
        pytest.skip("chromium and chromedriver are not installed (bash scripts/setup.sh installs them)")
    webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (extra [dev])")
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="vbench-chromium-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in FLAGS + [f"--user-data-dir={profile}"]:
        opts.add_argument(flag)
    driver = webdriver.Chrome(service=Service(DRIVER), options=opts)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


@pytest.mark.browser
def test_a_rater_rates_every_image_in_the_browser(built_avatars, tmp_path, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, 20)

    items, store = open_session(str(built_avatars), tmp_path / "r.sqlite", ["ana"], check_every=5)
    with ServerThread(create_app(items, store)) as server:
        browser.get(server.url + "/")
        browser.find_element(By.ID, "key").send_keys("ana" + Keys.ENTER)   # a rater id is not a link key
        assert "unknown rater link" in browser.find_element(By.ID, "error").text
        browser.get(server.url + "/")
        browser.find_element(By.ID, "key").send_keys(store.links()["ana"])
        browser.find_element(By.ID, "start").click()
        seen, checks = [], 0
        for step in range(len(items) + 10):
            if browser.find_elements(By.ID, "done"):
                break
            img = browser.find_element(By.ID, "item-image")
            wait.until(lambda d, img=img: d.execute_script("return arguments[0].complete && arguments[0].naturalWidth", img))
            key = browser.find_element(By.ID, "item").get_attribute("value")
            seen.append(key)
            if key.startswith("check-"):
                checks += 1
                browser.find_element(By.ID, f"rate-{key.split('-')[1]}").click()
            elif step == 1:
                browser.find_element(By.TAG_NAME, "body").send_keys("6")      # keyboard shortcut
            else:
                browser.find_element(By.ID, f"rate-{1 + step % 7}").click()
            wait.until(lambda d, el=img: replaced(el))              # the next page has replaced this one
        assert browser.find_elements(By.ID, "done"), "the rater never reached the end"
    df = store.frame()
    store.close()
    real = [k for k in seen if not k.startswith("check-")]
    assert sorted(real) == sorted(items.keys) and checks == (len(items) - 1) // 5
    assert len(df) == len(seen) and (df.rater_id == "ana").all()
    assert df[df.item_id == real[1]].rating.tolist() == [6]
    assert (df[df.is_check == 1].rating == df[df.is_check == 1].expected).all()
    assert df.client_ms.notna().all() and (df.client_ms >= 0).all()     # time measured in the page


def replaced(element) -> bool:
    """True once ``element``'s page is gone. Chromedriver reports a replaced page either as a stale element
    or, in newer releases, as a generic "unhandled inspector error" about the node; both mean replaced."""
    from selenium.common.exceptions import StaleElementReferenceException, WebDriverException

    try:
        element.is_enabled()
    except StaleElementReferenceException:
        return True
    except WebDriverException as exc:
        if "inspector error" in str(exc) or "No node" in str(exc):
            return True
        raise
    return False
