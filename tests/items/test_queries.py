"""GET /items: every filter of API.md, limits and opaque keyset cursors."""

import base64

import pytest

from tests.factories import NOW, assert_problem, make_world

CAMPAIGN = "2024-political-ecology"


@pytest.fixture(scope="module")
def ledger(shared_api):
    """Seven items covering every filter's hits and misses, keyed by letter."""
    world = make_world(shared_api)
    api, sup = world.api, world.sup

    def make(title, source, description="", unit=None, due=None, **fields):
        item = api.item(sup, title=title, source=source, description=description, **fields)
        if unit:
            api.act(item["id"], "assign", sup, unit_code=unit, due_date=due)
        return item["id"]

    ids = {
        "A": make(
            "征地拆迁补偿款发放不及时",
            "petition",
            "群众反映：补偿款拖欠三个月",
            "court",
            "2026-03-04",
            campaign=CAMPAIGN,
            tags=["民生", "征地"],
            external_ref="XF-2026-0107",
        ),
        "B": make(
            "Audit finding: 100% of invoices unchecked",
            "audit",
            "审计发现发票未核验",
            "district",
            "2026-06-30",
            campaign=CAMPAIGN,
        ),
        "C": make("12345热线：小区噪音扰民", "hotline", tags=["民生"], external_ref="HL20260301"),
        "D": make("巡视反馈：干部作风问题", "inspection", "", "city", "2026-03-03"),
        "E": make("考核：整改台账不规范", "assessment", "", "court", "2026-05-15"),
        "F": make("其他：重复线索", "other"),
        "G": make("12345热线：路灯不亮", "hotline", "", "district", "2026-04-10"),
    }
    unit_of = {"A": world.unit, "B": world.district, "D": world.city, "E": world.unit}
    for letter in "ABDE":
        api.act(ids[letter], "accept", unit_of[letter])
    api.evidence(ids["E"], world.unit)
    api.act(ids["E"], "submit", world.unit, comment="已整改")
    api.act(ids["F"], "withdraw", sup, comment="重复线索")
    # D runs past its due date (overdue from 00:00 on 03-04), then moves: its light turns red
    api.set_clock("2026-03-05T02:00:00Z")
    api.evidence(ids["D"], world.city)
    api.act(ids["D"], "submit", world.city, comment="已整改")
    api.act(ids["D"], "reject", sup, comment="材料不全")
    api.set_clock(NOW)
    return world, ids


def listing(world, token=None, **params) -> list[dict]:
    r = world.api.get("/items", token=token or world.sup, params={"limit": 500, **params})
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"data", "next_cursor"} and body["next_cursor"] is None
    return body["data"]


def letters(ledger, items) -> set[str]:
    by_id = {v: k for k, v in ledger[1].items()}
    return {by_id[i["id"]] for i in items if i["id"] in by_id}


def test_the_ledger_is_what_the_filters_expect(ledger):
    world, ids = ledger
    got = {k: world.api.get(f"/items/{v}").json() for k, v in ids.items()}
    assert {k: i["state"] for k, i in got.items()} == {
        "A": "rectifying",
        "B": "rectifying",
        "C": "found",
        "D": "rectifying",
        "E": "rectifying",
        "F": "closed",
        "G": "assigned",
    }
    assert got["E"]["review_pending"] and not got["D"]["review_pending"]
    assert got["E"]["light"] == "paused"  # its closure request is under review
    # reminder 3 workdays before due: A (due 03-04) is yellow on 03-02; D is overdue
    assert (got["A"]["light"], got["B"]["light"], got["D"]["light"]) == ("yellow", "green", "red")
    assert got["C"]["light"] == got["F"]["light"] == "none"


FILTERS = [
    ({"state": "rectifying"}, "ABDE"),
    ({"state": "found"}, "C"),
    ({"state": "closed"}, "F"),
    ({"unit": "city"}, "ABDEG"),
    ({"unit": "court"}, "AE"),
    ({"unit": "district"}, "BG"),
    ({"unit": "nowhere"}, ""),
    ({"source": "petition"}, "A"),
    ({"source": "hotline"}, "CG"),
    ({"campaign": CAMPAIGN}, "AB"),
    ({"light": "red"}, "D"),
    ({"light": "green"}, "B"),
    ({"light": "paused"}, "E"),
    ({"light": "none"}, "CF"),
    ({"overdue": "true"}, "D"),
    ({"overdue": "false"}, "ABCEFG"),
    ({"was_overdue": "true"}, "D"),
    ({"was_overdue": "false"}, "ABCEFG"),
    ({"tag": "民生"}, "AC"),
    ({"tag": "征地"}, "A"),
    ({"tag": "民"}, ""),
    ({"external_ref": "XF-2026-0107"}, "A"),
    ({"external_ref": "XF-2026"}, ""),
    ({"q": "XF-2026"}, "A"),
    ({"q": "hl2026"}, "C"),
    ({"type": "complaint"}, "CG"),  # hotline orders default to complaints
    ({"type": "help"}, ""),
    ({"review_pending": "true"}, "E"),
    ({"review_pending": "false"}, "ABCDFG"),
    ({"q": "补偿款"}, "A"),
    ({"q": "发票"}, "B"),
    ({"q": "100%"}, "B"),
    ({"q": "%"}, "B"),
    ({"q": "_"}, ""),
    ({"q": "12345热线"}, "CG"),
    ({"due_before": "2026-03-10"}, "AD"),
    ({"due_after": "2026-04-01"}, "BEG"),
    ({"due_after": "2026-04-01", "due_before": "2026-05-31"}, "EG"),
    ({"state": "rectifying", "unit": "court"}, "AE"),
    ({"source": "hotline", "state": "assigned", "light": "yellow"}, "G"),
]


