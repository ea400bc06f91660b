"""Celery tasks: take ids, call the outbox, are safe to run twice."""

from __future__ import annotations

from celery import shared_task

from . import outbox


@shared_task(name="caredesk.messaging.tasks.send_message", ignore_result=True)
def send_message(message_id: int) -> str:
    return outbox.send_now(message_id)


@shared_task(name="caredesk.messaging.tasks.sweep_outbox", ignore_result=True)
def sweep_outbox() -> dict[str, int]:
    return outbox.sweep()
