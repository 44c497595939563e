import logging
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.deadlines import calendar as cal_mod
from app.deadlines.calendar import (
    WorkdayCalendar,
    deadline_end_utc,
    fallback_years,
    local_date,
    local_midnight_utc,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
CAL = WorkdayCalendar()

# 国务院办公厅关于2026年部分节假日安排的通知 (State Council General Office, 2025-11-04):
# 中秋节 9月25日(周五)至27日(周日)放假; 国庆节 10月1日(周四)至7日(周三)放假调休,
# 9月20日(周日)、10月10日(周六)上班.
NATIONAL_DAY_2026 = {
    date(2026, 9, 20): True,
    date(2026, 9, 21): True,
    date(2026, 9, 22): True,
    date(2026, 9, 23): True,
    date(2026, 9, 24): True,
    date(2026, 9, 25): False,
    date(2026, 9, 26): False,
    date(2026, 9, 27): False,
    date(2026, 9, 28): True,
    date(2026, 9, 29): True,
    date(2026, 9, 30): True,
    date(2026, 10, 1): False,
    date(2026, 10, 2): False,
    date(2026, 10, 3): False,
    date(2026, 10, 4): False,
    date(2026, 10, 5): False,
    date(2026, 10, 6): False,
    date(2026, 10, 7): False,
    date(2026, 10, 8): True,
    date(2026, 10, 9): True,
    date(2026, 10, 10): True,
    date(2026, 10, 11): False,
}

# Same notice: 春节 2月15日(周日)至23日(周一)放假调休, 2月14日(周六)、2月28日(周六)上班.
SPRING_FESTIVAL_2026 = {
    date(2026, 2, 13): True,
    date(2026, 2, 14): True,
    **{date(2026, 2, day): False for day in range(15, 24)},
    date(2026, 2, 24): True,
    date(2026, 2, 28): True,
    date(2026, 3, 1): False,
}


@pytest.fixture
def fresh_fallback_state(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(cal_mod, "_FALLBACK_YEARS", set())
    cal_mod._statutory_is_workday.cache_clear()
    yield
    cal_mod._statutory_is_workday.cache_clear()


@pytest.mark.parametrize(("day", "expected"), sorted(NATIONAL_DAY_2026.items()))
def test_national_day_2026(day: date, expected: bool) -> None:
    assert CAL.is_workday(day) is expected


@pytest.mark.parametrize(("day", "expected"), sorted(SPRING_FESTIVAL_2026.items()))
def test_spring_festival_2026(day: date, expected: bool) -> None:
    assert CAL.is_workday(day) is expected


def test_national_day_arithmetic() -> None:
    assert CAL.add_workdays(date(2026, 9, 30), 3) == date(2026, 10, 10)
    assert CAL.add_workdays(date(2026, 9, 30), 4) == date(2026, 10, 12)
    assert CAL.add_workdays(date(2026, 10, 1), 1) == date(2026, 10, 8)
    assert CAL.add_workdays(date(2026, 9, 19), 1) == date(2026, 9, 20)


def test_spring_festival_arithmetic() -> None:
    assert CAL.add_workdays(date(2026, 2, 13), 1) == date(2026, 2, 14)
    assert CAL.add_workdays(date(2026, 2, 13), 2) == date(2026, 2, 24)
    assert CAL.add_workdays(date(2026, 2, 27), 1) == date(2026, 2, 28)
    assert CAL.add_workdays(date(2026, 2, 24), -1) == date(2026, 2, 14)
    assert CAL.add_workdays(date(2026, 2, 24), -2) == date(2026, 2, 13)


def test_plain_week() -> None:
    friday = date(2026, 3, 6)
    assert CAL.add_workdays(friday, 1) == date(2026, 3, 9)
    assert CAL.add_workdays(friday, 5) == date(2026, 3, 13)
    assert CAL.add_workdays(date(2026, 3, 10), 3) == date(2026, 3, 13)
    assert CAL.add_workdays(date(2026, 3, 7), 1) == date(2026, 3, 9)


def test_negative_offsets() -> None:
    assert CAL.add_workdays(date(2026, 3, 9), -1) == date(2026, 3, 6)
    assert CAL.add_workdays(date(2026, 3, 31), -3) == date(2026, 3, 26)
    assert CAL.add_workdays(date(2026, 10, 9), -3) == date(2026, 9, 29)
    assert CAL.add_workdays(date(2026, 10, 8), -1) == date(2026, 9, 30)


def test_zero_offset_returns_same_day_even_if_not_workday() -> None:
    assert CAL.add_workdays(date(2026, 3, 8), 0) == date(2026, 3, 8)
    assert CAL.add_workdays(date(2026, 10, 1), 0) == date(2026, 10, 1)


def test_hotline_rule_w13() -> None:
    assert CAL.add_workdays(date(2026, 9, 18), 13) == date(2026, 10, 13)
    assert CAL.add_workdays(date(2026, 3, 2), 13) == date(2026, 3, 19)


def test_large_n() -> None:
    d = date(2026, 1, 5)
    far = CAL.add_workdays(d, 400)
    assert len(CAL.workdays_between(d + timedelta(days=1), far)) == 400
    assert CAL.add_workdays(far, -400) == d


def test_workdays_between() -> None:
    assert CAL.workdays_between(date(2026, 9, 30), date(2026, 10, 11)) == [
        date(2026, 9, 30),
        date(2026, 10, 8),
        date(2026, 10, 9),
        date(2026, 10, 10),
    ]
    assert CAL.workdays_between(date(2026, 3, 9), date(2026, 3, 9)) == [date(2026, 3, 9)]
    assert CAL.workdays_between(date(2026, 3, 8), date(2026, 3, 8)) == []
    assert CAL.workdays_between(date(2026, 3, 10), date(2026, 3, 9)) == []


def test_overrides_win() -> None:
    sunday, monday = date(2026, 3, 29), date(2026, 3, 30)
    cal = WorkdayCalendar({sunday: True, monday: False})
    assert cal.is_workday(sunday) and not cal.is_workday(monday)
    assert cal.add_workdays(date(2026, 3, 27), 1) == sunday
    assert cal.add_workdays(date(2026, 3, 27), 2) == date(2026, 3, 31)
    assert cal.workdays_between(date(2026, 3, 28), date(2026, 3, 31)) == [
        sunday,
        date(2026, 3, 31),
    ]
    assert not CAL.is_workday(sunday) and CAL.is_workday(monday)


def test_overrides_beat_statutory_holidays_and_makeup_days() -> None:
    cal = WorkdayCalendar({date(2026, 10, 1): True, date(2026, 10, 10): False})
    assert cal.add_workdays(date(2026, 9, 30), 1) == date(2026, 10, 1)
    assert cal.add_workdays(date(2026, 9, 30), 3) == date(2026, 10, 9)
    assert cal.add_workdays(date(2026, 10, 9), 1) == date(2026, 10, 12)


def test_fallback_year_2027(fresh_fallback_state: None, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="rectify.calendar"):
        assert CAL.is_workday(date(2027, 3, 1))
        assert not CAL.is_workday(date(2027, 3, 6))
        assert CAL.add_workdays(date(2027, 3, 5), 1) == date(2027, 3, 8)
        assert CAL.add_workdays(date(2027, 3, 8), -1) == date(2027, 3, 5)
        assert CAL.add_workdays(date(2026, 12, 31), 1) == date(2027, 1, 1)
        assert len(CAL.workdays_between(date(2027, 1, 1), date(2027, 12, 31))) == 261
        assert WorkdayCalendar().add_workdays(date(2027, 6, 4), 10) == date(2027, 6, 18)
    assert 2027 in fallback_years()
    warnings = [
        r
        for r in caplog.records
        if r.name == "rectify.calendar" and r.levelno == logging.WARNING and "2027" in r.message
    ]
    assert len(warnings) == 1


def test_overrides_apply_in_fallback_year(fresh_fallback_state: None) -> None:
    cal = WorkdayCalendar({date(2027, 1, 1): False})
    assert cal.add_workdays(date(2026, 12, 31), 1) == date(2027, 1, 4)


def test_fallback_years_returns_copy(fresh_fallback_state: None) -> None:
    CAL.is_workday(date(2150, 1, 1))
    years = fallback_years()
    years.add(1)
    assert 1 not in fallback_years()
    assert 2150 in fallback_years()
    assert 2026 not in fallback_years()


@pytest.mark.parametrize("year", [1900, 1999, 2003, 2031, 2100, 2200])
def test_never_raises_outside_package_data(fresh_fallback_state: None, year: int) -> None:
    start = date(year, 1, 1)
    assert CAL.workdays_between(start, date(year, 12, 31))
    assert CAL.add_workdays(start, 5) > start
    assert CAL.add_workdays(start, -5) < start
    assert year in fallback_years()


def test_deadline_end_and_local_midnight() -> None:
    assert deadline_end_utc(date(2026, 3, 31), SHANGHAI) == datetime(2026, 3, 31, 16, tzinfo=UTC)
    assert local_midnight_utc(date(2026, 3, 31), SHANGHAI) == datetime(2026, 3, 30, 16, tzinfo=UTC)
    assert deadline_end_utc(date(2026, 3, 31), SHANGHAI).utcoffset() == timedelta(0)


def test_local_midnight_in_dst_gap() -> None:
    santiago = ZoneInfo("America/Santiago")
    start = local_midnight_utc(date(2022, 9, 11), santiago)
    assert start == datetime(2022, 9, 11, 4, tzinfo=UTC)
    assert local_date(start, santiago) == date(2022, 9, 11)
    assert local_date(start - timedelta(microseconds=1), santiago) == date(2022, 9, 10)


def test_local_date() -> None:
    assert local_date(datetime(2026, 3, 31, 15, 59, 59, tzinfo=UTC), SHANGHAI) == date(2026, 3, 31)
    assert local_date(datetime(2026, 3, 31, 16, tzinfo=UTC), SHANGHAI) == date(2026, 4, 1)
    assert local_date(datetime(2026, 3, 31, 16), SHANGHAI) == date(2026, 4, 1)


@pytest.mark.parametrize(
    ("offset", "expected"),
    [
        (-3, datetime(2026, 3, 25, 16, tzinfo=UTC)),
        (0, datetime(2026, 3, 31, 16, tzinfo=UTC)),
        (5, datetime(2026, 4, 7, 16, tzinfo=UTC)),
        (10, datetime(2026, 4, 14, 16, tzinfo=UTC)),
    ],
)
def test_step_fires_at(offset: int, expected: datetime) -> None:
    fires = CAL.step_fires_at(date(2026, 3, 31), offset, SHANGHAI)
    assert fires == expected
    assert fires.tzinfo is not None and fires.utcoffset() == timedelta(0)


def test_step_fires_at_across_national_day() -> None:
    due = date(2026, 9, 30)
    assert CAL.step_fires_at(due, -3, SHANGHAI) == datetime(2026, 9, 23, 16, tzinfo=UTC)
    assert CAL.step_fires_at(due, 0, SHANGHAI) == datetime(2026, 9, 30, 16, tzinfo=UTC)
    assert CAL.step_fires_at(due, 5, SHANGHAI) == datetime(2026, 10, 12, 16, tzinfo=UTC)


@settings(deadline=None, max_examples=200)
@given(
    d=st.dates(min_value=date(2004, 1, 1), max_value=date(2030, 12, 31)),
    n=st.integers(min_value=1, max_value=60),
)
def test_add_workdays_properties(d: date, n: int) -> None:
    result = CAL.add_workdays(d, n)
    assert result > d
    assert CAL.is_workday(result)
    assert len(CAL.workdays_between(d + timedelta(days=1), result)) == n
    back = CAL.add_workdays(result, -n)
    assert back <= d
    assert (back == d) is CAL.is_workday(d)
