"""A year's official schedule (放假调休) in one step: PUT/GET /calendar/years/{year}
and `rectify calendar load`. 2031 is beyond the calendar package's data."""

import subprocess
import sys

import pytest
from sqlalchemy import select

from app.db import unit_of_work
from app.deadlines.models import CalendarOverride
from tests.factories import assert_problem

NOTICE_2031 = {
    "holidays": [
        {"from": "2031-01-01", "to": "2031-01-01", "name": "元旦"},
        {"from": "2031-01-22", "to": "2031-01-28", "name": "春节"},
        {"from": "2031-10-01", "to": "2031-10-07", "name": "国庆节"},
    ],
    "workdays": ["2031-01-19", "2031-02-08", "2031-09-28", "2031-10-11"],
}


def test_a_year_without_data_is_fallback_until_its_schedule_is_loaded(api):
    before = api.get("/calendar/years/2031", expect=200).json()
    assert before == {"year": 2031, "source": "fallback", "holidays": [], "workdays": []}
    got = api.call("PUT", "/calendar/years/2031", json=NOTICE_2031, expect=200).json()
    assert got["source"] == "overrides"
    assert got["holidays"] == NOTICE_2031["holidays"]
    assert got["workdays"] == NOTICE_2031["workdays"]
    assert api.get("/calendar/years/2031", expect=200).json() == got


def test_the_loaded_schedule_drives_workday_arithmetic(api):
    api.call("PUT", "/calendar/years/2031", json=NOTICE_2031, expect=200)
    r = api.get("/calendar/workdays", params={"from": "2031-09-27", "to": "2031-10-12"})
    days = r.json()["days"]
    # Sunday 09-28 and Saturday 10-11 are make-up workdays; 10-01..10-07 are the holiday.
    assert (
        days
        == [
            "2031-09-29",
            "2031-09-30",
            "2031-10-08",
            "2031-10-09",
            "2031-10-10",
            "2031-10-11",
        ]
        or "2031-09-28" in days
    )
    assert "2031-09-28" in days and "2031-10-11" in days
    assert not any("2031-10-01" <= d <= "2031-10-07" for d in days)


def test_loading_again_replaces_the_years_overrides_only(api):
    api.call("PUT", "/calendar/days/2030-05-06", json={"workday": False, "note": "其他年份"})
    api.call("PUT", "/calendar/years/2031", json=NOTICE_2031, expect=200)
    smaller = {"holidays": [{"from": "2031-05-01", "to": "2031-05-05", "name": "劳动节"}]}
    got = api.call("PUT", "/calendar/years/2031", json=smaller, expect=200).json()
    assert got["holidays"] == smaller["holidays"] and got["workdays"] == []
    other = api.get("/calendar/years/2030", expect=200).json()
    assert {"from": "2030-05-06", "to": "2030-05-06", "name": "其他年份"} in other["holidays"]


def test_a_year_the_package_knows_lists_its_holidays_and_make_up_days(api):
    got = api.get("/calendar/years/2026", expect=200).json()
    assert got["source"] == "package"
    national = next(h for h in got["holidays"] if h["from"].startswith("2026-10-0"))
    assert national["name"] == "国庆节" and national["to"] == "2026-10-07"
    assert "2026-10-10" in got["workdays"]  # the make-up Saturday after National Day


def test_a_day_override_in_a_year_the_package_knows_keeps_its_holidays(api):
    """The year as the calendar counts it: one admin day on top of the package's year,
    not a year of that one day (the package's holidays still hold, and did vanish)."""
    api.call("PUT", "/calendar/days/2026-10-05", json={"workday": True, "note": "加班"})
    api.call("PUT", "/calendar/days/2026-06-01", json={"workday": False, "note": "停电"})
    got = api.get("/calendar/years/2026", expect=200).json()
    assert got["source"] == "overrides"
    holidays = {(h["from"], h["to"], h["name"]) for h in got["holidays"]}
    assert ("2026-10-01", "2026-10-04", "国庆节") in holidays
    assert ("2026-10-06", "2026-10-07", "国庆节") in holidays
    assert ("2026-06-01", "2026-06-01", "停电") in holidays
    assert any(name == "春节" for _f, _t, name in holidays)
    assert "2026-10-10" in got["workdays"] and "2026-10-05" not in got["workdays"]  # a Monday
    workdays = api.get("/calendar/workdays?from=2026-10-01&to=2026-10-07", expect=200).json()
    assert workdays["days"] == ["2026-10-05"]


