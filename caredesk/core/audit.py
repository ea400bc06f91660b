"""The one way to write the audit trail: ``audit.record(...)``.

Call it inside the transaction of the change it records (actions are ``@transaction.atomic``), so
the change and its audit row commit or roll back together.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from django.db import connection, models, transaction
from django.utils import timezone

from .models import AuditEvent
from .request_context import current_request_meta
from .sqlinsert import insert

# Any constant would do; it anchors the chain so the first row's hash is not a plain digest.
GENESIS_HASH = "0" * 64
_CHAIN_LOCK_KEY = 0x43415245  # "CARE": PostgreSQL advisory lock serialising the chain


def _canonical(event: AuditEvent) -> str:
    payload = {
        "at": event.at.isoformat(),
        "actor": event.actor_id,
        "actor_label": event.actor_label,
        "verb": event.verb,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "patient_id": event.patient_id,
        "result": event.result,
        "ip": event.ip,
        "purpose": event.purpose,
        "details": event.details,
    }
    return json.dumps(payload, sort_keys=True, ensure_ascii=False, default=str, separators=(",", ":"))


def compute_hash(event: AuditEvent, prev_hash: str) -> str:
    return hashlib.sha256((prev_hash + "|" + _canonical(event)).encode()).hexdigest()


def record(
    *,
    actor: Any,
    verb: str,
    target: models.Model | None = None,
    object_type: str = "",
    object_id: str | int = "",
    patient_id: int | None = None,
    result: str = AuditEvent.Result.OK,
    purpose: str = "",
    ip: str | None = None,
    actor_label: str = "",
    **details: Any,
) -> AuditEvent:
    """Append one audit event, chained to the previous one.

    ``target`` fills object type and id; ``patient_id`` is taken from ``target.patient_id`` (or the
    target itself when it is a patient) unless given. Extra keyword arguments go to ``details``;
    never pass names, phone or ID numbers there.
    """
    if target is not None:
        object_type = object_type or target._meta.label_lower
        object_id = object_id or str(target.pk)
        if patient_id is None:
            is_patient = target._meta.label_lower == "patients.patient"
            patient_id = target.pk if is_patient else getattr(target, "patient_id", None)
    meta = current_request_meta()
    if ip is None:
        ip = meta.get("ip")
    user = actor if getattr(actor, "pk", None) else None
    # No savepoint of its own: inside the caller's transaction the row commits or rolls back with
    # the change it records; called outside one, this opens a transaction.
    with transaction.atomic(savepoint=False):
        if connection.vendor == "postgresql":
            with connection.cursor() as cur:
                cur.execute("SELECT pg_advisory_xact_lock(%s)", [_CHAIN_LOCK_KEY])
        # The chain's tail in plain SQL: this runs for every audited change, and the ORM's query
        # building costs several times the indexed lookup itself.
        with connection.cursor() as cur:
            cur.execute(f"SELECT row_hash FROM {connection.ops.quote_name(AuditEvent._meta.db_table)} "  # noqa: S608
                        "ORDER BY id DESC LIMIT 1")
            tail = cur.fetchone()
        last = tail[0] if tail else None
        prev = last or GENESIS_HASH
        event = AuditEvent(
            at=timezone.now(),
            actor=user,
            actor_label=actor_label or (getattr(user, "username", "") if user else "system"),
            verb=verb,
            object_type=object_type,
            object_id=str(object_id),
            patient_id=patient_id,
            result=result,
            ip=ip,
            purpose=purpose,
            details=json.loads(json.dumps(details, default=str)) if details else {},
            prev_hash=prev,
        )
        if meta.get("request_id"):
            event.details.setdefault("request_id", meta["request_id"])
        event.row_hash = compute_hash(event, prev)
        insert(event)  # plain SQL: a new row, as save(force_insert=True) writes it, at a tenth of the cost
    return event


def verify_chain(batch_size: int = 5000) -> tuple[int, AuditEvent | None, str]:
    """Walk the chain in id order. Returns (rows checked, first broken row or None, reason)."""
    prev = GENESIS_HASH
    checked = 0
    qs = AuditEvent.objects.order_by("id")
    last_id = 0
    while True:
        batch = list(qs.filter(id__gt=last_id)[:batch_size])
        if not batch:
            return checked, None, ""
        for event in batch:
            if event.prev_hash != prev:
                return checked, event, "prev_hash does not match the previous row (a row was removed or reordered)"
            if compute_hash(event, prev) != event.row_hash:
                return checked, event, "row content does not match its hash (the row was changed)"
            prev = event.row_hash
            checked += 1
            last_id = event.id
