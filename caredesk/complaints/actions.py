"""The complaint workflow: registration and one function per transition.

Every function runs in one transaction, re-reads the case under a row lock, checks the transition
table (``TRANSITIONS``) and the step's own preconditions, writes a ``ComplaintEvent`` and an audit
row. An illegal step raises ``TransitionError`` (a ``ValidationError``) with a Chinese message that
says what is wrong and what to do instead. Permission checks (who may do what) live in
``roles.can`` and are applied by the views and the API before calling these functions.

Audit details carry ids, codes and statuses only, never the complainant's name or phone.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction
from django.db.models import Min
from django.utils import timezone

from caredesk.accounts.models import Department, Doctor, User
from caredesk.core import audit, pii, workcalendar
from caredesk.core.indexes import hashed_lookup
from caredesk.messaging import actions as messaging

from . import deadlines as dl
from . import hooks
from .models import (
    OPEN_STATUSES,
    Attachment,
    CaseNumberSequence,
    Category,
    Channel,
    Complaint,
    ComplaintDeadline,
    ComplaintEvent,
    ComplaintNotification,
    DeadlineKind,
    DeadlinePolicy,
    DisputeRoute,
    Finding,
    Relation,
    ResolutionPlan,
    Severity,
    StatementRequest,
    Status,
    Subcategory,
)

S = Status

CASE_PREFIX = "TS"

messaging.register_template(
    "complaints.received",
    "您反映的问题已登记，编号{case_no}，我们将于{reply_date}前答复您。如需补充，请致电客服中心并告知编号。",
)
messaging.register_template(
    "complaints.extended",
    "您的投诉（编号{case_no}）因需进一步调查，答复时间延至{due_date}。原因：{reason}。给您带来不便，敬请谅解。",
)


class TransitionError(ValidationError):
    """An action that the case's state does not allow (or whose preconditions are not met)."""


# action → (statuses it may start from, status it leads to; None = unchanged)
TRANSITIONS: dict[str, tuple[frozenset[str], str | None]] = {
    "accept": (frozenset({S.REGISTERED}), S.ACCEPTED),
    "request_statement": (frozenset({S.ACCEPTED, S.VERIFYING}), S.VERIFYING),
    "record_statement": (frozenset({S.VERIFYING}), S.VERIFYING),
    "classify": (frozenset({S.ACCEPTED, S.VERIFYING}), S.VERIFYING),
    "propose_plan": (frozenset({S.VERIFYING, S.RESOLVING}), S.RESOLVING),
    "approve_plan": (frozenset({S.RESOLVING}), S.RESOLVING),
    "reject_plan": (frozenset({S.RESOLVING}), S.RESOLVING),
    "resolve": (frozenset({S.RESOLVING}), S.FEEDBACK),
    "give_feedback": (frozenset({S.FEEDBACK}), S.FEEDBACK),
    "archive": (frozenset({S.FEEDBACK}), S.ARCHIVED),
    "analyse": (frozenset({S.ARCHIVED}), S.ANALYSED),
    "reopen": (frozenset({S.FEEDBACK}), S.VERIFYING),
    "transfer": (frozenset({S.REGISTERED, S.ACCEPTED, S.VERIFYING, S.RESOLVING}), None),
    "merge": (frozenset(OPEN_STATUSES), S.MERGED),
    "pause": (frozenset(OPEN_STATUSES), None),
    "resume": (frozenset(OPEN_STATUSES), None),
    "extend_deadline": (frozenset(OPEN_STATUSES), None),
    "attach": (frozenset(OPEN_STATUSES), None),
}

ACTION_LABELS: dict[str, str] = {
    "register": "登记",
    "accept": "受理",
    "request_statement": "要求书面说明",
    "record_statement": "录入书面说明",
    "classify": "科室定性",
    "propose_plan": "提出处理方案",
    "approve_plan": "批准方案",
    "reject_plan": "驳回方案",
    "resolve": "处理完成",
    "give_feedback": "反馈投诉人",
    "archive": "归档",
    "analyse": "分析总结",
    "reopen": "重新处理",
    "transfer": "转办",
    "merge": "合并重复投诉",
    "pause": "暂停计时",
    "resume": "恢复计时",
    "extend_deadline": "延长时限",
    "attach": "上传附件",
    "deadline_breached": "超时升级",
}

# Steps that need the clock running (a paused case must be resumed first).
_NEEDS_RUNNING_CLOCK = frozenset({
    "accept", "request_statement", "record_statement", "classify", "propose_plan", "approve_plan",
    "reject_plan", "resolve", "give_feedback", "archive", "reopen", "pause",
})


def _status_label(code: str) -> str:
    return str(Status(code).label) if code in Status.values else code


def check_transition(complaint: Complaint, action: str) -> None:
    """Raise TransitionError when ``action`` is not allowed from the case's current status."""
    if action not in TRANSITIONS:
        raise TransitionError(f"未知的操作：{action}")
    allowed, _target = TRANSITIONS[action]
    label = ACTION_LABELS.get(action, action)
    if complaint.is_closed and action != "analyse":
        if complaint.status == S.MERGED:
            raise TransitionError(f"该投诉已合并到其他案件，不能再“{label}”。")
        raise TransitionError(f"案件已归档，档案不可再修改（不能“{label}”）。")
    if complaint.status not in allowed:
        steps = "、".join(_status_label(s) for s in Status.values if s in allowed)
        raise TransitionError(
            f"当前状态为“{_status_label(complaint.status)}”，不能“{label}”；此操作只适用于：{steps}。"
        )
    if complaint.is_paused and action in _NEEDS_RUNNING_CLOCK:
        raise TransitionError(f"案件正在暂停计时（等待投诉人），请先恢复计时再“{label}”。")


