"""Prometheus metrics at /metrics."""


def test_metrics_count_requests_by_route_and_transitions_by_action(api):
    api.unit("court", "法院")
    iid = api.item()["id"]
    api.act(iid, "assign", unit_code="court")
    api.post("/admin/scheduler/tick", expect=200)
    text = api.client.get("/metrics").text
    assert 'route="/api/v1/items/{item_id}/transitions"' in text
    assert 'rectify_transitions_total{action="assign"}' in text
    assert "rectify_scan_duration_seconds_count" in text
    assert "rectify_outbox_pending_events" in text
