"""Writes on the outbox. ``enqueue`` is what other modules call."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import IntegrityError, models, transaction
from django.utils import timezone

from caredesk.core import audit, pii
from caredesk.core.logging import redact

from .models import OutboxMessage

# Message texts by template code; modules register theirs (``register_template``) at import time.
# A template with no text here is still sent by gateways that hold the text themselves (SMS
# gateways keep approved templates and take only the template id and the parameters).
TEMPLATES: dict[str, str] = {}


def register_template(code: str, text: str) -> None:
    TEMPLATES[code] = text


def render_body(template: str, params: dict[str, Any]) -> str:
    text = TEMPLATES.get(template, "")
    try:
        return text.format(**params) if text else ""
    except (KeyError, IndexError, ValueError) as exc:
        raise ValueError(f"template {template!r} needs parameters it was not given") from exc


def _index_kind(channel: str) -> str:
    return "phone" if channel == OutboxMessage.Channel.SMS else channel


@transaction.atomic
def enqueue(
    channel: str,
    recipient: str,
    template: str,
    params: dict[str, Any] | None = None,
    *,
    idempotency_key: str,
    acting_user: Any = None,
    patient_id: int | None = None,
    related: models.Model | None = None,
    send_at: datetime | None = None,
) -> OutboxMessage:
    """Queue one message. The same ``idempotency_key`` twice returns the first row: a replayed
    import or a retried request never sends a second message. Call it inside the transaction of
    the change that causes the message; the sweep sends it after commit."""
    if channel not in OutboxMessage.Channel.values:
        raise ValueError(f"unknown channel {channel!r}")
    if not recipient.strip():
        raise ValueError("recipient is empty")
    if not idempotency_key:
        raise ValueError("idempotency_key is required")
    existing = OutboxMessage.objects.filter(idempotency_key=idempotency_key).first()
    if existing is not None:
        return existing
    params = dict(params or {})
    message = OutboxMessage(
        channel=channel,
        recipient=recipient.strip(),
        recipient_index=pii.blind_index(_index_kind(channel), recipient),
        template=template,
        params=params,
        body=render_body(template, params),
        idempotency_key=idempotency_key,
        next_attempt_at=send_at or timezone.now(),
        related_type=related._meta.label_lower if related is not None else "",
        related_id=str(related.pk) if related is not None else "",
        patient_id=patient_id if patient_id is not None else getattr(related, "patient_id", None),
    )
    try:
        with transaction.atomic():
            message.save(force_insert=True)
    except IntegrityError:
        # A concurrent enqueue with the same key won the race: theirs is the message.
        return OutboxMessage.objects.get(idempotency_key=idempotency_key)
    audit.record(
        actor=acting_user, verb="message.enqueued", target=message, patient_id=message.patient_id,
        channel=channel, template=template,
    )
    from .tasks import send_message

    transaction.on_commit(lambda: send_message.delay(message.pk))
    return message


@dataclass
class Outgoing:
    """One message for ``enqueue_many`` (the arguments of ``enqueue``)."""

    channel: str
    recipient: str
    template: str
    params: dict[str, Any]
    idempotency_key: str
    patient_id: int | None = None
    related: models.Model | None = None
    send_at: datetime | None = None


@transaction.atomic
def enqueue_many(messages: list[Outgoing], *, acting_user: Any = None) -> dict[str, OutboxMessage]:
    """``enqueue`` for a batch (survey invitations, reminders): one lookup of the keys, one bulk
    insert, one audit row listing the new message ids, and one sweep after commit instead of a task
    per message. Same idempotency: a key already queued returns its first row. Returns key → row."""
    for m in messages:
        if m.channel not in OutboxMessage.Channel.values:
            raise ValueError(f"unknown channel {m.channel!r}")
        if not m.recipient.strip() or not m.idempotency_key:
            raise ValueError("recipient and idempotency_key are required")
    keys = [m.idempotency_key for m in messages]
    existing = set(OutboxMessage.objects.filter(idempotency_key__in=keys).values_list("idempotency_key", flat=True))
    now = timezone.now()
    rows = [
        OutboxMessage(
            channel=m.channel, recipient=m.recipient.strip(), recipient_index=pii.blind_index(_index_kind(m.channel), m.recipient),
            template=m.template, params=dict(m.params), body=render_body(m.template, dict(m.params)),
            idempotency_key=m.idempotency_key, next_attempt_at=m.send_at or now,
            related_type=m.related._meta.label_lower if m.related is not None else "",
            related_id=str(m.related.pk) if m.related is not None else "",
            patient_id=m.patient_id if m.patient_id is not None else getattr(m.related, "patient_id", None),
        )
        for m in messages if m.idempotency_key not in existing
    ]
    OutboxMessage.objects.bulk_create(rows, ignore_conflicts=True, batch_size=500)
    by_key = {m.idempotency_key: m for m in OutboxMessage.objects.filter(idempotency_key__in=keys)}
    new_ids = sorted(by_key[r.idempotency_key].pk for r in rows if r.idempotency_key in by_key)
    if new_ids:
        audit.record(actor=acting_user, verb="message.enqueued_batch", object_type="messaging.outboxmessage",
                     count=len(new_ids), message_ids=new_ids)
        from .tasks import sweep_outbox

        transaction.on_commit(sweep_outbox.delay)
    return by_key


@transaction.atomic
def record_delivery(
    *, client_ref: str = "", provider_message_id: str = "", delivered: bool, at: datetime | None = None,
    error_code: str = "",
) -> OutboxMessage | None:
    """The gateway's delivery report for one message (found by our idempotency key, else by its
    message id). A report for an unknown message is ignored; a late report never reopens a row."""
    qs = OutboxMessage.objects.select_for_update()
    message = None
    if client_ref:
        message = qs.filter(idempotency_key=client_ref).first()
    if message is None and provider_message_id:
        message = qs.filter(provider_message_id=provider_message_id).first()
    if message is None or message.status not in (OutboxMessage.Status.SENT, OutboxMessage.Status.SENDING):
        return None
    if delivered:
        message.delivered_at = at or timezone.now()
        if message.status == OutboxMessage.Status.SENDING:  # the report beat our own bookkeeping
            message.status = OutboxMessage.Status.SENT
            message.claim_token = ""
    else:
        message.status = OutboxMessage.Status.FAILED
        message.claim_token = ""
        message.last_error = redact(f"not delivered: {error_code}")[:500]
    message.save(update_fields=["delivered_at", "status", "claim_token", "last_error"])
    audit.record(actor=None, verb="message.delivery_reported", target=message, patient_id=message.patient_id,
                 delivered=delivered, error_code=error_code[:50])
    return message