def _precondition_error(complaint: Complaint, action: str) -> str | None:
    """The step-specific reason an allowed transition cannot happen yet (None = it can)."""
    if action == "propose_plan" and not complaint.finding:
        return "请先完成科室定性，再提出处理方案。"
    if action in ("approve_plan", "reject_plan") and not complaint.plans.filter(state=ResolutionPlan.State.PROPOSED).exists():
        return "没有待审批的处理方案。"
    if action == "resolve":
        plans = list(complaint.plans.all())
        if not plans:
            return "请先提出处理方案。"
        if any(p.needs_approval and p.state != ResolutionPlan.State.APPROVED for p in plans if p.state != ResolutionPlan.State.REJECTED):
            return "退费或经济补偿方案须经审批后才能处理完成。"
        if not any(p.state != ResolutionPlan.State.REJECTED for p in plans):
            return "所有方案均未获批准，请重新提出处理方案。"
    if action == "record_statement" and not complaint.statements.filter(submitted_at__isnull=True).exists():
        return "没有待提交的书面说明，请先要求书面说明。"
    if action == "archive" and complaint.feedback_at is None:
        return "尚未向投诉人反馈处理结果，不能归档。"
    if action == "pause" and complaint.is_paused:
        return "案件已在暂停计时。"
    if action == "resume" and not complaint.is_paused:
        return "案件没有暂停计时。"
    return None


def _ensure(complaint: Complaint, action: str) -> None:
    check_transition(complaint, action)
    reason = _precondition_error(complaint, action)
    if reason:
        raise TransitionError(reason)


def available_actions(complaint: Complaint, user: Any) -> list[str]:
    """The actions ``user`` may take on ``complaint`` now (for buttons and the API)."""
    from .roles import can

    out = []
    for action in TRANSITIONS:
        try:
            check_transition(complaint, action)
        except TransitionError:
            continue
        if _precondition_error(complaint, action):
            continue
        if can(user, action, complaint):
            out.append(action)
    return out


def _lock(complaint: Complaint | int) -> Complaint:
    pk = complaint.pk if isinstance(complaint, Complaint) else complaint
    return Complaint.objects.select_for_update().get(pk=pk)


def _event(complaint: Complaint, verb: str, *, actor: Any, from_status: str, note: str = "", **data: Any) -> ComplaintEvent:
    user = actor if getattr(actor, "pk", None) else None
    return ComplaintEvent.objects.create(
        complaint=complaint, verb=verb, from_status=from_status, to_status=complaint.status, actor=user,
        actor_label=str(user) if user else "系统", note=note, data=data, at=timezone.now(),
    )


def _record(complaint: Complaint, action: str, *, actor: Any, from_status: str, note: str = "", **data: Any) -> None:
    """The event row and the audit row of one step."""
    _event(complaint, action, actor=actor, from_status=from_status, note=note, **data)
    audit.record(
        actor=actor, verb=f"complaints.{action}", target=complaint, case_no=complaint.case_no,
        from_status=from_status, to_status=complaint.status, **data,
    )


def refresh_due(complaint: Complaint, now: datetime | None = None) -> None:
    """Recompute the list columns ``next_due_at`` and ``is_overdue`` from the open deadlines."""
    now = now or timezone.now()
    running = ComplaintDeadline.objects.running().filter(complaint=complaint)
    complaint.next_due_at = running.aggregate(m=Min("due_at"))["m"]
    complaint.is_overdue = bool(complaint.next_due_at and complaint.next_due_at <= now)
    Complaint.objects.filter(pk=complaint.pk).update(next_due_at=complaint.next_due_at, is_overdue=complaint.is_overdue)


def _meet(complaint: Complaint, kind: str, at: datetime) -> None:
    ComplaintDeadline.objects.open().filter(complaint=complaint, kind=kind).update(met_at=at, paused_at=None)


def _save(complaint: Complaint, *fields: str) -> None:
    complaint.save(update_fields=[*fields, "updated_at"])


# --- case numbers ----------------------------------------------------------------------------------


def next_case_no(received_at: datetime, prefix: str = CASE_PREFIX) -> str:
    """TS + year + month (of receipt, local time) + a four-digit monthly sequence: TS2026110001."""
    local = received_at.astimezone(workcalendar._tz())
    key = f"{prefix}{local:%Y%m}"
    with transaction.atomic():
        seq, _created = CaseNumberSequence.objects.select_for_update().get_or_create(prefix=key)
        seq.last_value += 1
        seq.save(update_fields=["last_value"])
    return f"{key}{seq.last_value:04d}"


# --- registration ----------------------------------------------------------------------------------


@dataclass
class ComplaintData:
    channel: str
    content: str
    received_at: datetime | None = None
    category: str = Category.OTHER
    severity: str = Severity.GENERAL
    subcategory_id: int | None = None
    complainant_name: str = ""
    complainant_phone: str = ""
    complainant_email: str = ""
    relation: str = Relation.SELF
    patient_id: int | None = None
    department_id: int | None = None
    staff_user_id: int | None = None
    staff_doctor_id: int | None = None
    staff_text: str = ""
    event_at: datetime | None = None
    event_place: str = ""
    summary: str = ""
    demands: str = ""
    source_type: str = ""
    source_id: str = ""
    external_ref: str = ""
    suggested_category: str = ""
    suggested_department_id: int | None = None
    suggestion_confidence: float | None = None


