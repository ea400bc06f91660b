"""The hospital's working calendar: which days are working days, and working time on them.

Rules, in order of precedence:

1. The hospital's own table (``CalendarOverride``) wins: an extra closure or an extra working day.
2. ``chinese_calendar`` gives the statutory holidays and the weekend days that are official working
   days (调休), for the years it knows (it is updated each November for the next year).
3. A year the package does not know falls back to "Monday–Friday are working days"; the admin page
   warns until the package (or the hospital's table) fills that year in (``unknown_years``).

Working time is measured on a business-day schedule (``settings.WORK_HOURS``, default 08:00–12:00
and 13:30–17:30) in ``settings.WORK_TIMEZONE`` (default Asia/Shanghai), only on working days.
Calls are placed inside ``settings.CALL_WINDOWS`` (default 09:00–11:30 and 14:30–17:30).

The override table is small; it is read once and kept per process for
``settings.CALENDAR_CACHE_SECONDS`` (default 60). Changes made through the actions clear this
process's copy at once; other processes see them within the cache lifetime.
"""

from __future__ import annotations

import threading
import time as _time
from collections.abc import Iterable, Sequence
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from itertools import pairwise
from zoneinfo import ZoneInfo

import chinese_calendar
from django.conf import settings

Window = tuple[time, time]

# A bound on every day-by-day search: far more than any run of non-working days.
_MAX_SCAN_DAYS = 366

_lock = threading.Lock()
_cache: dict[str, object] = {"at": None, "overrides": None}


# --- overrides cache -------------------------------------------------------------------------------


def clear_cache() -> None:
    """Forget the cached override table (called after every change to it)."""
    with _lock:
        _cache["at"] = None
        _cache["overrides"] = None


def _overrides() -> dict[date, bool]:
    ttl = float(getattr(settings, "CALENDAR_CACHE_SECONDS", 60))
    now = _time.monotonic()
    with _lock:
        at = _cache["at"]
        cached = _cache["overrides"]
        if cached is not None and isinstance(at, float) and now - at < ttl:
            return cached  # type: ignore[return-value]
    from .models import CalendarOverride

    table = dict(CalendarOverride.objects.values_list("date", "is_working_day"))
    with _lock:
        _cache["at"] = now
        _cache["overrides"] = table
    return table


# --- days ------------------------------------------------------------------------------------------


@lru_cache(maxsize=4096)
def _statutory(d: date) -> bool | None:
    """True/False from chinese_calendar, or None when the package does not know the year."""
    try:
        return bool(chinese_calendar.is_workday(d))
    except NotImplementedError:
        return None


def year_is_known(year: int) -> bool:
    return _statutory(date(year, 1, 1)) is not None


def unknown_years(years: Iterable[int] | None = None) -> list[int]:
    """The years (default: this year and next) for which the statutory calendar is missing, so
    only weekends and the hospital's own table are used."""
    if years is None:
        this = datetime.now(_tz()).year
        years = (this, this + 1)
    return sorted({y for y in years if not year_is_known(y)})


def is_working_day(d: date) -> bool:
    if isinstance(d, datetime):
        d = d.astimezone(_tz()).date() if d.tzinfo else d.date()
    override = _overrides().get(d)
    if override is not None:
        return override
    statutory = _statutory(d)
    if statutory is None:
        return d.weekday() < 5
    return statutory


def next_working_day(d: date, include_today: bool = False) -> date:
    """The first working day after ``d`` (or ``d`` itself when it is one and include_today)."""
    day = d if include_today else d + timedelta(days=1)
    for _ in range(_MAX_SCAN_DAYS):
        if is_working_day(day):
            return day
        day += timedelta(days=1)
    raise ValueError(f"no working day within {_MAX_SCAN_DAYS} days of {d.isoformat()}")


def roll_forward(d: date) -> date:
    """A due date on a weekend or holiday moves to the next working day; a working day stays."""
    return next_working_day(d, include_today=True)


def add_working_days(d: date, n: int) -> date:
    """The n-th working day after ``d`` (``d`` itself does not count). n=0 rolls ``d`` forward."""
    if n < 0:
        raise ValueError("n must not be negative")
    if n == 0:
        return roll_forward(d)
    day = d
    for _ in range(n):
        day = next_working_day(day)
    return day


# --- working time ----------------------------------------------------------------------------------


