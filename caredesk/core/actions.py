"""Writes owned by the core app. Each is atomic and audited."""

from __future__ import annotations

from datetime import date
from typing import Any

from django.db import transaction

from . import audit, workcalendar
from .models import CalendarOverride


@transaction.atomic
def set_calendar_override(*, day: date, is_working_day: bool, reason: str, acting_user: Any) -> CalendarOverride:
    """Add (or replace) the hospital's own rule for one day; it wins over the statutory calendar."""
    override, created = CalendarOverride.objects.update_or_create(
        date=day, defaults={"is_working_day": is_working_day, "reason": reason},
    )
    audit.record(
        actor=acting_user, verb="calendar.override_set", target=override,
        day=day.isoformat(), is_working_day=is_working_day, created=created,
    )
    workcalendar.clear_cache()
    transaction.on_commit(workcalendar.clear_cache)
    return override


@transaction.atomic
def remove_calendar_override(override: CalendarOverride, *, acting_user: Any) -> None:
    audit.record(
        actor=acting_user, verb="calendar.override_removed", target=override,
        day=override.date.isoformat(), is_working_day=override.is_working_day,
    )
    override.delete()
    workcalendar.clear_cache()
    transaction.on_commit(workcalendar.clear_cache)
