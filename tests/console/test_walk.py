"""People at work in the console: a supervisor and a court liaison take an item from
creation to closure (with a rejection on the way), and an admin issues a key and a webhook."""

import re
from pathlib import Path

import httpx

from tests.conftest import ADMIN_TOKEN
from tests.console.conftest import goto, sign_in, wait_ready
from tests.console.seed import keys


def _rendered(page) -> int:
    return int(page.evaluate("Number(document.body.dataset.renders || 0)"))


def rerendered(page, before: int) -> None:
    page.wait_for_selector(f'body[data-renders="{before + 1}"]', state="attached")


def act(page, action: str, **fields: str) -> None:
    """Click an action's button, fill its fields, confirm, wait for the item to re-render."""
    before = _rendered(page)
    page.click(f"#action-{action}")
    for name, value in fields.items():
        control = page.locator(f"#a-{name}")
        if control.evaluate("e => e.tagName") == "SELECT":
            control.select_option(value)
        else:
            control.fill(value)
    page.click(f"#confirm-{action}")
    page.wait_for_selector(f'body[data-renders="{before + 1}"]', state="attached")


def upload(page, name: str, content: str) -> None:
    before = _rendered(page)
    page.set_input_files(
        "#evidence-file", {"name": name, "mimeType": "text/plain", "buffer": content.encode()}
    )
    page.click("#evidence-upload")
    page.wait_for_selector(f'body[data-renders="{before + 1}"]', state="attached")


def switch(page, base: str, token: str, route: str) -> None:
    page.click("#sign-out")
    page.wait_for_selector("#token")
    sign_in(page, base, token, route)


def state(page) -> str:
    return page.inner_text(".title-row .state")


def test_liaison_and_supervisor_take_an_item_from_creation_to_closure(live, admin, open_page):
    admin.post("/units", json={"code": "court", "name": "市中级人民法院"}).raise_for_status()
    tokens = keys(admin)
    page, watch = open_page()

    sign_in(page, live, tokens["supervisor"], "/items")
    page.click("#new-item")
    page.fill("#n-title", "执行案款发放不及时")
    page.select_option("#n-source", "petition")
    page.fill("#n-description", "群众反映案款拖欠三个月")
    page.click("#n-create")
    page.wait_for_url(re.compile(r"#/items/\d+$"))
    item_route = page.evaluate("location.hash").lstrip("#")
    wait_ready(page, item_route)
    assert state(page) == "已发现"
    act(page, "assign", unit_code="court")
    assert state(page) == "已交办"

    switch(page, live, tokens["unit"], item_route)
    act(page, "accept")
    assert state(page) == "整改中"
    upload(page, "发放凭证.txt", "案款已于本月全部发放")
    assert "发放凭证.txt" in page.inner_text("#evidence-form >> xpath=..")
    with page.expect_download() as download:
        page.click("text=下载")
    assert Path(download.value.path()).read_text(encoding="utf-8") == "案款已于本月全部发放"
    act(page, "submit", comment="已整改到位，附发放凭证")
    assert page.locator(".title-row .tag").inner_text() == "待验收"

    switch(page, live, tokens["supervisor"], item_route)
    act(page, "reject", comment="凭证不全，请补充银行回单")
    assert state(page) == "整改中" and not page.locator(".title-row .tag").count()

    switch(page, live, tokens["unit"], item_route)
    upload(page, "银行回单.txt", "回单")
    act(page, "submit", comment="已补充银行回单")

    switch(page, live, tokens["supervisor"], item_route)
    act(page, "verify")
    assert state(page) == "已验收"
    act(page, "close")
    assert state(page) == "已销号"
    assert page.locator("#no-actions").count() or page.locator(".actions button").count()
    assert "记录链校验通过" in page.inner_text("#chain-badge")
    timeline = page.inner_text("#timeline")
    for step in ("交办", "签收", "申请销号", "退回重整", "验收通过", "销号"):
        assert step in timeline
    assert "凭证不全，请补充银行回单" in timeline

    item_id = item_route.rsplit("/", 1)[1]
    history = admin.get(f"/items/{item_id}/history").json()["data"]
    assert [e["action"] for e in history if e["action"] != "evidence"] == [
        "create",
        "assign",
        "accept",
        "submit",
        "reject",
        "submit",
        "verify",
        "close",
    ]
    watch.assert_clean()