def _tz() -> ZoneInfo:
    return ZoneInfo(getattr(settings, "WORK_TIMEZONE", "Asia/Shanghai"))


def parse_windows(raw: Sequence[Sequence[str] | Sequence[time]]) -> list[Window]:
    """[("08:00", "12:00"), …] → sorted, validated (start < end, no overlap) time windows."""
    windows: list[Window] = []
    for start, end in raw:
        s = start if isinstance(start, time) else time.fromisoformat(str(start))
        e = end if isinstance(end, time) else time.fromisoformat(str(end))
        if not s < e:
            raise ValueError(f"window {s}–{e} must start before it ends")
        windows.append((s, e))
    windows.sort()
    for (_, e1), (s2, _) in pairwise(windows):
        if s2 < e1:
            raise ValueError("windows must not overlap")
    return windows


def work_schedule() -> list[Window]:
    return parse_windows(getattr(settings, "WORK_HOURS", [("08:00", "12:00"), ("13:30", "17:30")]))


def call_windows() -> list[Window]:
    return parse_windows(getattr(settings, "CALL_WINDOWS", [("09:00", "11:30"), ("14:30", "17:30")]))


def _require_aware(dt: datetime) -> datetime:
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise ValueError("an aware datetime is required")
    return dt.astimezone(_tz())


def _intervals_from(start: datetime, schedule: list[Window]) -> Iterable[tuple[datetime, datetime]]:
    """Working intervals (local, aware) from ``start`` onwards, the first one clipped to start."""
    tz = _tz()
    day = start.date()
    for _ in range(_MAX_SCAN_DAYS * 3):
        if is_working_day(day):
            for s, e in schedule:
                a = datetime.combine(day, s, tzinfo=tz)
                b = datetime.combine(day, e, tzinfo=tz)
                a = max(a, start)
                if a < b:
                    yield a, b
        day += timedelta(days=1)


def add_working_hours(start: datetime, hours: float, *, schedule: Sequence[Sequence[str] | Sequence[time]] | None = None) -> datetime:
    """The moment ``hours`` of working time after ``start``.

    E.g. "first response within 24 working hours" for a complaint received at 16:00 on the last
    working day before National Day 2026 (Wed 30 Sep) falls on the 调休 Saturday 10 Oct at 16:00.
    A start outside working time counts from the next working moment; a result that lands exactly
    on the end of a window is that end (12:00, not 13:30).
    """
    if hours < 0:
        raise ValueError("hours must not be negative")
    windows = parse_windows(schedule) if schedule is not None else work_schedule()
    local = _require_aware(start)
    remaining = timedelta(hours=hours)
    for a, b in _intervals_from(local, windows):
        if remaining <= b - a:
            return a + remaining
        remaining -= b - a
    raise ValueError("no working time found")  # pragma: no cover - only with an all-closed calendar


def working_hours_between(a: datetime, b: datetime, *, schedule: Sequence[Sequence[str] | Sequence[time]] | None = None) -> float:
    """Working hours from ``a`` to ``b`` (negative when b is before a)."""
    if b < a:
        return -working_hours_between(b, a, schedule=schedule)
    windows = parse_windows(schedule) if schedule is not None else work_schedule()
    start, end = _require_aware(a), _require_aware(b)
    total = timedelta()
    for s, e in _intervals_from(start, windows):
        if s >= end:
            break
        total += min(e, end) - s
    return total.total_seconds() / 3600


def _intersect(windows: list[Window], preferred: Window) -> list[Window]:
    out = []
    for s, e in windows:
        lo, hi = max(s, preferred[0]), min(e, preferred[1])
        if lo < hi:
            out.append((lo, hi))
    return out


def next_call_slot(at: datetime, preferred: Sequence[str] | Sequence[time] | None = None) -> datetime:
    """The earliest moment at or after ``at``, on a working day, inside a call window.

    ``preferred`` is the patient's preferred time window, e.g. ("14:00", "16:00"): the slot then
    lies in both. When the patient's window does not meet any call window (say an evening
    preference), the patient's window is used on its own — the patient's wish comes first.
    """
    windows = call_windows()
    if preferred is not None:
        pref = parse_windows([preferred])[0]
        windows = _intersect(windows, pref) or [pref]
    for a, _b in _intervals_from(_require_aware(at), windows):
        return a
    raise ValueError("no call slot found")  # pragma: no cover
