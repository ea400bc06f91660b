"""The working calendar with the real 2026 statutory holidays and 调休 days from chinese_calendar."""

from datetime import date, datetime, time, timedelta
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from caredesk.core import workcalendar as wc
from caredesk.core.actions import remove_calendar_override, set_calendar_override
from caredesk.core.models import AuditEvent, CalendarOverride

SH = ZoneInfo("Asia/Shanghai")


@pytest.fixture(autouse=True)
def _fresh_cache():
    wc.clear_cache()
    wc._statutory.cache_clear()
    yield
    wc.clear_cache()
    wc._statutory.cache_clear()


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=SH)


# --- 2026 statutory days (as the package gives them) ---------------------------------------------

HOLIDAYS_2026 = [
    date(2026, 1, 1), date(2026, 1, 2), date(2026, 1, 3),            # New Year
    *[date(2026, 2, d) for d in range(15, 24)],                        # Spring Festival 15–23 Feb
    date(2026, 4, 6),                                                   # Qingming (Monday)
    *[date(2026, 5, d) for d in range(1, 6)],                          # Labour Day 1–5 May
    date(2026, 6, 19),                                                  # Dragon Boat (Friday)
    date(2026, 9, 25),                                                  # Mid-Autumn (Friday)
    *[date(2026, 10, d) for d in range(1, 8)],                         # National Day 1–7 Oct
]
ADJUSTED_WORKING_WEEKENDS_2026 = [
    date(2026, 1, 4),    # Sunday
    date(2026, 2, 14),   # Saturday
    date(2026, 2, 28),   # Saturday
    date(2026, 5, 9),    # Saturday
    date(2026, 9, 20),   # Sunday
    date(2026, 10, 10),  # Saturday
]


@pytest.mark.django_db
@pytest.mark.parametrize("day", HOLIDAYS_2026, ids=str)
def test_2026_statutory_holidays_are_not_working_days(day):
    assert not wc.is_working_day(day)


@pytest.mark.django_db
@pytest.mark.parametrize("day", ADJUSTED_WORKING_WEEKENDS_2026, ids=str)
def test_2026_adjusted_weekend_days_are_working_days(day):
    assert day.weekday() >= 5  # cross-check: each really is a Saturday or Sunday
    assert wc.is_working_day(day)


@pytest.mark.django_db
def test_ordinary_weekdays_and_weekends_follow_the_week():
    assert wc.is_working_day(date(2026, 11, 23))        # a Monday
    assert not wc.is_working_day(date(2026, 11, 22))    # a Sunday
    assert wc.is_working_day(date(2026, 10, 8))          # Thursday after National Day: back at work


@pytest.mark.django_db
def test_roll_forward_moves_a_holiday_due_date_to_the_next_working_day():
    assert wc.roll_forward(date(2026, 10, 1)) == date(2026, 10, 8)
    assert wc.roll_forward(date(2026, 2, 15)) == date(2026, 2, 24)  # after the Spring Festival
    assert wc.roll_forward(date(2026, 5, 1)) == date(2026, 5, 6)
    assert wc.roll_forward(date(2026, 11, 23)) == date(2026, 11, 23)  # a working day stays


@pytest.mark.django_db
def test_a_due_date_on_an_adjusted_saturday_stays_put():
    assert wc.roll_forward(date(2026, 10, 10)) == date(2026, 10, 10)


@pytest.mark.django_db
def test_next_working_day_counts_the_adjusted_sunday():
    # Sat 19 Sep is a weekend; Sun 20 Sep is an adjusted working day.
    assert wc.next_working_day(date(2026, 9, 18)) == date(2026, 9, 20)
    assert wc.next_working_day(date(2026, 9, 18), include_today=True) == date(2026, 9, 18)


@pytest.mark.django_db
def test_five_working_days_before_national_day_skip_the_holiday_and_count_the_adjusted_saturday():
    # Wed 30 Sep → Thu 8, Fri 9, Sat 10 (调休), Mon 12, Tue 13 Oct.
    assert wc.add_working_days(date(2026, 9, 30), 5) == date(2026, 10, 13)


