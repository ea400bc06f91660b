"""Celery tasks for rectification (listed in CELERY_IMPORTS; state in the database, safe twice)."""

from __future__ import annotations

from celery import shared_task

from . import rectification


@shared_task(name="caredesk.complaints.tasks_extra.escalate_rectification", ignore_result=True)
def escalate_rectification() -> dict[str, int]:
    return rectification.escalate_overdue()
