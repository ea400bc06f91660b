"""Celery beat jobs of the surveys module (safe to run twice): invitations, feedback deadlines,
and the statistics (yesterday's final build at night, today's every 15 minutes)."""

from __future__ import annotations

import datetime as dt

from celery import shared_task
from django.utils import timezone

from . import actions, aggregates, distribution


@shared_task(name="caredesk.surveys.tasks.daily_invitations", ignore_result=True)
def daily_invitations() -> dict[str, int]:
    """Plan missing invitations, expire old links, send due invitations and reminders."""
    return distribution.daily()


@shared_task(name="caredesk.surveys.tasks.send_due_invitations", ignore_result=True)
def send_due_invitations() -> dict[str, int]:
    return distribution.send_due()


@shared_task(name="caredesk.surveys.tasks.mark_overdue_feedback", ignore_result=True)
def mark_overdue_feedback() -> int:
    return actions.mark_overdue()


@shared_task(name="caredesk.surveys.tasks.aggregate_yesterday")
def aggregate_yesterday() -> dict[str, int]:
    """Rebuild yesterday (late answers and late sentiment included) and today so far."""
    today = timezone.localdate()
    result = aggregates.rebuild_day(today - dt.timedelta(days=1))
    aggregates.rebuild_day(today)
    return result


@shared_task(name="caredesk.surveys.tasks.aggregate_today")
def aggregate_today() -> dict[str, int]:
    return aggregates.rebuild_day(timezone.localdate())
