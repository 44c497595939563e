"""The ledger's file tools and the extension queue, in Chromium."""

from datetime import date, timedelta
from pathlib import Path

from tests.conftest import ADMIN_TOKEN
from tests.console.conftest import goto, sign_in
from tests.console.seed import keys


def test_export_then_import_with_row_errors_then_a_good_file(live, admin, open_page, tmp_path):
    admin.post("/units", json={"code": "court", "name": "市中级人民法院"}).raise_for_status()
    admin.post("/items", json={"title": "已有问题", "source": "audit"}).raise_for_status()
    page, watch = open_page()
    watch.tolerate(r"/api/v1/items/import$")  # the refused file: 422 with its rows' errors
    sign_in(page, live, ADMIN_TOKEN, "/items")

    with page.expect_download() as download:
        page.click("#export-csv")
    assert download.value.suggested_filename.startswith("台账-")  # filename*, not the ASCII one
    exported = Path(download.value.path()).read_bytes()
    assert exported.startswith(b"\xef\xbb\xbf") and "已有问题" in exported.decode("utf-8-sig")

    bad = tmp_path / "bad.csv"
    bad.write_text("标题,来源\n好问题,审计\n,审计\n坏来源,不存在的来源\n", encoding="utf-8-sig")
    page.set_input_files("#import-file", str(bad))
    page.click("#import")
    page.wait_for_selector("#import-result table")
    rows = page.locator("#import-result tbody tr td:first-child").all_inner_texts()
    assert rows == ["3", "4"], page.inner_text("#import-result")

    good = tmp_path / "good.csv"
    good.write_text(
        f"标题,来源,责任单位,整改时限\n新问题,审计,court,{date.today() + timedelta(days=30)}\n",
        encoding="utf-8-sig",
    )
    page.set_input_files("#import-file", str(good))
    page.click("#import")
    page.wait_for_selector("#import-result .ok")
    goto(page, live, "/items?q=新问题")
    assert page.locator("#ledger tbody .state").all_inner_texts() == ["已交办"]
    watch.assert_clean()


def test_import_takes_a_source_and_reconciles_by_external_ref(live, admin, open_page, tmp_path):
    """The panel offers what its own row errors advise (a source for every row, mode
    upsert), says what was done in words, and the list shows the rows written."""
    page, watch = open_page()
    watch.tolerate(r"/api/v1/items/import\?source=audit$")  # the second create: 422, 外部编号 taken
    sign_in(page, live, ADMIN_TOKEN, "/items")
    first = tmp_path / "first.csv"
    first.write_text("外部编号,标题\nXC-2026-01,对账问题\n", encoding="utf-8-sig")  # no 来源
    page.set_input_files("#import-file", str(first))
    page.select_option("#import-source", "audit")
    page.click("#import")
    page.wait_for_selector("#import-summary")
    assert page.inner_text("#import-summary") == "导入成功：新建 1 条"
    page.wait_for_selector("#ledger tbody >> text=对账问题")  # the list was read again
    (item,) = admin.get("/items", params={"q": "对账问题"}).json()["data"]
    assert (item["source"], item["external_ref"]) == ("audit", "XC-2026-01")

    page.set_input_files("#import-file", str(first))
    page.select_option("#import-source", "audit")
    page.click("#import")
    page.wait_for_selector("#import-result table")
    assert page.locator("#import-result tbody td:nth-child(2)").all_inner_texts() == ["外部编号"], (
        page.inner_text("#import-result")
    )

    second = tmp_path / "second.csv"
    second.write_text("外部编号,标题\nXC-2026-01,对账问题（已更新）\n", encoding="utf-8-sig")
    page.set_input_files("#import-file", str(second))
    page.select_option("#import-mode", "upsert")
    page.click("#import")
    page.wait_for_selector("#import-summary")
    assert page.inner_text("#import-summary") == "导入成功：更新 1 条"
    assert admin.get(f"/items/{item['id']}").json()["title"] == "对账问题（已更新）"
    watch.assert_clean()