def _validate(data: ComplaintData) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}

    def err(field: str, msg: str) -> None:
        errors.setdefault(field, []).append(msg)

    if data.channel not in Channel.values:
        err("channel", "请选择有效的投诉渠道。")
    if data.category not in Category.values:
        err("category", "请选择有效的投诉类别。")
    if data.severity not in Severity.values:
        err("severity", "请选择有效的严重程度。")
    if data.relation not in Relation.values:
        err("relation", "请选择与患者的关系。")
    if len((data.content or "").strip()) < 5:
        err("content", "请填写投诉内容（至少5个字）。")
    if data.complainant_phone:
        digits = pii.normalise("phone", data.complainant_phone)
        if not re.fullmatch(r"\d{7,12}", digits):
            err("complainant_phone", "联系电话格式不正确。")
    if data.complainant_email and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", data.complainant_email.strip()):
        err("complainant_email", "电子邮箱格式不正确。")
    now = timezone.now()
    if data.received_at is not None:
        if data.received_at.tzinfo is None:
            err("received_at", "接收时间必须带时区。")
        elif data.received_at > now + timedelta(minutes=5):
            err("received_at", "接收时间不能晚于现在。")
    if data.event_at is not None and data.event_at.tzinfo is not None and data.event_at > now + timedelta(minutes=5):
        err("event_at", "事件时间不能晚于现在。")
    if data.subcategory_id is not None:
        sub = Subcategory.objects.filter(pk=data.subcategory_id).values_list("category", flat=True).first()
        if sub is None:
            err("subcategory", "子类不存在。")
        elif sub != data.category:
            err("subcategory", "子类与所选类别不一致。")
    if data.department_id is not None and not Department.objects.filter(pk=data.department_id).exists():
        err("department", "科室不存在。")
    if data.staff_doctor_id is not None and not Doctor.objects.filter(pk=data.staff_doctor_id).exists():
        err("staff_doctor", "医生不存在。")
    return errors


def _find_patient_id(data: ComplaintData) -> int | None:
    """Link the complainant to the archive: an explicit patient, else name + phone matching one
    patient (a relative complaining for a patient is linked by staff explicitly)."""
    from caredesk.patients.models import Patient

    if data.patient_id is not None:
        return Patient.objects.filter(pk=data.patient_id).values_list("pk", flat=True).first()
    if data.relation == Relation.SELF and data.complainant_name.strip() and data.complainant_phone.strip():
        ids = list(
            Patient.objects.active()
            .filter(hashed_lookup("mobile_bidx", pii.blind_index("phone", data.complainant_phone)),
                    name=data.complainant_name.strip())
            .values_list("pk", flat=True)[:2]
        )
        if len(ids) == 1:
            return ids[0]
    return None


def _existing_for(data: ComplaintData) -> Complaint | None:
    """A case already registered from the same source (one click twice, an integration retrying)."""
    if data.source_type and data.source_id:
        found = Complaint.objects.filter(source_type=data.source_type, source_id=data.source_id).first()
        if found is not None:
            return found
    if data.external_ref:
        return Complaint.objects.filter(channel=data.channel, external_ref=data.external_ref).first()
    return None


def _create_deadlines(complaint: Complaint, start: datetime, kinds: tuple[str, ...], round_no: int = 0) -> list[ComplaintDeadline]:
    planned = dl.plan(start, complaint.category, complaint.severity, kinds)
    rows = [
        ComplaintDeadline(complaint=complaint, kind=kind, round=round_no, due_at=due, original_due_at=due, remind_at=remind)
        for kind, (due, remind) in planned.items()
    ]
    ComplaintDeadline.objects.bulk_create(rows)
    return rows


def _local_date_text(at: datetime) -> str:
    local = at.astimezone(workcalendar._tz())
    return f"{local.year}年{local.month}月{local.day}日"


def _notify_complainant(complaint: Complaint, template: str, params: dict[str, Any], key: str, acting_user: Any) -> bool:
    """Queue an SMS (or an email when there is no phone). False when there is no contact."""
    if complaint.complainant_phone:
        channel, recipient = "sms", complaint.complainant_phone
    elif complaint.complainant_email:
        channel, recipient = "email", complaint.complainant_email
    else:
        return False
    messaging.enqueue(
        channel, recipient, template, params, idempotency_key=key, acting_user=acting_user,
        patient_id=complaint.patient_id, related=complaint,
    )
    return True


