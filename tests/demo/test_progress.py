"""``--demo`` says what it is doing while it loads: a line per stage and per tenth."""

import logging

import pytest

from app.demo import load_demo
from tests.ledger.conftest import CLOCK

sqlite = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


@sqlite
def test_the_demo_logs_its_progress(api, engine, caplog):
    api.set_clock(CLOCK)
    with caplog.at_level(logging.INFO, logger="rectify.demo"):
        summary = load_demo(engine, scale=0.03)
    lines = [r.getMessage() for r in caplog.records if r.name == "rectify.demo"]
    assert summary.startswith("demo: loaded 87 units")
    assert lines[0] == "demo: creating the units"
    assert lines[1].startswith("demo: 87 units; playing a year of ")
    percents = [line for line in lines if line.endswith(")") and "%" in line]
    assert len(percents) >= 5, lines
    assert lines[-1] == "demo: committing"