def test_batch_actions_report_each_item_or_say_not_available(live, admin, open_page):
    admin.post("/units", json={"code": "court", "name": "市中级人民法院"}).raise_for_status()
    for title in ("甲", "乙"):
        admin.post("/items", json={"title": title, "source": "audit"}).raise_for_status()
    page, watch = open_page()
    sign_in(page, live, ADMIN_TOKEN, "/items")
    for box in page.locator("#ledger .pick").all():
        box.check()
    assert page.inner_text("#batch-count") == "2"
    page.select_option("#batch-unit", "court")
    page.click("#batch-assign")
    page.wait_for_selector("#batch-result :is(.unavailable, .ok, .error)")
    text = page.inner_text("#batch-result")
    assert "暂不可用" in text or "成功" in text
    watch.assert_clean()


def test_batch_assign_needs_a_unit_and_urge_keeps_its_result(live, admin, open_page):
    admin.post("/units", json={"code": "court", "name": "市中级人民法院"}).raise_for_status()
    ids = []
    for title in ("甲", "乙"):
        item = admin.post("/items", json={"title": title, "source": "audit"}).json()
        ids.append(item["id"])
        admin.post(
            f"/items/{item['id']}/transitions", json={"action": "assign", "unit_code": "court"}
        ).raise_for_status()
    page, watch = open_page()
    sent = []
    page.on("request", lambda r: sent.append(r.url) if r.url.endswith("/items/batch") else None)
    sign_in(page, live, ADMIN_TOKEN, "/items")
    for box in page.locator("#ledger .pick").all():
        box.check()
    page.click("#batch-assign")  # no unit chosen: refused in the page, nothing sent
    assert page.inner_text("#batch-result") == "请选择责任单位"
    assert not sent

    page.fill("#batch-comment", "请加快进度")
    page.click("#batch-urge")
    page.wait_for_selector("#batch-result .ok")
    page.wait_for_timeout(1200)  # the old page reloaded after 600 ms and wiped the line
    assert "成功 2 条，失败 0 条" in page.inner_text("#batch-result")
    assert page.locator("#batch-result").count() == 1
    assert len(sent) == 1
    history = admin.get(f"/items/{ids[0]}/history").json()["data"]
    assert history[-1]["action"] == "urge"
    watch.assert_clean()


def test_a_supervisor_decides_an_extension_from_the_queue(live, admin, open_page):
    admin.post("/units", json={"code": "court", "name": "市中级人民法院"}).raise_for_status()
    tokens = keys(admin)
    sup = {"Authorization": f"Bearer {tokens['supervisor']}"}
    court = {"Authorization": f"Bearer {tokens['unit']}"}
    item = admin.post("/items", headers=sup, json={"title": "需延期", "source": "audit"}).json()
    due = date.today() + timedelta(days=20)
    for headers, body in [
        (sup, {"action": "assign", "unit_code": "court", "due_date": due.isoformat()}),
        (court, {"action": "accept"}),
    ]:
        admin.post(
            f"/items/{item['id']}/transitions", headers=headers, json=body
        ).raise_for_status()

    page, watch = open_page()
    sign_in(page, live, tokens["unit"], f"/items/{item['id']}")
    page.click("#action-request_extension")
    page.fill("#a-due_date", (due + timedelta(days=10)).isoformat())
    page.fill("#a-reason", "涉及跨部门协调")
    page.click("#confirm-request_extension")
    page.wait_for_selector("text=涉及跨部门协调")

    page.click("#sign-out")
    sign_in(page, live, tokens["supervisor"], "/extensions")
    assert "需延期" in page.inner_text("#extension-list")
    page.click("#extension-list >> text=驳回")  # no comment: a reject must say why
    page.wait_for_selector("#extension-list >> text=驳回须填写意见")
    page.locator("#extension-list input.short").fill("同意，请按新时限完成")
    page.click("#extension-list >> text=批准")
    page.wait_for_selector("#extension-list >> text=暂无数据")
    assert admin.get(f"/items/{item['id']}").json()["due_date"] == str(due + timedelta(days=10))
    history = admin.get(f"/items/{item['id']}/history").json()["data"]
    assert history[-1]["comment"] == "同意，请按新时限完成"
    watch.assert_clean()
