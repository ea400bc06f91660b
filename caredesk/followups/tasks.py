"""Celery tasks of the follow-up centre: the daily sweep and the morning assignment. Each is one
task for the whole day (batches inside), safe to run twice."""

from __future__ import annotations

from typing import Any

from celery import shared_task


@shared_task(name="caredesk.followups.tasks.daily_sweep", ignore_result=True)
def daily_sweep() -> dict[str, Any]:
    from .generate import sweep

    return sweep()


@shared_task(name="caredesk.followups.tasks.assign_today", ignore_result=True)
def assign_today() -> dict[str, int]:
    from .actions import assign_day

    return assign_day()
