"""The console in a real headless browser (Debian's chromium, driven by Selenium) against `p2c up`.

A product in a currency with no price list in the CRM is dead-lettered; the price list is created in the
sandbox; the letter is retried from the page, leaves the open list, the product reaches the CRM, and the letter
ends resolved. A replay of the products is started from its page and finishes; a reconcile of the products,
started from its page, shows no difference.
"""

from __future__ import annotations

import shutil
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.odata import crm, erp, wait_for
from tests.support.up import Running

pytestmark = pytest.mark.timeout(240)

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if CHROMIUM is None or CHROMEDRIVER is None:
        pytest.skip("no chromium and chromedriver here: `apt-get install chromium chromium-driver` (.ci/run does)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def open_letters(control_url: str, tag: str) -> list[dict[str, Any]]:
    listed = httpx.get(f"{control_url}/api/dead-letters", params={"flow": "products"}, timeout=30).json()
    return [x for x in listed["dead_letters"] if tag in x["key"] and x["state"] == "open"]


def test_the_console_shows_flows_and_retries_a_fixed_dead_letter(p2c_up: Running, browser: Any) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.wait import WebDriverWait

    browser.get(p2c_up.control_url + "/")
    assert browser.find_elements(By.ID, "flows"), browser.find_element(By.TAG_NAME, "body").text
    flows = browser.find_element(By.ID, "flows").find_elements(By.CSS_SELECTOR, "tbody tr")
    assert [row.find_elements(By.TAG_NAME, "td")[0].text for row in flows] == [
        "accounts",
        "contacts",
        "quotes",
        "products",
    ]
    assert browser.find_element(By.ID, "health").text  # ready, or why not

    c, e = crm(p2c_up.crm_url), erp(p2c_up.erp_url)
    tag = uuid.uuid4().hex[:6].upper()
    e.post(
        "CDSReleasedDistinctProducts",
        {
            "dataAreaId": "usmf",
            "ProductNumber": f"F-{tag}",
            "ProductName": f"Franc Widget {tag}",
            "SalesUnitSymbol": "ea",
            "SalesPrice": 12,
            "CurrencyCode": "CHF",
            "ProductType": "Item",
        },
    )
    (letter,) = wait_for("the dead letter", lambda: open_letters(p2c_up.control_url, tag), timeout=60, every=1)

    browser.get(p2c_up.control_url + "/dead-letters?state=open")
    assert browser.find_elements(By.ID, f"retry-{letter['id']}"), browser.find_element(By.TAG_NAME, "body").text
    row = browser.find_element(By.ID, f"retry-{letter['id']}").find_element(By.XPATH, "ancestor::tr")
    assert "CHF" in row.text  # the reason names the currency without a price list

    chf = c.get_all(
        "transactioncurrencies", {"$filter": "isocurrencycode eq 'CHF'", "$select": "transactioncurrencyid"}
    )
    currency = chf[0]["transactioncurrencyid"]
    c.post(
        "pricelevels",
        {"name": f"swiss {tag.lower()}", "transactioncurrencyid@odata.bind": f"/transactioncurrencies({currency})"},
    )
    time.sleep(1.1)  # the CRM sink re-reads price lists on a miss at most once a second

    browser.find_element(By.ID, f"retry-{letter['id']}").click()
    # click() returns before the form's POST and its redirect have loaded the next page: wait for that page
    message = WebDriverWait(browser, 60).until(lambda b: b.find_elements(By.ID, "message"))[0].text
    assert "sent back" in message, message
    link = f'a[href="/dead-letters/{letter["id"]}"]'
    assert not browser.find_elements(By.CSS_SELECTOR, link)  # gone from the open list

    wait_for(
        "the product in the CRM",
        lambda: c.get_all("products", {"$filter": f"productnumber eq 'F-{tag}'", "$select": "productid"}),
        timeout=60,
    )

    def resolved() -> bool | None:
        browser.get(p2c_up.control_url + "/dead-letters?state=resolved")
        return bool(browser.find_elements(By.CSS_SELECTOR, link)) or None

    try:
        wait_for("the letter resolved", resolved, timeout=60, every=1)
    except AssertionError as exc:
        shown = httpx.get(f"{p2c_up.control_url}/api/dead-letters/{letter['id']}", timeout=30).text
        raise AssertionError(f"{exc}; the API says: {shown}") from exc


def test_a_replay_started_from_the_console_finishes_and_a_reconcile_shows_no_difference(
    p2c_up: Running, browser: Any
) -> None:
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.select import Select
    from selenium.webdriver.support.wait import WebDriverWait

    def until_over(look: Any) -> Any:
        # the page reloads itself while the run goes on: an element found just before a reload is stale
        wait = WebDriverWait(browser, 90, poll_frequency=0.5, ignored_exceptions=(StaleElementReferenceException,))
        return wait.until(look)

    def state(element_id: str, running: str | tuple[str, ...]) -> str | None:
        """The run's state once it is over (the page reloads itself while it runs)."""
        found = browser.find_elements(By.ID, element_id)
        text = found[0].text if found else ""
        return None if not text or text.startswith(running) else text

    browser.get(p2c_up.control_url + "/replays")
    Select(browser.find_element(By.ID, "replay-flow")).select_by_value("products")
    browser.find_element(By.ID, "replay-from").clear()
    browser.find_element(By.ID, "replay-from").send_keys("earliest")
    Select(browser.find_element(By.ID, "replay-stage")).select_by_value("streams")
    browser.find_element(By.ID, "replay").click()
    replayed = until_over(lambda _b: state("replay-state", ("planning", "rewinding", "replaying", "starting")))
    assert replayed is not None and replayed.startswith("done"), browser.find_element(By.TAG_NAME, "body").text
    assert "/replays/" in browser.current_url

    browser.get(p2c_up.control_url + "/reconciles")
    Select(browser.find_element(By.ID, "reconcile-flow")).select_by_value("products")
    browser.find_element(By.ID, "reconcile").click()
    verdict = until_over(lambda _b: state("reconcile-state", "running"))
    assert verdict == "in sync", browser.find_element(By.TAG_NAME, "body").text
    flows = browser.find_element(By.ID, "reconcile-flows").find_elements(By.CSS_SELECTOR, "tbody tr")
    cells = [c.text for c in flows[0].find_elements(By.TAG_NAME, "td")]
    assert cells[0] == "products" and int(cells[1]) > 0 and cells[2:6] == ["0", "0", "0", "0"], cells
