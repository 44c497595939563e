"""``--demo`` says what it is doing while it loads: a line per stage and per quarter, and
the total time -- a few lines, not one per step."""

import logging
import re

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
    assert [p.split("%")[0] for p in percents] == ["demo: 25", "demo: 50", "demo: 75"], lines
    assert lines[-2].startswith("demo: wrote 36 items, ") and lines[-2].endswith(" history entries")
    assert lines[-1] == "demo: committing"
    assert len(lines) == 7
    assert re.search(r"\) in \d+\.\d s$", summary), summary