def test_a_refused_action_shows_the_problem_in_the_form(live, admin, open_page):
    admin.post("/units", json={"code": "court", "name": "市中级人民法院"}).raise_for_status()
    tokens = keys(admin)
    sup = {"Authorization": f"Bearer {tokens['supervisor']}"}
    item = admin.post("/items", headers=sup, json={"title": "无佐证", "source": "audit"}).json()
    page, watch = open_page()
    watch.tolerate(rf"/api/v1/items/{item['id']}/transitions$")
    sign_in(page, live, tokens["supervisor"], f"/items/{item['id']}")
    admin.patch(f"/items/{item['id']}", json={"title": "无佐证（已改）"}).raise_for_status()
    page.click("#action-assign")
    page.select_option("#a-unit_code", "court")
    page.click("#confirm-assign")
    page.wait_for_selector("#form-assign .error")
    assert admin.get(f"/items/{item['id']}").json()["state"] == "found"  # stale If-Match: 412

    r = admin.post(
        f"/items/{item['id']}/transitions",
        headers=sup,
        json={"action": "assign", "unit_code": "court"},
    )
    r.raise_for_status()
    court = {"Authorization": f"Bearer {tokens['unit']}"}
    r = admin.post(f"/items/{item['id']}/transitions", headers=court, json={"action": "accept"})
    r.raise_for_status()
    switch(page, live, tokens["unit"], f"/items/{item['id']}")
    page.wait_for_selector(".actions, #no-actions")
    button = page.locator("#action-submit")
    if button.count() and button.is_enabled():
        button.click()
        page.fill("#a-comment", "已整改")
        page.click("#confirm-submit")
        page.wait_for_selector("#form-submit .error")  # no evidence yet: 422
    elif button.count():  # `enabled: false` with its `reason`
        assert page.locator(".action .reason").first.inner_text()
    watch.assert_clean()


def test_an_admin_issues_a_key_and_a_webhook(live, open_page):
    page, watch = open_page()
    sign_in(page, live, ADMIN_TOKEN, "/admin/units")
    page.fill("#u-code", "court")
    page.fill("#u-name", "市中级人民法院")
    page.click("#u-create")
    page.wait_for_selector("[data-code=court]")

    goto(page, live, "/admin/keys")
    page.fill("#k-name", "法院联络员")
    page.select_option("#k-role", "unit")
    page.select_option("#k-unit", "court")
    page.click("#k-create")
    token = page.inner_text("#new-token .secret").strip()
    assert "法院联络员" in page.inner_text("#key-list")
    me = httpx.get(f"{live}/api/v1/me", headers={"Authorization": f"Bearer {token}"}).json()
    assert (me["role"], me["unit_code"]) == ("unit", "court")

    goto(page, live, "/admin/webhooks")
    page.fill("#w-url", "http://127.0.0.1:9/hooks/rectify")
    page.fill("#w-events", "item.overdue, item.escalated")
    page.select_option("#w-unit", "court")
    page.click("#w-create")
    assert page.inner_text("#new-secret .secret").startswith("whsec_")
    assert "item.overdue, item.escalated" in page.inner_text("#webhook-list")
    before = _rendered(page)
    page.click("#webhook-list >> text=发送测试事件")
    rerendered(page, before)
    page.click("#webhook-list >> text=投递记录")
    page.wait_for_selector("#deliveries [data-delivery]")
    page.locator("#deliveries [data-delivery]").first.click()
    page.wait_for_selector("#deliveries [data-delivery]")
    assert not page.locator("#deliveries .error").count(), page.inner_text("#deliveries")
    before = _rendered(page)
    page.click("#webhook-list >> text=停用")
    rerendered(page, before)
    assert "启用" in page.inner_text("#webhook-list")

    switch(page, live, token, "/dashboard")
    assert "法院联络员" in page.inner_text("#who")
    watch.assert_clean()


def test_a_supervisor_escalates_an_item_by_hand(live, admin, open_page):
    admin.post("/units", json={"code": "court", "name": "市中级人民法院"}).raise_for_status()
    tokens = keys(admin)
    sup = {"Authorization": f"Bearer {tokens['supervisor']}"}
    item = admin.post("/items", headers=sup, json={"title": "群众反映强烈", "source": "petition"})
    item_id = item.json()["id"]
    admin.post(
        f"/items/{item_id}/transitions",
        headers=sup,
        json={"action": "assign", "unit_code": "court"},
    ).raise_for_status()
    admin.post(  # the rectification deadline's ladder reaches 督办 (level 2); sign-off's does not
        f"/items/{item_id}/transitions",
        headers={"Authorization": f"Bearer {tokens['unit']}"},
        json={"action": "accept"},
    ).raise_for_status()
    page, watch = open_page()
    sign_in(page, live, tokens["supervisor"], f"/items/{item_id}")
    act(page, "escalate", reason="群众反映强烈，挂牌督办", level="2")
    assert admin.get(f"/items/{item_id}").json()["escalation_level"] == 2
    assert "挂牌督办" in page.inner_text("#timeline")
    watch.assert_clean()
