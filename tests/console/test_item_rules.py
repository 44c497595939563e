"""What an item's page and the lists say and offer, as the server decides it: refusals in
Chinese, the deadline that runs, one item per double click, every history action labelled,
measures only where the API lets the caller act on them."""

import json
import re
from datetime import date, timedelta
from pathlib import Path

import yaml

from tests.conftest import ADMIN_TOKEN
from tests.console.conftest import goto, sign_in, wait_ready
from tests.console.seed import keys, seed
from tests.console.test_walk import _rendered, rerendered, switch

ROOT = Path(__file__).resolve().parents[2]
STATIC = ROOT / "app" / "console" / "static" / "js"


def court_item(admin, tokens, title="时限问题", due=None, co=None):
    """An item assigned to the court (and accepted): its id."""
    sup = {"Authorization": f"Bearer {tokens['supervisor']}"}
    court = {"Authorization": f"Bearer {tokens['unit']}"}
    item = admin.post("/items", headers=sup, json={"title": title, "source": "audit"}).json()
    due = due or date.today() + timedelta(days=30)
    assign = {"action": "assign", "unit_code": "court", "due_date": due.isoformat()}
    if co:
        assign["co_unit_codes"] = co
    for headers, body in [(sup, assign), (court, {"action": "accept"})]:
        r = admin.post(f"/items/{item['id']}/transitions", headers=headers, json=body)
        r.raise_for_status()
    files = {"file": ("报告.txt", "已整改".encode(), "text/plain")}  # submit is enabled
    admin.post(f"/items/{item['id']}/evidence", files=files, headers=court).raise_for_status()
    return item["id"]


def test_refusals_show_a_chinese_headline_the_fields_and_the_reason_once(live, admin, open_page):
    admin.post("/units", json={"code": "court", "name": "市中级人民法院"}).raise_for_status()
    tokens = keys(admin)
    due = date.today() + timedelta(days=30)
    item_id = court_item(admin, tokens, due=due)
    page, watch = open_page()
    watch.tolerate(rf"/api/v1/items/{item_id}/(extensions|transitions)$")
    sign_in(page, live, tokens["unit"], f"/items/{item_id}")

    page.click("#action-request_extension")  # a date before the current one: 422
    page.fill("#a-due_date", (due - timedelta(days=1)).isoformat())
    page.fill("#a-reason", "跨部门协调")
    page.click("#confirm-request_extension")
    box = page.locator("#form-request_extension .problem")
    box.wait_for()
    assert box.locator(".headline").inner_text() == "提交的内容有误"
    message = f"The new due date must be after {due}."
    assert box.locator(".field-errors li").all_inner_texts() == [f"整改时限：{message}"]
    assert not box.locator(".detail").count()  # the detail is the field's message: once

    admin.patch(f"/items/{item_id}", json={"title": "已被改"}).raise_for_status()
    page.click("#action-submit")  # the page's version is stale now: 412
    page.fill("#a-comment", "已整改")
    page.click("#confirm-submit")
    box = page.locator("#form-submit .problem")
    box.wait_for()
    assert box.locator(".headline").inner_text() == "该问题已被他人修改，请刷新后重试"
    assert box.locator(".detail").count() == 1  # the server's precise reason, smaller

    def refuse(route):  # a refused transition with the actions allowed now
        body = {
            "type": "https://rectify.dev/problems/action-not-allowed",
            "title": "Action not allowed in the current state",
            "status": 409,
            "detail": "submit is not allowed in state assigned.",
            "allowed_actions": ["accept", "return"],
        }
        route.fulfill(status=409, content_type="application/problem+json", body=json.dumps(body))

    page.route(f"**/api/v1/items/{item_id}/transitions", refuse)
    goto(page, live, f"/items/{item_id}")
    page.click("#action-submit")
    page.fill("#a-comment", "已整改")
    page.click("#confirm-submit")
    box = page.locator("#form-submit .problem")
    box.wait_for()
    assert box.locator(".headline").inner_text() == "当前状态下不能执行该操作"
    assert box.locator(".allowed").inner_text() == "当前可办理：签收、退回"

    page.evaluate("localStorage.setItem('rectify.lang', 'en')")
    page.reload()
    wait_ready(page, f"/items/{item_id}")
    page.click("#action-submit")
    page.fill("#a-comment", "done")
    page.click("#confirm-submit")
    box = page.locator("#form-submit .problem")
    box.wait_for()
    assert box.locator(".headline").inner_text() == "Not allowed in the current state"
    assert box.locator(".allowed").inner_text() == "Allowed now: Accept, Return"
    watch.assert_clean()


