"""Every page of the console in headless Chromium, with everything but 127.0.0.1 blocked:
no failed request, no HTTP error, no console error; screenshots at 1366x768."""

import pytest

from tests.conftest import ADMIN_TOKEN
from tests.console.conftest import SCREENSHOTS, click_to, goto, sign_in
from tests.console.seed import seed

ADMIN_PAGES = [
    "/dashboard",
    "/items",
    "/items?light=red",
    "/escalations",
    "/extensions",
    "/admin/units",
    "/admin/keys",
    "/admin/webhooks",
    "/admin/calendar",
    "/admin/clock",
]


@pytest.fixture
def city(admin):
    return seed(admin)


def test_every_page_loads_clean_for_an_admin(live, city, open_page):
    page, watch = open_page()
    sign_in(page, live, ADMIN_TOKEN)
    nav = page.locator("nav.side a").all_inner_texts()
    assert nav[:2] == ["看板", "问题台账"] and "访问密钥" in nav
    for route in ADMIN_PAGES + [f"/items/{city['ids'][4]}"]:
        goto(page, live, route)
        assert not page.locator("main .error").count(), (route, page.inner_text("main"))
    watch.assert_clean()


def test_screenshots_of_dashboard_ledger_and_item(live, city, open_page):
    page, watch = open_page()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    sign_in(page, live, city["tokens"]["supervisor"])
    figures = page.locator(".figure")
    assert figures.first.inner_text().split("\n")[0] == str(len(city["ids"]))
    red = page.locator("a.figure.light-red").first
    assert red.get_attribute("href") == "#/items?overdue=true"
    assert page.locator("svg.chart a").count() >= 2
    page.screenshot(path=SCREENSHOTS / "dashboard.png")

    click_to(page, "a.figure.light-red >> nth=0", "/items")
    rows = page.locator("#ledger tbody tr")
    assert rows.count() >= 1
    assert all(t == "红灯" for t in page.locator("#ledger tbody .light").all_inner_texts())
    goto(page, live, "/items")
    page.screenshot(path=SCREENSHOTS / "ledger.png")

    goto(page, live, f"/items/{city['ids'][4]}")
    assert "记录链校验通过" in page.inner_text("#chain-badge")
    assert page.locator("#timeline li").count() >= 4
    page.screenshot(path=SCREENSHOTS / "item.png")
    watch.assert_clean()


def test_chart_bars_link_to_the_filtered_ledger(live, city, open_page):
    page, watch = open_page()
    sign_in(page, live, ADMIN_TOKEN)
    hrefs = [a.get_attribute("href") for a in page.locator("svg.chart a").all()]
    assert "#/items?unit=county-a" in hrefs and "#/items?unit=county-b" in hrefs
    click_to(page, 'svg.chart a[href="#/items?unit=county-a"]', "/items")
    assert page.input_value("#f-unit") == "county-a"
    units = set(page.locator("#ledger tbody td:nth-child(4)").all_inner_texts())
    assert units and units <= {"东山县", "东山县水利局"}
    watch.assert_clean()


def test_ledger_filters_and_keyset_paging(live, city, open_page):
    page, watch = open_page()
    sign_in(page, live, ADMIN_TOKEN, "/items?limit=5")
    numbers = lambda: page.locator("#ledger tbody td:nth-child(2)").all_inner_texts()  # noqa: E731
    pages = [numbers()]
    while page.is_enabled("#next"):
        click_to(page, "#next", "/items")
        pages.append(numbers())
    seen = [n for p in pages for n in p]
    assert len(pages) == 4 and len(seen) == len(set(seen)) == len(city["ids"])
    click_to(page, "#prev", "/items")
    assert numbers() == pages[-2]

    page.select_option("#f-state", "assigned")
    click_to(page, "#search", "/items")
    assert "state=assigned" in page.url
    assert set(page.locator("#ledger tbody .state").all_inner_texts()) <= {"已交办", "已派单"}
    watch.assert_clean()


def test_a_unit_liaison_sees_its_own_items_and_no_admin_pages(live, city, open_page):
    page, watch = open_page()
    sign_in(page, live, city["tokens"]["unit"], "/items")
    nav = page.locator("nav.side a").all_inner_texts()
    assert "访问密钥" not in nav and "督办" not in nav
    units = set(page.locator("#ledger tbody td:nth-child(3)").all_inner_texts())
    assert units == {"市中级人民法院"}
    goto(page, live, "/dashboard")
    goto(page, live, "/extensions")
    watch.assert_clean()


def test_english_switch(live, city, open_page):
    page, watch = open_page()
    sign_in(page, live, ADMIN_TOKEN)
    click_to(page, "#lang", "/dashboard")
    assert page.locator("nav.side a").first.inner_text() == "Dashboard"
    assert page.locator("#lang").inner_text() == "中文"
    watch.assert_clean()


def test_a_bad_key_is_refused_on_the_sign_in_page(live, open_page):
    page, watch = open_page()
    watch.tolerate(r"/api/v1/me$")
    page.goto(f"{live}/console/")
    page.fill("#token", "not-a-key")
    page.click("form button[type=submit]")
    page.wait_for_selector("#signin-error:has-text('密钥无效')")
    assert page.evaluate("sessionStorage.getItem('rectify.token')") is None
    watch.assert_clean()


def test_the_light_figures_are_the_summarys_by_light_not_list_downloads(
    live, city, admin, open_page
):
    """One grouped count (``/reports/summary``'s ``by_light``), not every matching item
    downloaded: the dashboard's weight does not grow with the city."""
    by_light = admin.get("/reports/summary").json()["by_light"]
    page, watch = open_page()
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url))
    sign_in(page, live, ADMIN_TOKEN)
    for light in ("red", "yellow", "green", "paused"):
        shown = page.locator(f"a.figure.light-{light} .value").first.inner_text()
        assert shown == str(by_light[light]), (light, shown, by_light)
    assert not [u for u in asked if "/api/v1/items?" in u and "light=" in u], asked
    watch.assert_clean()