@transaction.atomic
def register_complaint(data: ComplaintData, *, acting_user: Any) -> Complaint:
    """Register a complaint from any channel: case number, deadlines from the policy table, the
    complainant told the case number and the expected answer date. Idempotent per source record
    (``source_type``/``source_id``) and per external reference (e.g. a 12345 ticket)."""
    errors = _validate(data)
    if errors:
        raise ValidationError({k: [ValidationError(m) for m in v] for k, v in errors.items()})
    existing = _existing_for(data)
    if existing is not None:
        return existing
    received_at = data.received_at or timezone.now()
    if data.event_at is not None and timezone.is_naive(data.event_at):
        data.event_at = timezone.make_aware(data.event_at, workcalendar._tz())
    user = acting_user if getattr(acting_user, "pk", None) else None
    content = data.content.strip()
    complaint = Complaint(
        case_no=next_case_no(received_at),
        channel=data.channel,
        status=S.REGISTERED,
        patient_id=_find_patient_id(data),
        complainant_name=data.complainant_name.strip(),
        complainant_phone=pii.normalise("phone", data.complainant_phone) if data.complainant_phone else "",
        complainant_phone_bidx=pii.blind_index("phone", data.complainant_phone) if data.complainant_phone else "",
        complainant_email=data.complainant_email.strip(),
        relation=data.relation,
        department_id=data.department_id,
        staff_user_id=data.staff_user_id,
        staff_doctor_id=data.staff_doctor_id,
        staff_text=data.staff_text.strip()[:100],
        event_at=data.event_at,
        event_place=data.event_place.strip()[:120],
        summary=(data.summary.strip() or content.replace("\n", " "))[:120],
        content=content,
        demands=data.demands.strip(),
        category=data.category,
        subcategory_id=data.subcategory_id,
        severity=data.severity,
        suggested_category=data.suggested_category,
        suggested_department_id=data.suggested_department_id,
        suggestion_confidence=data.suggestion_confidence,
        owner=user,
        registered_by=user,
        received_at=received_at,
        source_type=data.source_type[:60],
        source_id=str(data.source_id)[:64],
        external_ref=data.external_ref[:64],
    )
    try:
        with transaction.atomic():
            complaint.save(force_insert=True)
    except IntegrityError:  # pragma: no cover - the sequence makes numbers unique; defensive
        raise TransitionError("投诉编号冲突，请重试。") from None
    rows = _create_deadlines(complaint, received_at, tuple(DeadlineKind.values))
    refresh_due(complaint)
    reply = next(r for r in rows if r.kind == DeadlineKind.REPLY)
    told = _notify_complainant(
        complaint, "complaints.received",
        {"case_no": complaint.case_no, "reply_date": _local_date_text(reply.due_at)},
        f"complaint:{complaint.pk}:received", acting_user,
    )
    _record(complaint, "register", actor=acting_user, from_status="", channel=complaint.channel,
            category=complaint.category, severity=complaint.severity, department_id=complaint.department_id,
            complainant_notified=told, source_type=complaint.source_type, source_id=complaint.source_id)
    return complaint


# --- the six steps ---------------------------------------------------------------------------------


@transaction.atomic
def accept(complaint: Complaint | int, *, acting_user: Any, note: str = "") -> Complaint:
    """受理: the person accepting becomes the first-contact owner (首问负责) when none is set."""
    c = _lock(complaint)
    _ensure(c, "accept")
    before = c.status
    now = timezone.now()
    c.status = S.ACCEPTED
    c.accepted_at = now
    if c.owner_id is None and getattr(acting_user, "pk", None):
        c.owner = acting_user
    _save(c, "status", "accepted_at", "owner")
    _meet(c, DeadlineKind.FIRST_RESPONSE, now)
    refresh_due(c, now)
    _record(c, "accept", actor=acting_user, from_status=before, note=note, owner_id=c.owner_id)
    return c


@transaction.atomic
def request_statement(
    complaint: Complaint | int, *, acting_user: Any, staff_name: str = "", staff_user: User | None = None,
    note: str = "",
) -> StatementRequest:
    """核实: ask the staff involved for a written statement, due by the case's statement deadline."""
    c = _lock(complaint)
    _ensure(c, "request_statement")
    name = (staff_name or (str(staff_user) if staff_user else "") or c.staff_label).strip()
    if not name:
        raise TransitionError("请填写需要书面说明的员工。")
    before = c.status
    c.status = S.VERIFYING
    _save(c, "status")
    due = (
        ComplaintDeadline.objects.open().filter(complaint=c, kind=DeadlineKind.STATEMENT)
        .order_by("-round").values_list("due_at", flat=True).first()
    )
    req = StatementRequest.objects.create(
        complaint=c, staff_user=staff_user, staff_name=name[:60], requested_by=_user(acting_user), due_at=due,
        note=note,
    )
    _record(c, "request_statement", actor=acting_user, from_status=before, note=note, statement_id=req.pk)
    return req


def _user(actor: Any) -> Any:
    return actor if getattr(actor, "pk", None) else None


@transaction.atomic
def record_statement(
    complaint: Complaint | int, *, acting_user: Any, content: str, statement_id: int | None = None,
) -> StatementRequest:
    c = _lock(complaint)
    _ensure(c, "record_statement")
    if len((content or "").strip()) < 5:
        raise TransitionError("请填写书面说明内容（至少5个字）。")
    pending = c.statements.filter(submitted_at__isnull=True)
    req = pending.filter(pk=statement_id).first() if statement_id else pending.order_by("requested_at", "id").first()
    if req is None:
        raise TransitionError("没有找到待提交的书面说明。")
    now = timezone.now()
    req.content = content.strip()
    req.submitted_at = now
    req.submitted_by = _user(acting_user)
    req.save(update_fields=["content", "submitted_at", "submitted_by"])
    if not c.statements.filter(submitted_at__isnull=True).exists():
        _meet(c, DeadlineKind.STATEMENT, now)
        refresh_due(c, now)
    _record(c, "record_statement", actor=acting_user, from_status=c.status, statement_id=req.pk)
    return req