def test_a_chinese_detail_is_the_main_text(live, admin, open_page):
    admin.post("/units", json={"code": "court", "name": "市中级人民法院"}).raise_for_status()
    tokens = keys(admin)
    item_id = court_item(admin, tokens)
    page, watch = open_page()
    watch.tolerate(rf"/api/v1/items/{item_id}/transitions$")

    def refuse(route):
        body = {
            "type": "x/conflict",
            "title": "Conflict",
            "status": 409,
            "detail": "尚未上传新的佐证材料",
        }
        route.fulfill(status=409, content_type="application/problem+json", body=json.dumps(body))

    page.route(f"**/api/v1/items/{item_id}/transitions", refuse)
    sign_in(page, live, tokens["unit"], f"/items/{item_id}")
    page.click("#action-submit")
    page.fill("#a-comment", "已整改")
    page.click("#confirm-submit")
    box = page.locator("#form-submit .problem")
    box.wait_for()
    assert box.inner_text() == "尚未上传新的佐证材料"
    watch.assert_clean()


def test_lists_show_the_running_deadline(live, admin, open_page):
    city = seed(admin)
    assigned = admin.get(f"/items/{city['ids'][0]}").json()  # assigned, not signed for
    rectifying = admin.get(f"/items/{city['ids'][1]}").json()
    assert assigned["state"] == "assigned" and rectifying["state"] == "rectifying"
    assert assigned["accept_due_date"] != assigned["due_date"]
    page, watch = open_page()
    sign_in(page, live, ADMIN_TOKEN, "/items")

    def cell(number: str, table: str) -> str:
        row = page.locator(f"{table} tbody tr", has_text=number)
        header = page.locator(f"{table} thead th").all_inner_texts().index("当前时限")
        return row.locator("td").nth(header).inner_text()

    goto(page, live, f"/items?q={assigned['number']}")
    assert cell(assigned["number"], "#ledger") == f"{assigned['accept_due_date']} 签收"
    goto(page, live, f"/items?q={rectifying['number']}")
    assert cell(rectifying["number"], "#ledger") == rectifying["due_date"]

    goto(page, live, "/escalations?level=1")
    assert cell(assigned["number"], "main") == f"{assigned['accept_due_date']} 签收"
    watch.assert_clean()


def test_a_double_click_creates_one_item_with_an_idempotency_key(live, admin, open_page):
    admin.post("/units", json={"code": "court", "name": "市中级人民法院"}).raise_for_status()
    tokens = keys(admin)
    page, watch = open_page()
    posted = []
    page.on(
        "request",
        lambda r: (
            posted.append(r.headers) if r.method == "POST" and r.url.endswith("/items") else None
        ),
    )
    sign_in(page, live, tokens["supervisor"], "/items")
    page.click("#new-item")
    page.fill("#n-title", "双击只建一条")
    page.dblclick("#n-create")
    page.wait_for_url(re.compile(r"#/items/\d+$"))
    wait_ready(page, page.evaluate("location.hash").lstrip("#"))
    page.wait_for_timeout(500)
    found = admin.get("/items", params={"q": "双击只建一条"}).json()["data"]
    assert len(found) == 1
    assert len(posted) == 1
    assert re.fullmatch(
        r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}",
        posted[0].get("idempotency-key", ""),
    )
    watch.assert_clean()