@pytest.mark.django_db
def test_24_working_hours_from_16_00_on_the_last_day_before_national_day():
    # 1.5 h on 30 Sep, 8 h on 8 Oct, 8 h on 9 Oct, then 6.5 h on the adjusted Saturday 10 Oct.
    due = wc.add_working_hours(at(2026, 9, 30, 16, 0), 24)
    assert due == at(2026, 10, 10, 16, 0)
    assert wc.working_hours_between(at(2026, 9, 30, 16, 0), due) == pytest.approx(24)


@pytest.mark.django_db
def test_working_hours_skip_lunch_and_count_from_the_next_working_moment():
    assert wc.add_working_hours(at(2026, 11, 23, 11, 0), 2) == at(2026, 11, 23, 14, 30)
    assert wc.add_working_hours(at(2026, 11, 23, 12, 30), 1) == at(2026, 11, 23, 14, 30)
    assert wc.add_working_hours(at(2026, 11, 21, 10, 0), 1) == at(2026, 11, 23, 9, 0)  # Saturday → Monday
    assert wc.add_working_hours(at(2026, 11, 23, 8, 0), 4) == at(2026, 11, 23, 12, 0)


@pytest.mark.django_db
def test_working_hours_accept_utc_input_and_a_custom_schedule():
    start = datetime(2026, 11, 23, 0, 0, tzinfo=ZoneInfo("UTC"))  # 08:00 in Shanghai
    assert wc.add_working_hours(start, 1) == at(2026, 11, 23, 9, 0)
    assert wc.add_working_hours(at(2026, 11, 23, 8, 0), 10, schedule=[("00:00", "23:59")]) == at(2026, 11, 23, 18, 0)


@pytest.mark.django_db
def test_working_hours_refuse_naive_datetimes_and_negative_hours():
    with pytest.raises(ValueError):
        wc.add_working_hours(datetime(2026, 11, 23, 9), 1)  # noqa: DTZ001 - the point of the test
    with pytest.raises(ValueError):
        wc.add_working_hours(at(2026, 11, 23, 9), -1)


@pytest.mark.django_db
def test_working_hours_between_is_negative_backwards_and_zero_over_a_holiday():
    assert wc.working_hours_between(at(2026, 11, 23, 17, 0), at(2026, 11, 23, 9, 0)) == pytest.approx(-6.5)  # 9–12 and 13:30–17
    assert wc.working_hours_between(at(2026, 10, 1, 0, 0), at(2026, 10, 7, 23, 0)) == 0


# --- call windows ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_next_call_slot_waits_for_the_next_call_window():
    assert wc.next_call_slot(at(2026, 11, 23, 8, 0)) == at(2026, 11, 23, 9, 0)
    assert wc.next_call_slot(at(2026, 11, 23, 10, 15)) == at(2026, 11, 23, 10, 15)
    assert wc.next_call_slot(at(2026, 11, 23, 12, 0)) == at(2026, 11, 23, 14, 30)
    assert wc.next_call_slot(at(2026, 9, 30, 18, 0)) == at(2026, 10, 8, 9, 0)


@pytest.mark.django_db
def test_next_call_slot_respects_the_patients_preferred_window():
    assert wc.next_call_slot(at(2026, 11, 23, 9, 0), preferred=("15:00", "16:00")) == at(2026, 11, 23, 15, 0)
    assert wc.next_call_slot(at(2026, 11, 23, 15, 30), preferred=("10:00", "11:00")) == at(2026, 11, 24, 10, 0)
    # An evening preference outside every call window is honoured on its own.
    assert wc.next_call_slot(at(2026, 11, 23, 9, 0), preferred=("18:30", "20:00")) == at(2026, 11, 23, 18, 30)


def test_windows_must_start_before_they_end_and_not_overlap():
    with pytest.raises(ValueError):
        wc.parse_windows([("12:00", "08:00")])
    with pytest.raises(ValueError):
        wc.parse_windows([("08:00", "12:00"), ("11:00", "13:00")])


