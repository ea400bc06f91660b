"""The deadline sweep (Celery beat every minute, or ``manage.py complaints_sweep``).

1. Reminders: open, running deadlines whose ``remind_at`` has passed (and whose due time has not)
   get ``reminded_at`` and an in-app notice to the case owner and the department head(s).
2. Breaches: open, running deadlines whose ``due_at`` has passed get ``breached_at`` and
   ``escalated_at``; the case is flagged overdue, its timeline notes the breach, and the
   supervisors, the department head(s) and the owner get a notice.

All state lives in the database. Rows are claimed with conditional UPDATEs ("… and reminded_at is
null"), batch by batch, each batch in one transaction with its notices, events and audit row: a
worker killed mid-batch rolls the batch back and the next run picks it up; a second run (or two
sweeps at once) finds nothing left to claim, and the notices' unique key (recipient, deadline,
kind) makes a duplicate impossible anyway. The partial indexes on ``remind_at`` and ``due_at`` hold
only the rows still waiting, so a sweep with nothing to do costs two index probes.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from caredesk.accounts.models import Department
from caredesk.core import audit

from .models import Complaint, ComplaintDeadline, ComplaintEvent, ComplaintNotification, DeadlineKind

log = logging.getLogger("caredesk.complaints")

BATCH_SIZE = 2000
KIND_LABELS = dict(DeadlineKind.choices)


class Recipients:
    """Supervisors and department heads, read once per sweep."""

    def __init__(self) -> None:
        user_model = get_user_model()
        self.supervisors = set(
            user_model.objects.filter(is_active=True, groups__name="supervisor").values_list("pk", flat=True)
        )
        self.parent = dict(Department.objects.values_list("id", "parent_id"))
        heads: dict[int, set[int]] = {}
        for user_id, dept_id in user_model.objects.filter(is_active=True, groups__name="dept_head").values_list(
            "pk", "departments"
        ):
            if dept_id is not None:
                heads.setdefault(dept_id, set()).add(user_id)
        self.heads_of = heads
        self._cache: dict[int | None, set[int]] = {}

    def heads(self, department_id: int | None) -> set[int]:
        if department_id in self._cache:
            return self._cache[department_id]
        found: set[int] = set()
        cur, seen = department_id, set()
        while cur is not None and cur not in seen:
            seen.add(cur)
            found |= self.heads_of.get(cur, set())
            cur = self.parent.get(cur)
        self._cache[department_id] = found
        return found


def _running_open() -> Q:
    return Q(met_at__isnull=True, cancelled_at__isnull=True, paused_at__isnull=True)


def _claim(candidates: Any, stamp_fields: dict[str, Any], marker: str, now: datetime, batch_size: int) -> list[int]:
    """Pick a batch of candidate ids and stamp them with a conditional UPDATE; return the ids this
    run actually stamped (rows another sweep took meanwhile are not ours)."""
    qs = candidates.order_by("pk")
    if connection.vendor == "postgresql":
        qs = qs.select_for_update(skip_locked=True)
    ids = list(qs.values_list("pk", flat=True)[:batch_size])
    if not ids:
        return []
    candidates.filter(pk__in=ids).update(**stamp_fields)
    return list(ComplaintDeadline.objects.filter(pk__in=ids, **{marker: now}).values_list("pk", flat=True))


def _rows(ids: Iterable[int]) -> list[tuple[Any, ...]]:
    return list(
        ComplaintDeadline.objects.filter(pk__in=list(ids)).values_list(
            "pk", "complaint_id", "kind", "due_at", "complaint__case_no", "complaint__department_id", "complaint__owner_id",
        )
    )


def _remind_batch(now: datetime, recipients: Recipients, batch_size: int) -> tuple[int, int]:
    candidates = ComplaintDeadline.objects.filter(_running_open(), reminded_at__isnull=True, remind_at__lte=now, due_at__gt=now)
    with transaction.atomic():
        ids = _claim(candidates, {"reminded_at": now}, "reminded_at", now, batch_size)
        if not ids:
            return 0, 0
        notices = []
        for pk, complaint_id, kind, due_at, case_no, dept_id, owner_id in _rows(ids):
            to = recipients.heads(dept_id) | ({owner_id} if owner_id else set())
            local = timezone.localtime(due_at)
            text = f"{case_no} 的“{KIND_LABELS.get(kind, kind)}”将于 {local:%m-%d %H:%M} 到期，请及时处理。"
            notices += [
                ComplaintNotification(recipient_id=r, complaint_id=complaint_id, deadline_id=pk,
                                      kind=ComplaintNotification.Kind.REMINDER, message=text, created_at=now)
                for r in sorted(to)
            ]
        ComplaintNotification.objects.bulk_create(notices, ignore_conflicts=True, batch_size=1000)
        audit.record(actor=None, verb="complaints.deadlines_reminded", object_type="complaints.complaintdeadline",
                     count=len(ids), deadline_ids=ids[:2000], notices=len(notices))
    return len(ids), len(notices)


def _breach_batch(now: datetime, recipients: Recipients, batch_size: int) -> tuple[int, int]:
    candidates = ComplaintDeadline.objects.filter(_running_open(), breached_at__isnull=True, due_at__lte=now)
    stamp = {"breached_at": now, "escalated_at": now, "reminded_at": Coalesce(F("reminded_at"), now)}
    with transaction.atomic():
        ids = _claim(candidates, stamp, "breached_at", now, batch_size)
        if not ids:
            return 0, 0
        rows = _rows(ids)
        complaint_ids = sorted({r[1] for r in rows})
        Complaint.objects.filter(pk__in=complaint_ids).update(is_overdue=True)
        notices = []
        events = []
        for pk, complaint_id, kind, due_at, case_no, dept_id, owner_id in rows:
            to = recipients.supervisors | recipients.heads(dept_id) | ({owner_id} if owner_id else set())
            local = timezone.localtime(due_at)
            label = KIND_LABELS.get(kind, kind)
            text = f"{case_no} 的“{label}”已于 {local:%m-%d %H:%M} 超时，已升级至客服主管和科室负责人。"
            notices += [
                ComplaintNotification(recipient_id=r, complaint_id=complaint_id, deadline_id=pk,
                                      kind=ComplaintNotification.Kind.BREACH, message=text, created_at=now)
                for r in sorted(to)
            ]
            events.append(ComplaintEvent(
                complaint_id=complaint_id, verb="deadline_breached", actor_label="系统", at=now,
                note=f"“{label}”时限已过，已升级通知。", data={"deadline_id": pk, "kind": kind, "notified": sorted(to)},
            ))
        ComplaintNotification.objects.bulk_create(notices, ignore_conflicts=True, batch_size=1000)
        ComplaintEvent.objects.bulk_create(events, batch_size=1000)
        audit.record(actor=None, verb="complaints.deadlines_breached", object_type="complaints.complaintdeadline",
                     count=len(ids), deadline_ids=ids[:2000], complaint_ids=complaint_ids[:2000], notices=len(notices))
    return len(ids), len(notices)


def sweep(*, now: datetime | None = None, batch_size: int = BATCH_SIZE, max_batches: int = 1000) -> dict[str, int]:
    """One pass: reminders, then breaches. Returns what it did (all zero on a re-run)."""
    now = now or timezone.now()
    recipients = Recipients()
    counts = {"reminded": 0, "breached": 0, "notifications": 0}
    for _ in range(max_batches):
        n, notes = _remind_batch(now, recipients, batch_size)
        counts["reminded"] += n
        counts["notifications"] += notes
        if n < batch_size:
            break
    for _ in range(max_batches):
        n, notes = _breach_batch(now, recipients, batch_size)
        counts["breached"] += n
        counts["notifications"] += notes
        if n < batch_size:
            break
    if counts["reminded"] or counts["breached"]:
        log.info("complaints sweep: %s reminded, %s breached, %s notices", counts["reminded"], counts["breached"],
                 counts["notifications"])
    return counts