@transaction.atomic
def classify(
    complaint: Complaint | int, *, acting_user: Any, finding: str, note: str = "", category: str | None = None,
    subcategory_id: int | None = None, severity: str | None = None,
) -> Complaint:
    """定性 by the department head (or the quality office): the finding closes verification; the
    category, subcategory and severity may be corrected at the same time."""
    c = _lock(complaint)
    _ensure(c, "classify")
    if finding not in Finding.values:
        raise TransitionError("请选择定性结论（属实 / 部分属实 / 不属实）。")
    if len((note or "").strip()) < 2:
        raise TransitionError("请填写定性说明。")
    if category is not None and category not in Category.values:
        raise TransitionError("投诉类别无效。")
    if severity is not None and severity not in Severity.values:
        raise TransitionError("严重程度无效。")
    new_category = category or c.category
    if subcategory_id is not None and not Subcategory.objects.filter(pk=subcategory_id, category=new_category).exists():
        raise TransitionError("子类与类别不一致。")
    before = c.status
    now = timezone.now()
    c.status = S.VERIFYING
    c.finding = finding
    c.finding_note = note.strip()
    c.classified_at = now
    c.classified_by = _user(acting_user)
    changes = {}
    if category and category != c.category:
        changes["category"] = [c.category, category]
        c.category = category
        if c.subcategory_id and subcategory_id is None:
            c.subcategory_id = None
    if subcategory_id is not None:
        c.subcategory_id = subcategory_id
    if severity and severity != c.severity:
        changes["severity"] = [c.severity, severity]
        c.severity = severity
    if c.category == Category.MEDICAL_QUALITY:
        c.quality_review = True
    _save(c, "status", "finding", "finding_note", "classified_at", "classified_by", "category", "subcategory",
          "severity", "quality_review")
    if not c.statements.filter(submitted_at__isnull=True).exists():
        _meet(c, DeadlineKind.STATEMENT, now)
    refresh_due(c, now)
    _record(c, "classify", actor=acting_user, from_status=before, note=note, finding=finding, changes=changes)
    return c


@transaction.atomic
def propose_plan(
    complaint: Complaint | int, *, acting_user: Any, kind: str, description: str, amount: Decimal | None = None,
    committee_review: bool = False, dispute_route: str = "",
) -> ResolutionPlan:
    """处理: a plan (explanation, apology, correction, refund, compensation). Refunds and
    compensation need approval; medical-quality cases go to the quality office, and may be sent to
    the committee; a dispute route (negotiation, appraisal, court) is recorded when one is taken."""
    c = _lock(complaint)
    _ensure(c, "propose_plan")
    if kind not in ResolutionPlan.Kind.values:
        raise TransitionError("请选择处理方式。")
    if len((description or "").strip()) < 5:
        raise TransitionError("请填写方案内容（至少5个字）。")
    if kind in ResolutionPlan.NEEDS_APPROVAL and (amount is None or amount <= 0):
        raise TransitionError("退费或补偿方案须填写金额。")
    if dispute_route not in DisputeRoute.values:
        raise TransitionError("纠纷解决途径无效。")
    before = c.status
    plan = ResolutionPlan.objects.create(
        complaint=c, kind=kind, description=description.strip(), amount=amount,
        state=ResolutionPlan.State.PROPOSED if kind in ResolutionPlan.NEEDS_APPROVAL else ResolutionPlan.State.APPROVED,
        proposed_by=_user(acting_user),
    )
    c.status = S.RESOLVING
    if committee_review:
        c.committee_review = True
    if dispute_route:
        c.dispute_route = dispute_route
    if c.category == Category.MEDICAL_QUALITY:
        c.quality_review = True
    _save(c, "status", "committee_review", "dispute_route", "quality_review")
    _record(c, "propose_plan", actor=acting_user, from_status=before, plan_id=plan.pk, kind=kind,
            amount=str(amount) if amount is not None else None, committee_review=c.committee_review,
            dispute_route=c.dispute_route)
    return plan


@transaction.atomic
def decide_plan(
    complaint: Complaint | int, *, acting_user: Any, approve: bool, plan_id: int | None = None, note: str = "",
) -> ResolutionPlan:
    action = "approve_plan" if approve else "reject_plan"
    c = _lock(complaint)
    _ensure(c, action)
    pending = c.plans.filter(state=ResolutionPlan.State.PROPOSED)
    plan = pending.filter(pk=plan_id).first() if plan_id else pending.order_by("proposed_at", "id").first()
    if plan is None:
        raise TransitionError("没有找到待审批的方案。")
    if not approve and len(note.strip()) < 2:
        raise TransitionError("驳回方案须填写意见。")
    if getattr(acting_user, "pk", None) and plan.proposed_by_id == acting_user.pk and not acting_user.is_superuser:
        raise TransitionError("方案须由提出人以外的人审批。")
    plan.state = ResolutionPlan.State.APPROVED if approve else ResolutionPlan.State.REJECTED
    plan.decided_by = _user(acting_user)
    plan.decided_at = timezone.now()
    plan.decision_note = note.strip()
    plan.save(update_fields=["state", "decided_by", "decided_at", "decision_note"])
    _record(c, action, actor=acting_user, from_status=c.status, note=note, plan_id=plan.pk)
    return plan


def approve_plan(complaint: Complaint | int, *, acting_user: Any, plan_id: int | None = None, note: str = "") -> ResolutionPlan:
    return decide_plan(complaint, acting_user=acting_user, approve=True, plan_id=plan_id, note=note)


def reject_plan(complaint: Complaint | int, *, acting_user: Any, note: str, plan_id: int | None = None) -> ResolutionPlan:
    return decide_plan(complaint, acting_user=acting_user, approve=False, plan_id=plan_id, note=note)


@transaction.atomic
def resolve(complaint: Complaint | int, *, acting_user: Any, summary: str) -> Complaint:
    """The plan is carried out; the result is written down to be told to the complainant."""
    c = _lock(complaint)
    _ensure(c, "resolve")
    if len((summary or "").strip()) < 5:
        raise TransitionError("请填写处理结果（至少5个字）。")
    before = c.status
    c.status = S.FEEDBACK
    c.resolved_at = timezone.now()
    c.resolution_summary = summary.strip()
    _save(c, "status", "resolved_at", "resolution_summary")
    _record(c, "resolve", actor=acting_user, from_status=before)
    return c