# --- overrides ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_hospital_closure_and_extra_working_day_win_over_the_statutory_calendar(admin_user):
    set_calendar_override(day=date(2026, 11, 23), is_working_day=False, reason="院内停电检修", acting_user=admin_user)
    set_calendar_override(day=date(2026, 10, 3), is_working_day=True, reason="国庆门诊值班", acting_user=admin_user)
    assert not wc.is_working_day(date(2026, 11, 23))
    assert wc.is_working_day(date(2026, 10, 3))
    assert wc.roll_forward(date(2026, 11, 23)) == date(2026, 11, 24)
    assert AuditEvent.objects.filter(verb="calendar.override_set").count() == 2


@pytest.mark.django_db
def test_removing_an_override_takes_effect_at_once(admin_user):
    o = set_calendar_override(day=date(2026, 11, 23), is_working_day=False, reason="停诊", acting_user=admin_user)
    assert not wc.is_working_day(date(2026, 11, 23))
    remove_calendar_override(o, acting_user=admin_user)
    assert wc.is_working_day(date(2026, 11, 23))
    assert AuditEvent.objects.filter(verb="calendar.override_removed").exists()


@pytest.mark.django_db
def test_the_override_table_is_read_once_per_process_while_cached(django_assert_num_queries):
    wc.is_working_day(date(2026, 11, 23))
    with django_assert_num_queries(0):
        for n in range(200):
            wc.is_working_day(date(2026, 1, 1) + timedelta(days=n))


@pytest.mark.django_db
def test_the_cache_expires_so_other_processes_changes_are_seen(settings):
    settings.CALENDAR_CACHE_SECONDS = 0
    assert wc.is_working_day(date(2026, 11, 23))
    CalendarOverride.objects.create(date=date(2026, 11, 23), is_working_day=False, reason="另一进程写入")
    assert not wc.is_working_day(date(2026, 11, 23))


# --- unknown years ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_year_the_package_does_not_know_falls_back_to_weekends_plus_overrides(admin_user):
    def unknown(d):
        raise NotImplementedError("no available data for year")

    with mock.patch("chinese_calendar.is_workday", side_effect=unknown):
        assert wc.unknown_years([2026]) == [2026]
        assert not wc.is_working_day(date(2026, 10, 10))  # a Saturday: the 调休 is unknown
        assert wc.is_working_day(date(2026, 10, 1))        # a Thursday: the holiday is unknown
        set_calendar_override(day=date(2026, 10, 1), is_working_day=False, reason="国庆", acting_user=admin_user)
        assert not wc.is_working_day(date(2026, 10, 1))


@pytest.mark.django_db
def test_unknown_years_reports_a_real_year_beyond_the_package():
    assert wc.unknown_years([2026]) == []
    assert wc.unknown_years([2026, 2199]) == [2199]


# --- properties -------------------------------------------------------------------------------------

days = st.dates(min_value=date(2025, 1, 1), max_value=date(2026, 12, 31))
starts = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2026, 12, 1), timezones=st.just(SH))  # noqa: DTZ001
minutes = st.integers(min_value=1, max_value=60 * 40)


@pytest.mark.django_db
@hsettings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(d=days, n=st.integers(min_value=0, max_value=30))
def test_add_working_days_always_lands_on_a_working_day_after_the_start(d, n):
    result = wc.add_working_days(d, n)
    assert wc.is_working_day(result)
    assert result >= d if n == 0 else result > d


@pytest.mark.django_db
@hsettings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(s=starts, a=minutes, b=minutes)
def test_add_working_hours_is_monotonic_and_additive(s, a, b):
    one = wc.add_working_hours(s, a / 60)
    both = wc.add_working_hours(s, (a + b) / 60)
    assert s <= one < both
    assert wc.add_working_hours(one, b / 60) == both
    assert wc.working_hours_between(s, both) == pytest.approx((a + b) / 60, abs=1e-6)
    local = one.astimezone(SH)
    assert wc.is_working_day(local.date()) and time(8, 0) < local.time() <= time(17, 30)


@pytest.mark.django_db
def test_an_aware_datetime_is_judged_by_its_shanghai_date():
    # 23:30 UTC on Wed 30 Sep is 07:30 on Thu 1 Oct in Shanghai: National Day.
    assert not wc.is_working_day(datetime(2026, 9, 30, 23, 30, tzinfo=ZoneInfo("UTC")))
