"""A page on another loopback origin calls the API from headless Chromium: CORS lets
its script create an item, read ``Location`` and ``ETag``, and send ``If-Match``."""

from datetime import date, timedelta

import pytest

from app.main import create_app
from app.settings import get_settings
from tests.conftest import ADMIN_TOKEN
from tests.factories import Api
from tests.live import LiveServer

PAGE = """<!doctype html>
<meta charset="utf-8">
<title>整改前端</title>
<script>
async function run(api, token, due) {
  const auth = {"Authorization": "Bearer " + token};
  const json = {...auth, "Content-Type": "application/json"};
  const created = await fetch(api + "/api/v1/items", {
    method: "POST", headers: json,
    body: JSON.stringify({title: "浏览器里创建的问题", source: "hotline"}),
  });
  const location = created.headers.get("Location");
  const etag = created.headers.get("ETag");
  const item = await created.json();
  const transitions = api + "/api/v1/items/" + item.id + "/transitions";
  const assign = {action: "assign", unit_code: "court", due_date: due};
  const stale = await fetch(transitions, {
    method: "POST", headers: {...json, "If-Match": '"999"'}, body: JSON.stringify(assign),
  });
  const assigned = await fetch(transitions, {
    method: "POST", headers: {...json, "If-Match": etag}, body: JSON.stringify(assign),
  });
  const newEtag = assigned.headers.get("ETag");
  const again = await fetch(api + location, {headers: {...auth, "If-None-Match": newEtag}});
  return {
    created: created.status, location, etag, id: item.id,
    stale: stale.status, staleType: stale.headers.get("Content-Type"),
    assigned: assigned.status, state: (await assigned.json()).state, newEtag,
    again: again.status,
  };
}
</script>
"""


@pytest.fixture
def serve(engine, monkeypatch):
    """Start the API with ``RECTIFY_CORS_ORIGINS`` set to the given origins."""
    servers = []

    def start(origins: str) -> LiveServer:
        monkeypatch.setenv("RECTIFY_CORS_ORIGINS", origins)
        get_settings.cache_clear()
        servers.append(LiveServer(create_app(engine, migrate=False)).__enter__())
        return servers[-1]

    yield start
    for server in servers:
        server.__exit__(None, None, None)


FETCH_ME = """async ([url, token]) => {
  try {
    const r = await fetch(url + "/api/v1/me", {headers: {Authorization: "Bearer " + token}});
    return "read " + r.status;
  } catch (e) { return "blocked"; }
}"""


def test_a_page_on_another_origin_creates_and_transitions_an_item(
    serve, page_origin, browser_page, client
):
    served = serve(page_origin.url)
    api = Api(client, ADMIN_TOKEN)
    api.unit("court", "市中级人民法院")
    token = api.key("supervisor")
    url = page_origin.page("app.html", PAGE)
    assert url.split("/")[2] != served.url.split("/")[2]  # another origin

    browser_page.goto(url)
    due = (date.today() + timedelta(days=60)).isoformat()
    got = browser_page.evaluate(
        "([api, token, due]) => run(api, token, due)", [served.url, token, due]
    )

    assert got["created"] == 201
    assert got["location"] == f"/api/v1/items/{got['id']}"
    assert got["etag"] == '"1"'
    assert got["stale"] == 412 and got["staleType"].startswith("application/problem+json")
    assert got["assigned"] == 200 and got["state"] == "assigned"
    assert got["newEtag"] == '"2"'
    assert got["again"] == 304
    assert browser_page.evaluate(FETCH_ME, [served.url, token]) == "read 200"


def test_the_browser_blocks_a_page_on_an_unlisted_origin(serve, page_origin, browser_page, client):
    served = serve("https://rectify-app.example.gov")
    token = Api(client, ADMIN_TOKEN).key("viewer")
    browser_page.goto(page_origin.page("app.html", "<!doctype html><title>x</title>"))
    assert browser_page.evaluate(FETCH_ME, [served.url, token]) == "blocked"