@transaction.atomic
def give_feedback(complaint: Complaint | int, *, acting_user: Any, rating: int, note: str = "") -> Complaint:
    """反馈: the result was told to the complainant, who rated the handling (1–5). Meets the answer
    deadline."""
    c = _lock(complaint)
    _ensure(c, "give_feedback")
    if not isinstance(rating, int) or not 1 <= rating <= 5:
        raise TransitionError("请选择投诉人对处理的满意度（1–5）。")
    now = timezone.now()
    c.feedback_at = now
    c.satisfaction = rating
    c.feedback_note = note.strip()
    _save(c, "feedback_at", "satisfaction", "feedback_note")
    _meet(c, DeadlineKind.REPLY, now)
    refresh_due(c, now)
    _record(c, "give_feedback", actor=acting_user, from_status=c.status, note=note, rating=rating)
    return c


@transaction.atomic
def archive(complaint: Complaint | int, *, acting_user: Any, note: str = "") -> Complaint:
    """归档: the dossier is frozen; only the analysis may be added afterwards."""
    c = _lock(complaint)
    _ensure(c, "archive")
    before = c.status
    now = timezone.now()
    ComplaintDeadline.objects.open().filter(complaint=c).update(cancelled_at=now, paused_at=None)
    c.status = S.ARCHIVED
    c.archived_at = now
    c.next_due_at = None
    c.is_overdue = False
    _save(c, "status", "archived_at", "next_due_at", "is_overdue")
    _record(c, "archive", actor=acting_user, from_status=before, note=note)
    hooks.complaint_closed(c)
    return c


@transaction.atomic
def analyse(complaint: Complaint | int, *, acting_user: Any, root_cause: str, suggestion: str = "") -> Complaint:
    """分析: root cause and improvement, the last step of the loop."""
    c = _lock(complaint)
    _ensure(c, "analyse")
    if len((root_cause or "").strip()) < 5:
        raise TransitionError("请填写原因分析（至少5个字）。")
    before = c.status
    c.status = S.ANALYSED
    c.analysed_at = timezone.now()
    c.root_cause = root_cause.strip()
    c.analysis_note = suggestion.strip()
    c._allow_closed_write = True
    _save(c, "status", "analysed_at", "root_cause", "analysis_note")
    _record(c, "analyse", actor=acting_user, from_status=before)
    return c


# --- around the steps --------------------------------------------------------------------------------


@transaction.atomic
def reopen(complaint: Complaint | int, *, acting_user: Any, reason: str) -> Complaint:
    """The complainant is not satisfied: back to verification one level higher, with new
    statement and answer deadlines counted from now."""
    c = _lock(complaint)
    _ensure(c, "reopen")
    if len((reason or "").strip()) < 2:
        raise TransitionError("请填写重新处理的原因。")
    before = c.status
    now = timezone.now()
    c.status = S.VERIFYING
    c.reopen_count += 1
    c.escalation_level += 1
    c.resolved_at = None
    c.feedback_at = None
    c.satisfaction = None
    _save(c, "status", "reopen_count", "escalation_level", "resolved_at", "feedback_at", "satisfaction")
    ComplaintDeadline.objects.open().filter(complaint=c).update(cancelled_at=now, paused_at=None)
    _create_deadlines(c, now, (DeadlineKind.STATEMENT, DeadlineKind.REPLY), round_no=c.reopen_count)
    refresh_due(c, now)
    _notify_staff(c, kind=ComplaintNotification.Kind.ASSIGNED,
                  message=f"{c.case_no} 投诉人不满意，已升级为第{c.escalation_level}级重新处理。")
    _record(c, "reopen", actor=acting_user, from_status=before, note=reason, escalation_level=c.escalation_level)
    return c


@transaction.atomic
def transfer(complaint: Complaint | int, *, acting_user: Any, department: Department, reason: str) -> Complaint:
    """Hand the case to another department (its head is notified)."""
    c = _lock(complaint)
    _ensure(c, "transfer")
    if department.pk == c.department_id:
        raise TransitionError("转办科室与当前科室相同。")
    if len((reason or "").strip()) < 2:
        raise TransitionError("请填写转办原因。")
    old = c.department_id
    c.department = department
    c.transfer_count += 1
    _save(c, "department", "transfer_count")
    _notify_staff(c, kind=ComplaintNotification.Kind.ASSIGNED, message=f"{c.case_no} 已转办至{department.name}，请处理。",
                  supervisors=False)
    _record(c, "transfer", actor=acting_user, from_status=c.status, note=reason, from_department_id=old,
            to_department_id=department.pk)
    return c


@transaction.atomic
def merge(duplicate: Complaint | int, *, into: Complaint, acting_user: Any, reason: str = "") -> Complaint:
    """A duplicate of another case: closed as merged, its deadlines cancelled, both timelines noted."""
    c = _lock(duplicate)
    _ensure(c, "merge")
    target = _lock(into)
    if target.pk == c.pk:
        raise TransitionError("不能与自身合并。")
    if target.is_closed:
        raise TransitionError("目标案件已归档或已合并，不能合并到它。")
    before = c.status
    now = timezone.now()
    ComplaintDeadline.objects.open().filter(complaint=c).update(cancelled_at=now, paused_at=None)
    c.status = S.MERGED
    c.merged_into = target
    c.paused_at = None
    c.next_due_at = None
    c.is_overdue = False
    _save(c, "status", "merged_into", "paused_at", "next_due_at", "is_overdue")
    _record(c, "merge", actor=acting_user, from_status=before, note=reason, into_id=target.pk, into_case_no=target.case_no)
    _event(target, "merge", actor=acting_user, from_status=target.status, note=f"合并了重复投诉 {c.case_no}",
           merged_id=c.pk)
    return c