def written_actions() -> set[str]:
    """Every history action the server can write: the workflows' actions and ladder steps,
    and the names the code records (items, evidence, extensions, escalation, measures, merges)."""
    names = set()
    for path in (ROOT / "app" / "workflows").glob("*.yaml"):
        wf = yaml.safe_load(path.read_text(encoding="utf-8"))
        names |= {a["name"] for a in wf["actions"]}
        ladders = [wf.get("ladder") or []] + list((wf.get("ladders") or {}).values())
        names |= {step["name"] for ladder in ladders for step in ladder}
    patterns = [
        r"\.record\(\s*\"(\w+)\"",  # changed.record("edit", ...)
        r"\baction=\"(\w+)\"",  # record(..., action="measure_create")
        r"\(\"(measure_\w+)\", \"measure\.\w+\"\)",  # ("measure_complete", "measure.completed")
        r"\"(extension_\w+)\" if",  # "extension_approved" if approve else "extension_rejected"
        r"else \"(extension_\w+)\"",
    ]
    for path in (ROOT / "app").rglob("*.py"):
        if "demo" in path.parts or "migrations" in path.parts:
            continue
        text = path.read_text(encoding="utf-8")
        for pattern in patterns:
            names |= set(re.findall(pattern, text))
    return names


def test_every_history_action_the_server_writes_has_a_label():
    names = written_actions()
    assert {"measure_create", "measure_complete", "measure_reopen", "merged_in"} <= names
    i18n = (STATIC / "i18n.js").read_text(encoding="utf-8")
    labelled = dict(re.findall(r"\bact_(\w+): \['([^']+)', '[^']+'\]", i18n))
    workflow_labels = set()
    for path in (ROOT / "app" / "workflows").glob("*.yaml"):
        for a in yaml.safe_load(path.read_text(encoding="utf-8"))["actions"]:
            if isinstance(a.get("label"), dict) and {"zh", "en"} <= a["label"].keys():
                workflow_labels.add(a["name"])
    missing = sorted(n for n in names if n not in labelled and n not in workflow_labels)
    assert not missing, f"history actions without a console label: {missing}"


def test_measures_are_offered_only_where_the_api_allows(live, admin, open_page):
    for code, name in [("court", "市中级人民法院"), ("audit", "市审计局")]:
        admin.post("/units", json={"code": code, "name": name}).raise_for_status()
    tokens = keys(admin)
    co = admin.post("/keys", json={"name": "审计局联络员", "role": "unit", "unit_code": "audit"})
    tokens["co"] = co.json()["token"]
    heads = {k: {"Authorization": f"Bearer {v}"} for k, v in tokens.items()}
    item_id = court_item(admin, tokens, title="有配合单位", co=["audit"])
    due = (date.today() + timedelta(days=20)).isoformat()
    for unit, title in [("court", "法院的措施"), ("audit", "审计局的措施")]:
        body = {"title": title, "kind": "deadline", "unit_code": unit, "due_date": due}
        r = admin.post(f"/items/{item_id}/measures", headers=heads["supervisor"], json=body)
        r.raise_for_status()
    measures = admin.get(f"/items/{item_id}/measures").json()["data"]
    ours = next(m for m in measures if m["unit_code"] == "audit")
    admin.post(
        f"/items/{item_id}/measures/{ours['id']}/complete",
        headers=heads["co"],
        json={"comment": "已完成"},
    ).raise_for_status()
    assert admin.get(f"/items/{item_id}/actions", headers=heads["co"]).json()["actions"] == []

    page, watch = open_page()
    sign_in(page, live, tokens["co"], f"/items/{item_id}")  # the co-unit
    assert (
        page.locator("#no-actions").count()
        and not page.locator("#action-request_extension").count()
    )
    assert not page.locator("#measure-form").count()  # only the lead unit adds measures
    court_row = page.locator("main tbody tr", has_text="法院的措施")
    assert not court_row.locator("button").count()  # another unit's measure

    switch(page, live, tokens["supervisor"], f"/items/{item_id}")
    row = page.locator("main tbody tr", has_text="审计局的措施")
    assert row.locator("button").inner_text() == "重新打开"
    requests = []
    page.on("request", lambda r: requests.append(r.url) if r.url.endswith("/reopen") else None)
    row.locator("button").click()  # no comment yet: asked for, nothing sent
    page.wait_for_selector("text=请填写意见")
    assert not requests
    before = int(page.evaluate("Number(document.body.dataset.renders || 0)"))
    row.locator("input").fill("措施需补充台账")
    row.locator("button").click()
    page.wait_for_selector(f'body[data-renders="{before + 1}"]', state="attached")
    history = admin.get(f"/items/{item_id}/history").json()["data"]
    assert (history[-1]["action"], history[-1]["comment"]) == ("measure_reopen", "措施需补充台账")
    timeline = page.inner_text("#timeline")
    assert "新增整改措施" in timeline and "措施完成" in timeline and "重新打开措施" in timeline
    assert not re.search(r"\b(measure|merged|extension)_\w+", timeline), timeline

    for m in admin.get(f"/items/{item_id}/measures").json()["data"]:  # now close the item
        admin.post(
            f"/items/{item_id}/measures/{m['id']}/complete",
            headers=heads["unit"],
            json={"comment": "完成"},
        ).raise_for_status()
    for who, body in [
        ("unit", {"action": "submit", "comment": "已整改"}),
        ("supervisor", {"action": "verify"}),
        ("supervisor", {"action": "close"}),
    ]:
        r = admin.post(f"/items/{item_id}/transitions", headers=heads[who], json=body)
        r.raise_for_status()
    goto(page, live, f"/items/{item_id}")
    assert not page.locator("#measure-form").count()
    assert not page.locator("main tbody tr", has_text="的措施").locator("button").count()
    switch(page, live, tokens["unit"], f"/items/{item_id}")  # the lead unit, on a closed item
    assert not page.locator("#measure-form").count()
    assert not page.locator("main tbody tr", has_text="的措施").locator("button").count()
    watch.assert_clean()


