"""Celery tasks of the complaints module: safe to run twice, state in the database."""

from __future__ import annotations

from celery import shared_task

from . import sweep


@shared_task(name="caredesk.complaints.tasks.sweep_deadlines", ignore_result=True)
def sweep_deadlines() -> dict[str, int]:
    return sweep.sweep()
