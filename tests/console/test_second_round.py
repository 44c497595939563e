"""The console against the contract's second-round shapes (measures, the period report,
the circular, batch actions, `enabled`/`reason`, unit aliases), whether or not this
server serves them yet: the browser's calls to them are answered with contract-shaped
bodies, so the pages are known to render them when those endpoints land."""

import json

from tests.conftest import ADMIN_TOKEN
from tests.console.conftest import goto, sign_in
from tests.console.seed import seed

GROUP = {
    "new": 6,
    "closed": 2,
    "rectified": 2,
    "open_at_end": 4,
    "overdue_at_end": 3,
    "cumulative_rectified": 2,
    "rectification_rate": 0.5,
    "on_time_rate": 1.0,
    "satisfaction_rate": None,
}


def fake(page, pattern: str, body: dict, method: str | None = None) -> None:
    def answer(route):
        if method and route.request.method != method:
            route.fallback()
            return
        route.fulfill(status=200, content_type="application/json", body=json.dumps(body))

    page.route(pattern, answer)


def test_period_chart_and_circular(live, admin, open_page):
    city = seed(admin)
    page, watch = open_page()
    fake(
        page,
        "**/api/v1/reports/period?*",
        {
            "from": "2026-01-01",
            "to": city["today"],
            "group": "unit",
            "groups": [
                {"key": "county-b", "label": "西河区", **GROUP, "children": []},
                {"key": "county-a", "label": "东山县", **GROUP, "rectification_rate": 0.25},
            ],
            "totals": GROUP,
        },
    )
    fake(
        page,
        "**/api/v1/reports/circular?*",
        {
            "data": [
                {
                    "unit_code": "county-a",
                    "name": "东山县",
                    "items": [
                        {
                            "id": city["ids"][1],
                            "number": "2026-000002",
                            "title": "农村饮水工程验收资料不全",
                            "due_date": "2026-11-06",
                            "workdays_overdue": 12,
                            "level": 3,
                        }
                    ],
                }
            ]
        },
    )
    sign_in(page, live, ADMIN_TOKEN)
    assert page.inner_text(".grid-2 > section.panel h2") == "各县区整改情况（本年度）"
    labels = page.locator("svg.chart .chart-label").all_text_contents()
    assert labels == ["东山县", "西河区"]  # worst first: 东山县's rate is the lower
    assert page.locator('svg.chart a[href="#/items?unit=county-a"]').count() == 1
    goto(page, live, "/escalations")
    assert "农村饮水工程验收资料不全" in page.inner_text("#circular")
    assert "12" in page.inner_text("#circular")
    watch.assert_clean()


def period(groups: list[dict]) -> dict:
    return {"from": "2026-01-01", "to": "2026-12-31", "group": "unit", "groups": groups}


def test_the_chart_draws_the_units_behind_first_and_says_how_many_more(live, admin, open_page):
    seed(admin)
    page, watch = open_page()
    groups = [  # ranked best first, as the report ranks them; the last four are behind
        {"key": f"u{n:02}", "label": f"单位{n:02}", **GROUP, "rectification_rate": 1 - n / 40}
        for n in range(20)
    ]
    groups[-1]["rectification_rate"] = 0.1
    groups.append(
        {
            "key": "u-tie",
            "label": "同率逾期多",
            **GROUP,
            "rectification_rate": 0.1,
            "overdue_at_end": 9,
        }
    )
    fake(page, "**/api/v1/reports/period?*", period(groups))
    sign_in(page, live, ADMIN_TOKEN)
    labels = page.locator("svg.chart .chart-label").all_text_contents()
    assert len(labels) == 16
    assert labels[:3] == ["同率逾期多", "单位19", "单位18"]
    assert "单位00" not in labels
    assert "另有 5 个单位未显示" in page.inner_text("#chart-more")
    assert page.locator("#chart-more #chart-report").count() == 1
    watch.assert_clean()


def test_an_empty_period_report_says_no_data(live, admin, open_page):
    page, watch = open_page()
    fake(page, "**/api/v1/reports/period?*", period([]))
    sign_in(page, live, ADMIN_TOKEN)
    chart = page.locator(".grid-2 > section.panel").inner_text()
    assert "暂无数据" in chart and "暂不可用" not in chart
    watch.assert_clean()


def test_item_measures_and_a_blocked_action_with_its_reason(live, admin, open_page):
    city = seed(admin)
    item_id = city["ids"][2]
    page, watch = open_page()
    measure = {
        "item_id": item_id,
        "unit_code": "county-b-housing",
        "status": "open",
        "light": "green",
        "completed_at": None,
        "created_at": "2026-11-01T00:00:00Z",
        "updated_at": "2026-11-01T00:00:00Z",
    }
    fake(
        page,
        f"**/api/v1/items/{item_id}/measures",
        {
            "data": [
                {
                    **measure,
                    "id": 1,
                    "seq": 1,
                    "title": "完成管网改造",
                    "kind": "deadline",
                    "due_date": "2026-12-31",
                    "latest_progress": {
                        "at": "2026-11-20T00:00:00Z",
                        "actor": "x",
                        "comment": "已完成六成",
                        "percent": 60,
                    },
                },
                {
                    **measure,
                    "id": 2,
                    "seq": 2,
                    "title": "建立长效机制",
                    "kind": "long_term",
                    "due_date": None,
                    "status": "ongoing",
                    "light": "none",
                    "latest_progress": None,
                },
            ]
        },
    )
    fake(
        page,
        f"**/api/v1/items/{item_id}/actions?*",
        {
            "actions": [
                {
                    "name": "submit",
                    "label": "申请销号",
                    "requires": ["comment"],
                    "enabled": False,
                    "reason": "尚未上传新的佐证材料",
                },
            ]
        },
    )
    sign_in(page, live, city["tokens"]["supervisor"], f"/items/{item_id}")
    assert page.is_disabled("#action-submit")
    assert page.inner_text(".action .reason") == "尚未上传新的佐证材料"
    text = page.inner_text("main")
    assert "完成管网改造" in text and "60% · 已完成六成" in text and "长期坚持" in text
    watch.assert_clean()


def test_batch_results_per_item(live, admin, open_page):
    seed(admin)
    page, watch = open_page()
    fake(
        page,
        "**/api/v1/items/batch",
        {
            "succeeded": 1,
            "failed": 1,
            "results": [
                {"id": 1, "status": 200, "item": {}},
                {
                    "id": 2,
                    "status": 409,
                    "problem": {
                        "status": 409,
                        "title": "Conflict",
                        "detail": "交办只能用于已发现的问题",
                    },
                },
            ],
        },
        method="POST",
    )
    sign_in(page, live, ADMIN_TOKEN, "/items")
    page.locator("#ledger .pick").nth(0).check()
    page.locator("#ledger .pick").nth(1).check()
    page.fill("#batch-comment", "请加快进度")
    page.click("#batch-urge")
    page.wait_for_selector("#batch-result table")
    assert "成功 1 条，失败 1 条" in page.inner_text("#batch-result")
    assert "交办只能用于已发现的问题" in page.inner_text("#batch-result")
    watch.assert_clean()


def test_unit_aliases_are_edited_when_units_have_them(live, admin, open_page):
    seed(admin)
    page, watch = open_page()
    admin.patch("/units/county-a", json={"aliases": ["东山"]}).raise_for_status()
    sign_in(page, live, ADMIN_TOKEN, "/admin/units")
    assert "东山" in page.inner_text(".tree-box")
    page.click("[data-code=county-a]")
    assert page.input_value("#e-aliases") == "东山"
    watch.assert_clean()