def test_co_units_and_people_are_set_where_the_api_lets_the_caller(live, admin, open_page):
    """交办 offers 配合单位 (assign and reassign take them); 编辑 changes the description,
    co-units and people for a supervisor, only the people for the lead unit; a viewer,
    or anyone once the item is closed, gets no 编辑."""
    for code, name in [("court", "市中级人民法院"), ("audit", "市审计局"), ("water", "市水务局")]:
        admin.post("/units", json={"code": code, "name": name}).raise_for_status()
    tokens = keys(admin)
    viewer = admin.post("/keys", json={"name": "观察员", "role": "viewer"}).json()["token"]
    sup = {"Authorization": f"Bearer {tokens['supervisor']}"}
    item = admin.post("/items", headers=sup, json={"title": "配合问题", "source": "audit"}).json()

    page, watch = open_page()
    sign_in(page, live, tokens["supervisor"], f"/items/{item['id']}")
    page.click("#action-assign")
    page.select_option("#a-unit_code", "court")
    page.fill("#a-due_date", (date.today() + timedelta(days=30)).isoformat())
    page.select_option("#a-co_unit_codes", ["audit"])
    before = _rendered(page)
    page.click("#confirm-assign")
    rerendered(page, before)
    assert admin.get(f"/items/{item['id']}").json()["co_unit_codes"] == ["audit"]

    page.click("#edit-item")
    assert page.locator("#edit-form [name]").evaluate_all("els => els.map(e => e.name)") == [
        "title",
        "description",
        "co_unit_codes",
        "responsible_person",
        "responsible_leader",
    ]
    page.select_option("#e-co_unit_codes", ["audit", "water"])
    page.fill("#e-responsible_leader", "王副院长")
    before = _rendered(page)
    page.click("#save-edit")
    rerendered(page, before)
    got = admin.get(f"/items/{item['id']}").json()
    assert (sorted(got["co_unit_codes"]), got["responsible_leader"]) == (
        ["audit", "water"],
        "王副院长",
    )
    assert "市水务局" in page.inner_text(".fields")

    switch(page, live, tokens["unit"], f"/items/{item['id']}")  # the court: the lead unit
    page.click("#edit-item")
    names = page.locator("#edit-form [name]").evaluate_all("els => els.map(e => e.name)")
    assert names == ["responsible_person", "responsible_leader"]
    page.fill("#e-responsible_person", "李法官")
    before = _rendered(page)
    page.click("#save-edit")
    rerendered(page, before)
    assert admin.get(f"/items/{item['id']}").json()["responsible_person"] == "李法官"

    switch(page, live, viewer, f"/items/{item['id']}")
    assert page.locator("#edit-item").count() == 0
    watch.assert_clean()
