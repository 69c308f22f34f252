"""The desk's analytics page in Debian's Chromium (Playwright, as tests/test_storefront.py launches it): an admin
signs in, sees the charts of the seeded history (tests/support/analytics_history.py) with its numbers and
downloads a figure as CSV; an agent is refused. Screenshots go to var/screenshots/.

A web server of its own, on a database and a conversations file holding only the seeded history.
"""

from __future__ import annotations

import os
import re

import pytest
import requests
from playwright.sync_api import Page, expect

from tests.support.analytics_history import seed
from tests.support.desk import DeskWeb, add_agent
from tests.test_desk_browser import sign_in
from tests.test_storefront import REPLY, browser, shoot  # noqa: F401 (browser: a fixture)

RANGE = "since=2026-11-10&until=2026-11-11"


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    var = tmp_path_factory.mktemp("analytics")
    env = {k: v for k, v in os.environ.items() if k != "PORTER_DATABASE_URL"}
    env.update(PORTER_VAR_DIR=str(var), PORTER_SHOP_DB=str(var / "shop.db"), PORTER_TRACKER_DB=str(var / "tracker.db"))
    seed(var / "shop.db", var / "tracker.db")
    web = DeskWeb(env, "http://127.0.0.1:9")  # no Rasa: the analytics read the files
    yield web, env
    web.stop()


def page_of(browser, width: int = 1400) -> Page:  # noqa: F811
    context = browser.new_context(viewport={"width": width, "height": 1600}, accept_downloads=True)
    context.set_default_timeout(REPLY)
    return context.new_page()


def test_an_admin_sees_the_charts_with_the_numbers_and_downloads_a_csv(seeded, browser):  # noqa: F811
    web, env = seeded
    name, password = add_agent(env, "boss", role="admin")
    page = page_of(browser)
    sign_in(page, web.url, name, password)
    page.get_by_test_id("analytics-link").click()
    expect(page).to_have_url(re.compile(r"/desk/analytics$"))
    page.get_by_label("From", exact=True).fill("2026-11-10")
    page.get_by_label("To", exact=True).fill("2026-11-11")
    page.get_by_role("button", name="Show").click()
    expect(page).to_have_url(re.compile(r"since=2026-11-10&until=2026-11-11"))

    by_reason = page.get_by_test_id("figure-conversations_by_reason")
    chart = by_reason.locator("svg.chart")
    expect(chart).to_be_visible()
    expect(chart.locator("text.value")).to_have_text(["3", "1"])  # conversations on the 10th and the 11th
    expect(chart).to_contain_text("where_is_my_order (2)")
    automation = page.get_by_test_id("figure-automation")
    expect(automation.locator("svg.chart text.value")).to_have_text(["0 %", "100 %", "66.67 %", "75 %"])
    ratings = page.get_by_test_id("figure-ratings_by_agent")
    expect(ratings.locator("svg.chart")).to_contain_text("Ana")
    expect(ratings.locator("svg.chart text.value")).to_have_text(["2", "5"])
    least = page.get_by_test_id("figure-least_understood")
    expect(least).to_contain_text("my email is <email> blorf")
    expect(least).not_to_contain_text("ana@example.com")
    shoot(page, "desk-analytics.png")

    with page.expect_download() as download:
        page.get_by_test_id("csv-handoff_reasons").click()
    path = download.value.path()
    assert download.value.suggested_filename == "porter-handoff_reasons-2026-11-10-2026-11-11.csv"
    assert open(path, encoding="utf-8").read().splitlines() == ["reason,tickets,share", "upset,1,1.0"]

    page.locator('select[name="language"]').select_option("es")
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_test_id("figure-conversations_by_channel").locator("svg.chart")).to_contain_text("telegram (2)")
    expect(page.get_by_test_id("figure-least_understood")).to_contain_text("Nothing in this range")
    shoot(page, "desk-analytics-spanish.png")


def test_an_agent_gets_403_and_no_link(seeded, browser):  # noqa: F811
    web, env = seeded
    name, password = add_agent(env, "ana")
    page = page_of(browser)
    sign_in(page, web.url, name, password)
    expect(page.get_by_test_id("analytics-link")).to_have_count(0)
    answer = page.goto(f"{web.url}/desk/analytics?{RANGE}")
    assert answer.status == 403 and "for admins" in page.content()
    csv = page.request.get(f"{web.url}/desk/analytics/csv/automation?{RANGE}")
    assert csv.status == 403
    shoot(page, "desk-analytics-refused.png")
    assert requests.get(f"{web.url}/desk/analytics?{RANGE}", allow_redirects=False, timeout=30).status_code == 303
