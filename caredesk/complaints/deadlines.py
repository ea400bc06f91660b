"""Working-time deadlines of a complaint, from the editable ``DeadlinePolicy`` table.

- "N working hours" counts business hours (``settings.WORK_HOURS``) on working days.
- "N working days" ends at the close of business (end of the last work window) on the N-th working
  day after the day the complaint was received; the day of receipt does not count.

Example (the 2026 National Day holiday, with the default policies): a complaint received on
Wednesday 30 September at 16:00, the last working day before the holiday, gets its first response
due on the 调休 Saturday 10 October at 16:00 (1.5 h on 30 Sep, 8 h on 8 and 9 Oct, 6.5 h on 10 Oct),
the written statement due on 10 October at 17:30 (8, 9, 10 Oct) and the answer due on Tuesday
13 October at 17:30 (8, 9, 10, 12, 13 Oct).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings

from caredesk.core import workcalendar

from .models import Category, DeadlineKind, DeadlinePolicy, DeadlineUnit


@dataclass(frozen=True)
class Rule:
    amount: int
    unit: str
    remind_before_minutes: int


# Used when the policy table has no matching row (the data migration writes the same values).
DEFAULTS: dict[str, Rule] = {
    DeadlineKind.FIRST_RESPONSE: Rule(24, DeadlineUnit.WORKING_HOURS, 240),
    DeadlineKind.STATEMENT: Rule(3, DeadlineUnit.WORKING_DAYS, 240),
    DeadlineKind.REPLY: Rule(5, DeadlineUnit.WORKING_DAYS, 240),
}
CATEGORY_DEFAULTS: dict[tuple[str, str], Rule] = {
    (Category.MEDICAL_QUALITY, DeadlineKind.STATEMENT): Rule(5, DeadlineUnit.WORKING_DAYS, 240),
}


def rule_for(kind: str, category: str, severity: str) -> Rule:
    """The most specific active policy: category+severity, then category, then severity, then any."""
    rows = {
        (p.category, p.severity): p
        for p in DeadlinePolicy.objects.filter(kind=kind, is_active=True, category__in=[category, ""], severity__in=[severity, ""])
    }
    for key in ((category, severity), (category, ""), ("", severity), ("", "")):
        p = rows.get(key)
        if p is not None:
            return Rule(p.amount, p.unit, p.remind_before_minutes)
    return CATEGORY_DEFAULTS.get((category, kind)) or DEFAULTS[kind]


def close_of_business(day: date) -> datetime:
    """The end of the last work window on ``day``, as an aware datetime in the work time zone."""
    end = workcalendar.work_schedule()[-1][1]
    return datetime.combine(day, end, tzinfo=ZoneInfo(getattr(settings, "WORK_TIMEZONE", "Asia/Shanghai")))


def compute_due(start: datetime, rule: Rule) -> datetime:
    if rule.unit == DeadlineUnit.WORKING_HOURS:
        return workcalendar.add_working_hours(start, rule.amount)
    local_day = start.astimezone(ZoneInfo(getattr(settings, "WORK_TIMEZONE", "Asia/Shanghai"))).date()
    return close_of_business(workcalendar.add_working_days(local_day, rule.amount))


def remind_at(due: datetime, rule: Rule) -> datetime:
    return due - timedelta(minutes=rule.remind_before_minutes)


def plan(start: datetime, category: str, severity: str, kinds: tuple[str, ...] | None = None) -> dict[str, tuple[datetime, datetime]]:
    """{kind: (due_at, remind_at)} for a case starting at ``start``."""
    out: dict[str, tuple[datetime, datetime]] = {}
    for kind in kinds or tuple(DeadlineKind.values):
        rule = rule_for(kind, category, severity)
        due = compute_due(start, rule)
        out[kind] = (due, remind_at(due, rule))
    return out