@pytest.mark.parametrize(
    ("params", "expected"),
    [pytest.param(p, e, id="&".join(f"{k}={v}" for k, v in p.items())) for p, e in FILTERS],
)
def test_filters(ledger, params, expected):
    assert letters(ledger, listing(ledger[0], **params)) == set(expected)


def test_q_matches_the_number(ledger):
    world, ids = ledger
    number = world.api.get(f"/items/{ids['E']}").json()["number"]
    assert letters(ledger, listing(world, q=number)) == {"E"}


@pytest.mark.parametrize("light", ["green", "yellow", "red", "paused", "none"])
def test_the_light_filter_agrees_with_every_items_light(ledger, light):
    world = ledger[0]
    everything = listing(world)
    assert {i["id"] for i in listing(world, light=light)} == {
        i["id"] for i in everything if i["light"] == light
    }


def test_filters_apply_within_a_unit_keys_scope(ledger):
    world = ledger[0]
    assert letters(ledger, listing(world, world.unit)) == set("AE")
    assert letters(ledger, listing(world, world.unit, review_pending="true")) == {"E"}
    assert letters(ledger, listing(world, world.city, source="hotline")) == {"G"}


@pytest.mark.parametrize(
    "params",
    [
        {"limit": 0},
        {"limit": 501},
        {"limit": -1},
        {"limit": "ten"},
        {"light": "purple"},
        {"state": "nope"},  # no workflow has it
        {"state": "assigned,nope"},
        {"source": "newspaper"},
        {"overdue": "maybe"},
        {"due_before": "2026-13-01"},
        {"due_before": "0"},  # not a Unix timestamp: pydantic's lax mode would read 1970-01-01
        {"due_after": "20260301"},
        {"due_after": "yesterday"},
        {"type": "complaints"},
        {"was_overdue": "sometimes"},
    ],
)
def test_malformed_queries_are_400(ledger, params):
    assert_problem(ledger[0].api.get("/items", token=ledger[0].sup, params=params), 400)


@pytest.mark.parametrize(
    "path",
    [
        "/items",
        "/items/export",
        "/reports/summary",
        "/reports/units",
        "/admin/escalations",
        "/events",
        "/units",
        "/webhooks",
    ],
)
def test_an_unknown_query_parameter_is_400_naming_it(ledger, path):
    world = ledger[0]
    r = world.api.get(path, params={"tg": "民生"})
    body = assert_problem(r, 400)
    assert "'tg'" in body["detail"] and body["errors"][0]["field"] == "tg"
    assert world.api.get(path).status_code == 200  # the same endpoint, no typo


@pytest.mark.parametrize(
    ("path", "name", "values"),
    [
        ("/items", "state", ["found", "closed"]),
        ("/items", "limit", ["5", "5"]),
        ("/items/export", "source", ["audit", "hotline"]),
        ("/reports/summary", "campaign", ["a", "b"]),
        ("/events", "type", ["item.created", "item.assigned"]),
    ],
)
def test_a_query_parameter_given_twice_is_400_naming_it(ledger, path, name, values):
    """Each takes one value (lists are comma-separated): the second was dropped silently,
    ``state=found&state=closed`` answering the closed items only."""
    r = ledger[0].api.get(path, params=[(name, v) for v in values])
    body = assert_problem(r, 400)
    assert body["errors"] == [{"field": name, "message": "given more than once"}]


def _b64(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor", ["garbage!", "####", _b64("x:5"), _b64("i:five"), _b64("i:"), "\u4e2d"]
)
def test_a_bad_cursor_is_400(ledger, cursor):
    assert_problem(ledger[0].api.get("/items", params={"cursor": cursor}), 400)


@pytest.mark.parametrize("limit", [1, 2, 3, 500])
def test_pages_return_every_item_once_newest_first(ledger, limit):
    world = ledger[0]
    everything = [i["id"] for i in listing(world)]
    assert everything == sorted(everything, reverse=True) and len(everything) >= 7
    seen, cursor = [], None
    while True:
        params = {"limit": limit, **({"cursor": cursor} if cursor else {})}
        body = world.api.get("/items", token=world.viewer, params=params).json()
        assert len(body["data"]) <= limit
        seen += [i["id"] for i in body["data"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
        assert len(body["data"]) == limit
    assert seen == everything


def test_cursors_combine_with_filters(ledger):
    world = ledger[0]
    first = world.api.get("/items", params={"source": "hotline", "limit": 1}).json()
    assert first["next_cursor"]
    second = world.api.get(
        "/items", params={"source": "hotline", "limit": 1, "cursor": first["next_cursor"]}
    ).json()
    assert second["next_cursor"] is None
    assert letters(ledger, first["data"] + second["data"]) == {"C", "G"}


def test_the_default_limit_is_50(shared_api, ledger):
    world = ledger[0]
    for n in range(50):
        shared_api.item(world.sup, title=f"批量{n}", campaign="bulk-50")
    body = world.api.get("/items", params={"campaign": "bulk-50"}).json()
    assert len(body["data"]) == 50 and body["next_cursor"] is None
    shared_api.item(world.sup, title="第51条", campaign="bulk-50")
    body = world.api.get("/items", params={"campaign": "bulk-50"}).json()
    assert len(body["data"]) == 50 and body["next_cursor"]