@transaction.atomic
def pause(complaint: Complaint | int, *, acting_user: Any, reason: str) -> Complaint:
    """Waiting for the complainant (e.g. material to supply): the clocks stop."""
    c = _lock(complaint)
    _ensure(c, "pause")
    if len((reason or "").strip()) < 2:
        raise TransitionError("请填写暂停计时的原因。")
    now = timezone.now()
    c.paused_at = now
    c.pause_reason = reason.strip()[:200]
    _save(c, "paused_at", "pause_reason")
    ComplaintDeadline.objects.running().filter(complaint=c).update(paused_at=now)
    refresh_due(c, now)
    _record(c, "pause", actor=acting_user, from_status=c.status, note=reason)
    return c


@transaction.atomic
def resume(complaint: Complaint | int, *, acting_user: Any, note: str = "") -> Complaint:
    """The clocks run again; every paused deadline moves by the working time spent waiting."""
    c = _lock(complaint)
    _ensure(c, "resume")
    now = timezone.now()
    moved = {}
    for d in ComplaintDeadline.objects.open().filter(complaint=c, paused_at__isnull=False):
        if d.paused_at is None:
            continue
        hours = workcalendar.working_hours_between(d.paused_at, now)
        new_due = workcalendar.add_working_hours(d.due_at, hours) if hours > 0 else d.due_at
        shift = new_due - d.due_at
        d.paused_seconds += int((now - d.paused_at).total_seconds())
        d.due_at = new_due
        d.remind_at = d.remind_at + shift if d.remind_at else None
        d.paused_at = None
        d.save(update_fields=["due_at", "remind_at", "paused_seconds", "paused_at"])
        moved[d.kind] = round(hours, 2)
    paused_since = c.paused_at
    c.paused_at = None
    c.pause_reason = ""
    _save(c, "paused_at", "pause_reason")
    refresh_due(c, now)
    _record(c, "resume", actor=acting_user, from_status=c.status, note=note, working_hours_paused=moved,
            paused_since=paused_since.isoformat() if paused_since else None)
    return c


@transaction.atomic
def extend_deadline(
    complaint: Complaint | int, *, acting_user: Any, kind: str, reason: str, new_due_at: datetime | None = None,
    working_days: int | None = None, notified_note: str = "",
) -> ComplaintDeadline:
    """Extend one deadline: a reason is required, and the complainant is told first (an SMS/email
    through the outbox; without contact details, ``notified_note`` says how they were told)."""
    c = _lock(complaint)
    _ensure(c, "extend_deadline")
    if len((reason or "").strip()) < 4:
        raise TransitionError("延期必须填写原因（至少4个字）。")
    deadline = ComplaintDeadline.objects.open().filter(complaint=c, kind=kind).order_by("-round").first()
    if deadline is None:
        raise TransitionError("该时限已完成或不存在，无需延期。")
    if new_due_at is None:
        if not working_days or working_days < 1:
            raise TransitionError("请填写延长的工作日数或新的截止时间。")
        base = max(deadline.due_at, timezone.now()).astimezone(workcalendar._tz()).date()
        new_due_at = dl.close_of_business(workcalendar.add_working_days(base, working_days))
    if new_due_at <= deadline.due_at:
        raise TransitionError("新的截止时间必须晚于原截止时间。")
    now = timezone.now()
    key = f"complaint:{c.pk}:extend:{deadline.pk}:{deadline.extended_count + 1}"
    told = _notify_complainant(
        c, "complaints.extended",
        {"case_no": c.case_no, "due_date": _local_date_text(new_due_at), "reason": reason.strip()[:60]},
        key, acting_user,
    )
    if not told and len(notified_note.strip()) < 2:
        raise TransitionError("没有投诉人的联系方式，无法自动告知；请先当面或电话告知投诉人，并填写告知情况。")
    shift = new_due_at - deadline.due_at
    old_due = deadline.due_at
    deadline.due_at = new_due_at
    deadline.remind_at = deadline.remind_at + shift if deadline.remind_at else None
    deadline.extended_count += 1
    deadline.extension_reason = reason.strip()
    deadline.complainant_notified_at = now
    deadline.reminded_at = None
    deadline.breached_at = None
    deadline.escalated_at = None
    deadline.save(update_fields=["due_at", "remind_at", "extended_count", "extension_reason", "complainant_notified_at",
                                 "reminded_at", "breached_at", "escalated_at"])
    refresh_due(c, now)
    _record(c, "extend_deadline", actor=acting_user, from_status=c.status, note=reason, kind=kind,
            old_due=old_due.isoformat(), new_due=new_due_at.isoformat(), complainant_notified_by_message=told,
            notified_note=notified_note.strip()[:200])
    return deadline


# --- attachments -------------------------------------------------------------------------------------

ALLOWED_TYPES: dict[str, tuple[str, ...]] = {
    ".pdf": ("application/pdf",),
    ".jpg": ("image/jpeg",),
    ".jpeg": ("image/jpeg",),
    ".png": ("image/png",),
    ".docx": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document",),
    ".txt": ("text/plain",),
    ".mp3": ("audio/mpeg",),
    ".wav": ("audio/wav", "audio/x-wav"),
}
# The first bytes each type must start with (the browser's content type is not trusted).
MAGIC: dict[str, tuple[bytes, ...]] = {
    ".pdf": (b"%PDF",),
    ".jpg": (b"\xff\xd8\xff",),
    ".jpeg": (b"\xff\xd8\xff",),
    ".png": (b"\x89PNG\r\n\x1a\n",),
    ".docx": (b"PK\x03\x04",),
    ".mp3": (b"ID3", b"\xff\xfb", b"\xff\xf3", b"\xff\xf2"),
    ".wav": (b"RIFF",),
}


