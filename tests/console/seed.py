"""A small city for the console's tests: two counties, departments, items in every state,
some overdue and escalated (the test clock puts their assignment in the past)."""

from datetime import UTC, date, datetime, timedelta

import httpx

UNITS = [
    ("county-a", "东山县", None),
    ("county-a-water", "东山县水利局", "county-a"),
    ("county-b", "西河区", None),
    ("county-b-housing", "西河区住建局", "county-b"),
    ("court", "市中级人民法院", None),
    ("audit", "市审计局", None),
]
TITLES = [
    ("执行案款发放不及时", "hotline", "court"),
    ("农村饮水工程验收资料不全", "inspection", "county-a-water"),
    ("老旧小区改造进度滞后", "assessment", "county-b-housing"),
    ("小型工程招投标程序不规范", "petition", "county-a"),
    ("专项资金拨付审批环节过多", "audit", "audit"),
    ("营商环境投诉办理超期", "hotline", "county-b"),
    ("村级财务公开不及时", "inspection", "county-a"),
    ("道路项目规划论证不充分", "audit", "county-b"),
]


def keys(admin: httpx.Client) -> dict[str, str]:
    made = {}
    for name, role, unit in [("督办科", "supervisor", None), ("法院联络员", "unit", "court")]:
        r = admin.post("/keys", json={"name": name, "role": role, "unit_code": unit})
        r.raise_for_status()
        made[role] = r.json()["token"]
    return made


def seed(admin: httpx.Client) -> dict:
    """Units, keys and items in every state; returns the keys and the item ids."""
    for code, name, parent in UNITS:
        body = {"code": code, "name": name, "parent_code": parent}
        admin.post("/units", json=body).raise_for_status()
    tokens = keys(admin)
    sup = {"Authorization": f"Bearer {tokens['supervisor']}"}
    unit_keys = {}
    for code, *_ in UNITS:
        r = admin.post("/keys", json={"name": f"{code}联络员", "role": "unit", "unit_code": code})
        unit_keys[code] = {"Authorization": f"Bearer {r.json()['token']}"}

    def act(item_id, headers, **body):
        admin.post(f"/items/{item_id}/transitions", json=body, headers=headers).raise_for_status()

    past = datetime.now(UTC) - timedelta(days=45)
    admin.put("/admin/clock", json={"now": past.isoformat()}).raise_for_status()
    ids = []
    for n, (title, source, unit) in enumerate(TITLES * 2):
        r = admin.post(
            "/items",
            headers=sup,
            json={
                "title": f"{title}（{n + 1}）",
                "description": f"{title}，群众反映强烈。",
                "source": source,
            },
        )
        r.raise_for_status()
        item_id = r.json()["id"]
        ids.append(item_id)
        if n % 8 == 7:
            continue
        due = (past.date() + timedelta(days=20 if n % 3 else 90)).isoformat()
        act(item_id, sup, action="assign", unit_code=unit, due_date=due)
        if n % 8 in (1, 2, 3, 4, 5):
            act(item_id, unit_keys[unit], action="accept")
        if n % 8 in (4, 5):
            files = {"file": ("整改报告.txt", "已整改到位".encode(), "text/plain")}
            r = admin.post(f"/items/{item_id}/evidence", files=files, headers=unit_keys[unit])
            r.raise_for_status()
            act(item_id, unit_keys[unit], action="submit", comment="已整改，附报告")
        if n % 8 == 5:
            act(item_id, sup, action="verify")
            if source == "hotline":  # the hotline closes by its callback (回访)
                act(item_id, sup, action="callback", satisfaction="satisfied")
            else:
                act(item_id, sup, action="close")
    admin.delete("/admin/clock").raise_for_status()
    admin.post("/admin/scheduler/tick").raise_for_status()
    return {"tokens": tokens, "ids": ids, "today": date.today().isoformat()}
