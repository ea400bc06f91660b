"""Sending the outbox: claim due rows, deliver each through the transport, record the outcome.

Claiming is a conditional UPDATE (queued and due → sending, stamped with a fresh claim token), so
two workers never send the same row; on PostgreSQL the candidates are picked with
``SELECT … FOR UPDATE SKIP LOCKED`` so concurrent sweeps do not wait on each other. Every outcome
is written only if the row still carries our token. A worker killed mid-send leaves a "sending"
row; after ``MESSAGING_CLAIM_TIMEOUT_SECONDS`` it is put back in the queue, so nothing is lost.
The resend carries the same idempotency key as the gateway's client reference, so a gateway that
honours it does not deliver twice.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from caredesk.core.logging import redact

from .models import OutboxMessage
from .transports import PermanentError, TransientError, Transport, get_transport

log = logging.getLogger("caredesk.messaging")

Status = OutboxMessage.Status
MAX_BACKOFF = timedelta(hours=6)


def backoff(attempts: int) -> timedelta:
    """Wait before the next try after ``attempts`` failed tries: base, 2×base, 4×base … ≤ 6 h."""
    base = timedelta(seconds=settings.MESSAGING_BACKOFF_SECONDS)
    return min(base * (2 ** max(attempts - 1, 0)), MAX_BACKOFF)


def reclaim_stuck(now: datetime | None = None) -> int:
    """Put "sending" rows whose worker died back in the queue (or to dead after the last try)."""
    now = now or timezone.now()
    stale = now - timedelta(seconds=settings.MESSAGING_CLAIM_TIMEOUT_SECONDS)
    stuck = OutboxMessage.objects.filter(status=Status.SENDING, claimed_at__lt=stale)
    dead = stuck.filter(attempts__gte=settings.MESSAGING_MAX_ATTEMPTS).update(
        status=Status.DEAD, claim_token="", last_error="worker lost during the last attempt",
    )
    requeued = stuck.update(status=Status.QUEUED, claim_token="", next_attempt_at=now,
                            last_error="worker lost during an attempt; requeued")
    if dead or requeued:
        log.warning("outbox reclaimed %s stuck message(s), %s dead", requeued, dead)
    return requeued + dead


def claim(*, now: datetime | None = None, limit: int | None = None, ids: list[int] | None = None) -> tuple[str, list[int]]:
    """Claim up to ``limit`` due messages (or the given ids, when due). Returns (token, ids)."""
    now = now or timezone.now()
    limit = limit or settings.MESSAGING_BATCH_SIZE
    token = uuid.uuid4().hex
    due = OutboxMessage.objects.filter(status=Status.QUEUED, next_attempt_at__lte=now)
    if ids is not None:
        due = due.filter(pk__in=ids)
    with transaction.atomic():
        candidates = due.order_by("next_attempt_at", "pk")
        if connection.vendor == "postgresql":
            candidates = candidates.select_for_update(skip_locked=True)
        picked = list(candidates.values_list("pk", flat=True)[:limit])
        if picked:
            # The status/due condition is repeated: a row claimed meanwhile is not claimed again.
            due.filter(pk__in=picked).update(
                status=Status.SENDING, claim_token=token, claimed_at=now, attempts=F("attempts") + 1,
            )
    claimed = list(OutboxMessage.objects.filter(claim_token=token).values_list("pk", flat=True)) if picked else []
    return token, claimed


def deliver(pk: int, token: str, transport: Transport | None = None) -> str:
    """Send one claimed message and record the outcome. Returns the resulting status."""
    message = OutboxMessage.objects.filter(pk=pk, claim_token=token, status=Status.SENDING).first()
    if message is None:
        return "skipped"  # reclaimed by someone else meanwhile
    transport = transport or get_transport()
    mine = OutboxMessage.objects.filter(pk=pk, claim_token=token, status=Status.SENDING)
    now = timezone.now()
    try:
        provider_id = transport.send(message)
    except PermanentError as exc:
        mine.update(status=Status.FAILED, claim_token="", last_error=_error(exc))
        log.warning("outbox message %s failed permanently: %s", pk, _error(exc))
        return Status.FAILED
    except Exception as exc:
        if message.attempts >= settings.MESSAGING_MAX_ATTEMPTS:
            mine.update(status=Status.DEAD, claim_token="", last_error=_error(exc))
            log.error("outbox message %s dead after %s attempts: %s", pk, message.attempts, _error(exc))
            return Status.DEAD
        mine.update(status=Status.QUEUED, claim_token="", last_error=_error(exc),
                    next_attempt_at=now + backoff(message.attempts))
        level = logging.INFO if isinstance(exc, TransientError) else logging.WARNING
        log.log(level, "outbox message %s attempt %s failed, retrying: %s", pk, message.attempts, _error(exc))
        return Status.QUEUED
    mine.update(status=Status.SENT, claim_token="", sent_at=now, provider_message_id=provider_id[:100], last_error="")
    log.info("outbox message %s sent (attempt %s)", pk, message.attempts)
    return Status.SENT


def _error(exc: Exception) -> str:
    """An error text safe to store and log: class and message, numbers that look like phones or
    ID cards redacted (a gateway may echo the recipient)."""
    return redact(f"{type(exc).__name__}: {exc}")[:500]


def sweep(*, now: datetime | None = None, max_batches: int = 50) -> dict[str, int]:
    """Reclaim stuck rows, then claim and send due messages batch by batch."""
    counts: dict[str, int] = {"reclaimed": reclaim_stuck(now)}
    transport = get_transport()
    for _ in range(max_batches):
        token, ids = claim(now=now)
        if not ids:
            break
        for pk in ids:
            status = deliver(pk, token, transport)
            counts[status] = counts.get(status, 0) + 1
    return counts


def send_now(pk: int) -> str:
    """Send one message right away if it is due (the fast path after enqueue)."""
    token, ids = claim(ids=[pk], limit=1)
    return deliver(pk, token) if ids else "skipped"
