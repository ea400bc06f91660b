"""Rectification (整改): the improvements a department owes after a complaint, tracked to done.

Writes: ``create_item``, ``submit_evidence``, ``verify_item`` (atomic, audited). The clock:
``escalate_overdue`` (Celery beat, every 15 minutes; idempotent) escalates an open item whose due
date has passed — level 1 the day after the due date (the owner and the department's heads are
told), level 2 after ``RECTIFICATION_ESCALATE_DAYS`` more days (the supervisors too). Each level is
claimed with a conditional UPDATE (``escalation_level < level``), so a second sweep, or two at once,
escalate nothing twice; notices have a unique key (recipient, item, level).

"Did it work?": ``later_scores(item)`` returns the department's survey scores on the item's topic
after the rectification. The surveys module provides them through the setting
``RECTIFICATION_SCORES_PROVIDER`` (dotted path of a function
``f(*, department_id: int, topic: str, since: datetime) -> list[TopicScore]``); until it is set the
hook returns an empty list and the page says that no survey data is connected yet.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from caredesk.core import audit

from .actions import department_head_ids, supervisor_ids
from .models import Complaint
from .models_extra import RectificationItem, RectificationNotice

log = logging.getLogger("caredesk.complaints")

St = RectificationItem.Status


def escalate_days() -> int:
    return int(getattr(settings, "RECTIFICATION_ESCALATE_DAYS", 7))


@transaction.atomic
def create_item(
    *,
    title: str,
    measures: str,
    department: Any,
    owner: Any,
    due_date: date,
    topic: str = "",
    complaint: Complaint | None = None,
    source_type: str = "",
    source_id: str = "",
    acting_user: Any,
) -> RectificationItem:
    """Open a rectification item, linked to a complaint or to another source (a survey answer)."""
    if not title.strip() or not measures.strip():
        raise ValidationError("请填写整改事项和整改措施。")
    item = RectificationItem.objects.create(
        complaint=complaint,
        source_type=source_type[:60] if not complaint else "complaints.complaint",
        source_id=str(source_id)[:64] if not complaint else str(complaint.pk),
        title=title.strip()[:120],
        topic=topic.strip()[:60],
        measures=measures.strip(),
        department=department,
        owner=owner,
        due_date=due_date,
        created_by=acting_user if getattr(acting_user, "pk", None) else None,
    )
    audit.record(
        actor=acting_user, verb="rectification.created", target=item, department_id=department.pk,
        owner_id=owner.pk, complaint_id=complaint.pk if complaint else None, due_date=due_date.isoformat(),
    )
    return item


def _locked(item: RectificationItem | int) -> RectificationItem:
    pk = item if isinstance(item, int) else item.pk
    return RectificationItem.objects.select_for_update().get(pk=pk)


@transaction.atomic
def submit_evidence(
    item: RectificationItem | int, *, text: str, upload: UploadedFile | None = None, acting_user: Any,
) -> RectificationItem:
    """The owner reports what was done (and attaches proof); the item waits for verification."""
    item = _locked(item)
    if item.status != St.OPEN:
        raise ValidationError("该整改事项已提交或已验证，不能再次提交。")
    if not text.strip():
        raise ValidationError("请说明整改做了什么。")
    item.evidence_text = text.strip()
    item.evidence_at = timezone.now()
    if upload is not None:
        item.evidence_name = (upload.name or "")[-200:]
        item.evidence_file.save(upload.name or "evidence", upload, save=False)
    item.status = St.SUBMITTED
    item.save()
    audit.record(actor=acting_user, verb="rectification.evidence_submitted", target=item, with_file=upload is not None)
    return item


@transaction.atomic
def verify_item(item: RectificationItem | int, *, result: str, note: str, acting_user: Any) -> RectificationItem:
    """A second person checks the evidence: effective closes the item; not effective sends it back
    to the owner (still with its due date, so an overdue item keeps escalating)."""
    item = _locked(item)
    if item.status != St.SUBMITTED:
        raise ValidationError("只有已提交整改材料的事项才能验证。")
    if result not in RectificationItem.Result.values:
        raise ValidationError("请选择验证结果。")
    if getattr(acting_user, "pk", None) == item.owner_id:
        raise ValidationError("整改责任人不能验证自己的整改。")
    item.result = result
    item.verification_note = note.strip()
    item.verified_by = acting_user
    item.verified_at = timezone.now()
    item.status = St.VERIFIED if result == RectificationItem.Result.EFFECTIVE else St.OPEN
    item.save()
    audit.record(actor=acting_user, verb="rectification.verified", target=item, verification=result)
    return item


def escalate_overdue(*, today: date | None = None, now: datetime | None = None) -> dict[str, int]:
    """Escalate open items past their due date. Returns counts per level. Safe to run any time."""
    today = today or timezone.localdate()
    now = now or timezone.now()
    counts = {"level1": 0, "level2": 0}
    supervisors = None
    for level, cutoff in ((1, today), (2, today - timedelta(days=escalate_days()))):
        candidates = list(
            RectificationItem.objects.filter(status=St.OPEN, due_date__lt=cutoff, escalation_level__lt=level)
            .values_list("pk", flat=True)[:5000]
        )
        for pk in candidates:
            with transaction.atomic():
                claimed = RectificationItem.objects.filter(
                    pk=pk, status=St.OPEN, escalation_level__lt=level,
                ).update(escalation_level=level, escalated_at=now)
                if not claimed:
                    continue  # escalated meanwhile by another sweep
                item = RectificationItem.objects.get(pk=pk)
                recipients = {item.owner_id, *department_head_ids(item.department_id)}
                if level >= 2:
                    if supervisors is None:
                        supervisors = supervisor_ids()
                    recipients |= set(supervisors)
                days = (today - item.due_date).days
                message = f"整改事项“{item.title[:60]}”已超过期限{days}天（期限{item.due_date:%Y-%m-%d}），请尽快完成。"
                RectificationNotice.objects.bulk_create(
                    [RectificationNotice(recipient_id=r, item=item, level=level, message=message) for r in sorted(recipients)],
                    ignore_conflicts=True,
                )
                audit.record(actor=None, verb="rectification.escalated", target=item, level=level,
                             days_overdue=days, recipients=len(recipients))
            counts[f"level{level}"] += 1
    if counts["level1"] or counts["level2"]:
        log.info("rectification sweep escalated %s item(s) to level 1 and %s to level 2", counts["level1"], counts["level2"])
    return counts


@dataclass(frozen=True)
class TopicScore:
    """A department's survey score on one topic in one period, e.g. 2026-11, 服务态度, 4.3 of 5."""

    period: str
    score: float
    scale: float
    responses: int


def later_scores(item: RectificationItem) -> list[TopicScore]:
    """Survey scores of the item's department on its topic after the rectification (see module
    docstring). Empty until the surveys module is connected or when the item has no topic."""
    provider = getattr(settings, "RECTIFICATION_SCORES_PROVIDER", "")
    if not provider or not item.topic:
        return []
    func = import_string(provider)
    since = item.evidence_at or timezone.make_aware(datetime.combine(item.due_date, datetime.min.time()))
    return list(func(department_id=item.department_id, topic=item.topic, since=since))