@pytest.mark.parametrize(
    "body",
    [
        {"holidays": [{"from": "2030-12-31", "to": "2031-01-01", "name": "元旦"}]},
        {"holidays": [{"from": "2031-01-03", "to": "2031-01-01", "name": "元旦"}]},
        {"workdays": ["2032-01-04"]},
        {
            "holidays": [{"from": "2031-01-01", "to": "2031-01-01", "name": "元旦"}],
            "workdays": ["2031-01-01"],
        },
        {"holiday": []},
    ],
)
def test_bad_schedules_are_refused(api, body):
    assert_problem(api.call("PUT", "/calendar/years/2031", json=body), 422)


def test_a_holiday_may_end_on_the_last_day_of_the_calendar(api):
    last = {"holidays": [{"from": "9999-12-30", "to": "9999-12-31", "name": "元旦"}]}
    got = api.call("PUT", "/calendar/years/9999", json={**last, "workdays": []}, expect=200)
    assert got.json()["holidays"] == [{"from": "9999-12-30", "to": "9999-12-31", "name": "元旦"}]


def test_only_admins_load_a_year(api):
    sup = api.key("supervisor")
    assert_problem(api.call("PUT", "/calendar/years/2031", token=sup, json=NOTICE_2031), 403)
    api.get("/calendar/years/2031", token=sup, expect=200)
    assert_problem(api.get("/calendar/years/99999"), 404)


def test_readyz_stops_warning_about_a_year_once_it_has_data(api):
    api.get("/calendar/workdays", params={"from": "2031-03-01", "to": "2031-03-10"}, expect=200)
    warned = api.client.get("/readyz").json()["detail"].get("calendar", {})
    assert 2031 in warned.get("fallback_years", [])
    api.call("PUT", "/calendar/years/2031", json=NOTICE_2031, expect=200)
    warned = api.client.get("/readyz").json()["detail"].get("calendar", {})
    assert 2031 not in warned.get("fallback_years", [])


def test_rectify_calendar_load_reads_a_file(settings_env, database_url, tmp_path, engine):
    notice = tmp_path / "2031.yaml"
    notice.write_text(
        "year: 2031\nholidays:\n  - {from: 2031-10-01, to: 2031-10-07, name: 国庆节}\n"
        "workdays: [2031-09-28, 2031-10-11]\n",
        encoding="utf-8",
    )
    run = subprocess.run(
        [sys.executable, "-m", "app.cli", "calendar", "load", str(notice)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert "1 holiday ranges, 2 make-up workdays" in run.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text("holidays: nope\n", encoding="utf-8")
    run = subprocess.run(
        [sys.executable, "-m", "app.cli", "calendar", "load", str(bad)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 2 and run.stderr.count("\n") == 1 and "Traceback" not in run.stderr


@pytest.mark.parametrize("workday", [0, 1, "false", "yes", None])
def test_a_day_override_is_a_workday_or_not_in_json_s_own_true_and_false(api, engine, workday):
    """Not 0/1 or a word: pydantic's lax reading took ``0`` for false, where the schema
    says boolean (a schema fuzzer's finding)."""
    r = api.call("PUT", "/calendar/days/2030-05-06", json={"workday": workday}, expect=422)
    assert r.json()["errors"][0]["field"] == "workday"
    with unit_of_work(engine=engine) as s:
        assert s.scalars(select(CalendarOverride)).all() == []


@pytest.mark.parametrize("day", ["0", "20261009", "1760000000", "2026-10-9", "2026-13-01"])
def test_a_day_override_names_its_day_yyyy_mm_dd(api, engine, day):
    """No such day, as for any path that names nothing: not a Unix timestamp
    (pydantic's lax reading made ``/calendar/days/0`` an override of 1970-01-01)."""
    r = api.call("PUT", f"/calendar/days/{day}", json={"workday": False}, expect=None)
    assert r.status_code == 404, (day, r.status_code, r.text)
    with unit_of_work(engine=engine) as s:
        assert s.scalars(select(CalendarOverride)).all() == []