def max_attachment_bytes() -> int:
    from django.conf import settings

    return int(getattr(settings, "COMPLAINTS_ATTACHMENT_MAX_BYTES", 10 * 1024 * 1024))


@transaction.atomic
def add_attachment(
    complaint: Complaint | int, *, acting_user: Any, upload: UploadedFile, kind: str = Attachment.Kind.EVIDENCE,
) -> Attachment:
    c = _lock(complaint)
    _ensure(c, "attach")
    name = (upload.name or "").strip()
    suffix = ("." + name.rsplit(".", 1)[-1].lower()) if "." in name else ""
    if suffix not in ALLOWED_TYPES:
        raise TransitionError("不支持的文件类型；可上传 PDF、JPG、PNG、DOCX、TXT、MP3、WAV。")
    size = upload.size or 0
    if size <= 0:
        raise TransitionError("文件为空。")
    if size > max_attachment_bytes():
        raise TransitionError(f"文件过大，单个附件不超过 {max_attachment_bytes() // (1024 * 1024)} MB。")
    if kind not in Attachment.Kind.values:
        raise TransitionError("附件类型无效。")
    digest = hashlib.sha256()
    head = b""
    for chunk in upload.chunks():
        if not head:
            head = bytes(chunk[:16])
        digest.update(chunk)
    magic = MAGIC.get(suffix)
    if magic and not any(head.startswith(m) for m in magic):
        raise TransitionError("文件内容与扩展名不符。")
    if suffix == ".txt" and b"\x00" in head:
        raise TransitionError("文件内容与扩展名不符。")
    upload.seek(0)
    att = Attachment(
        complaint=c, kind=kind, original_name=name[-200:], content_type=ALLOWED_TYPES[suffix][0], size=size,
        sha256=digest.hexdigest(), uploaded_by=_user(acting_user),
    )
    att.file.save(name, upload, save=False)
    att.save()
    _record(c, "attach", actor=acting_user, from_status=c.status, attachment_id=att.pk, size=size, suffix=suffix)
    return att


# --- notifications -----------------------------------------------------------------------------------


def supervisor_ids() -> list[int]:
    return list(User.objects.filter(is_active=True, groups__name="supervisor").values_list("pk", flat=True).distinct())


def department_head_ids(department_id: int | None, tree: dict[int, int | None] | None = None) -> list[int]:
    """Heads of the department or of a department above it."""
    if department_id is None:
        return []
    if tree is None:
        tree = dict(Department.objects.values_list("id", "parent_id"))
    chain: list[int] = []
    cur: int | None = department_id
    while cur is not None and cur not in chain:
        chain.append(cur)
        cur = tree.get(cur)
    return list(
        User.objects.filter(is_active=True, groups__name="dept_head", departments__in=chain)
        .values_list("pk", flat=True).distinct()
    )


def _notify_staff(c: Complaint, *, kind: str, message: str, supervisors: bool = True) -> int:
    recipients = set(department_head_ids(c.department_id))
    if supervisors:
        recipients |= set(supervisor_ids())
    if c.owner_id:
        recipients.add(c.owner_id)
    ComplaintNotification.objects.bulk_create(
        [ComplaintNotification(recipient_id=r, complaint=c, kind=kind, message=message[:300]) for r in sorted(recipients)]
    )
    return len(recipients)


def mark_notifications_read(user: Any, ids: list[int] | None = None) -> int:
    qs = ComplaintNotification.objects.filter(recipient=user, read_at__isnull=True)
    if ids is not None:
        qs = qs.filter(pk__in=ids)
    return qs.update(read_at=timezone.now())


# --- settings: deadline policies and subcategories -------------------------------------------------


@transaction.atomic
def save_policy(
    *, category: str, severity: str, kind: str, amount: int, unit: str, remind_before_minutes: int = 240,
    is_active: bool = True, acting_user: Any,
) -> DeadlinePolicy:
    """Create or change the policy for (category, severity, kind); blank category/severity = any.
    Applies to cases registered afterwards (existing deadlines keep their due times)."""
    from .models import DeadlineUnit

    errors: dict[str, list[ValidationError]] = {}
    if category and category not in Category.values:
        errors["category"] = [ValidationError("类别无效。")]
    if severity and severity not in Severity.values:
        errors["severity"] = [ValidationError("严重程度无效。")]
    if kind not in DeadlineKind.values:
        errors["kind"] = [ValidationError("时限类型无效。")]
    if unit not in DeadlineUnit.values:
        errors["unit"] = [ValidationError("单位无效。")]
    if not 1 <= amount <= 1000:
        errors["amount"] = [ValidationError("时长须在1到1000之间。")]
    if errors:
        raise ValidationError(errors)
    policy, created = DeadlinePolicy.objects.update_or_create(
        category=category, severity=severity, kind=kind,
        defaults={"amount": amount, "unit": unit, "remind_before_minutes": remind_before_minutes, "is_active": is_active},
    )
    audit.record(actor=acting_user, verb="complaints.policy_saved", target=policy, created=created, category=category,
                 severity=severity, kind=kind, amount=amount, unit=unit, active=is_active)
    return policy


@transaction.atomic
def save_subcategory(*, category: str, name: str, is_active: bool = True, acting_user: Any) -> Subcategory:
    name = (name or "").strip()
    if category not in Category.values or not name:
        raise ValidationError("请选择类别并填写子类名称。")
    sub, created = Subcategory.objects.update_or_create(category=category, name=name[:60], defaults={"is_active": is_active})
    audit.record(actor=acting_user, verb="complaints.subcategory_saved", target=sub, created=created, active=is_active)
    return sub
