"""JSON API of the complaints module, mounted at /api/v1/complaints (session or bearer token).

- ``POST /api/v1/complaints`` registers a case (hotline, portal and other integrations) and
  returns it with its case number and deadlines (ISO 8601 in +08:00).
- ``GET /api/v1/complaints`` lists (filters as on the list page), ``GET …/{case_no}`` shows one.
- ``POST …/{case_no}/{action}`` takes one workflow step (accept, request_statement, …).

Errors use the one error shape of caredesk.api.errors: 422 with field details for invalid input,
409 ``invalid_transition`` for a step the case's state does not allow, 403 without permission,
404 for a case outside the caller's scope. Identity fields are always masked.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from django.core.exceptions import ValidationError
from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, Query, Router, Schema, Status

from caredesk.accounts.models import Department
from caredesk.api.errors import error_body

from . import actions
from .actions import ACTION_LABELS, ComplaintData, TransitionError
from .models import Complaint, ComplaintDeadline, DeadlineKind
from .roles import can
from .views import filtered

router = Router(tags=["complaints"])

ChannelCode = Literal["phone", "walk_in", "letter", "email", "online", "hotline_12345", "third_party", "followup", "survey", "call"]
CategoryCode = Literal["service_attitude", "medical_quality", "process", "fees", "other"]
SeverityCode = Literal["general", "serious", "major"]
StatusCode = Literal["registered", "accepted", "verifying", "resolving", "feedback", "archived", "analysed", "merged"]
RelationCode = Literal["self", "spouse", "parent", "child", "relative", "friend", "other"]
ActionCode = Literal[
    "accept", "request_statement", "record_statement", "classify", "propose_plan", "approve_plan", "reject_plan",
    "resolve", "give_feedback", "archive", "analyse", "reopen", "transfer", "pause", "resume", "extend_deadline", "merge",
]


def iso(dt: datetime | None) -> str | None:
    """ISO 8601 in the hospital's time zone (+08:00)."""
    return timezone.localtime(dt).isoformat() if dt else None


class ComplaintIn(Schema):
    received_at: datetime
    channel: ChannelCode
    category: CategoryCode
    severity: SeverityCode
    content: str = Field(..., min_length=5, max_length=10000)
    complainant_name: str = Field("", max_length=60)
    complainant_phone: str = Field("", max_length=30)
    complainant_email: str = Field("", max_length=120)
    relation: RelationCode = "self"
    department: str | None = Field(None, description="科室编码，如 WK-GK")
    staff: str = Field("", max_length=100, description="被投诉人员（描述或姓名）")
    event_at: datetime | None = None
    event_place: str = Field("", max_length=120)
    demands: str = Field("", max_length=5000)
    external_ref: str = Field("", max_length=64, description="外部工单号（如12345），同一渠道重复提交返回同一案件")
    source_type: str = Field("", max_length=60)
    source_id: str = Field("", max_length=64)


class DeadlineOut(Schema):
    kind: str
    round: int
    due_at: str
    met_at: str | None
    breached_at: str | None
    paused: bool
    extended_count: int


class EventOut(Schema):
    verb: str
    label: str
    from_status: str
    to_status: str
    actor: str
    note: str
    at: str


class ComplaintOut(Schema):
    case_no: str
    status: str
    status_label: str
    channel: str
    category: str
    subcategory: str | None
    severity: str
    received_at: str
    complainant_name: str
    complainant_phone: str
    relation: str
    patient_id: int | None
    department: str | None
    department_name: str | None
    staff: str
    summary: str
    content: str
    demands: str
    owner: str | None
    first_response_due: str | None
    statement_due: str | None
    reply_due: str | None
    next_due_at: str | None
    is_overdue: bool
    paused: bool
    escalation_level: int
    finding: str
    satisfaction: int | None
    merged_into: str | None
    available_actions: list[str]


class ComplaintDetailOut(ComplaintOut):
    deadlines: list[DeadlineOut]
    events: list[EventOut]


class ComplaintPage(Schema):
    count: int
    limit: int
    offset: int
    items: list[ComplaintOut]


class ActionIn(Schema):
    """Fields by action: accept/archive/resume/approve_plan: note; request_statement: staff_name, note;
    record_statement: content; classify: finding, note, category?, severity?; propose_plan: kind,
    description, amount?, committee_review?, dispute_route?; reject_plan: note; resolve: summary;
    give_feedback: rating, note?; analyse: root_cause, suggestion?; reopen/pause: reason; transfer:
    department (code), reason; extend_deadline: kind (first_response/statement/reply), reason,
    working_days or new_due_at, notified_note?; merge: into (case number), reason?"""

    note: str = ""
    reason: str = ""
    staff_name: str = ""
    content: str = ""
    finding: Literal["substantiated", "partly", "unsubstantiated"] | None = None
    category: CategoryCode | None = None
    severity: SeverityCode | None = None
    kind: str = ""
    description: str = ""
    amount: Decimal | None = None
    committee_review: bool = False
    dispute_route: Literal["", "negotiation", "appraisal", "court"] = ""
    summary: str = ""
    rating: int | None = Field(None, ge=1, le=5)
    root_cause: str = ""
    suggestion: str = ""
    department: str = ""
    working_days: int | None = Field(None, ge=1, le=60)
    new_due_at: datetime | None = None
    notified_note: str = ""
    into: str = ""


class ListFilters(Schema):
    status: StatusCode | None = None
    category: CategoryCode | None = None
    severity: SeverityCode | None = None
    channel: ChannelCode | None = None
    department: str | None = Field(None, description="科室编码")
    overdue: bool = False
    start: date | None = None
    end: date | None = None
    q: str = Field("", max_length=60)
    limit: int = Field(50, ge=1, le=200)
    offset: int = Field(0, ge=0)


def _err(request: HttpRequest, status: int, code: str, message: str, details: Any = None) -> Status[dict[str, Any]]:
    return Status(status, error_body(request, code, message, details))


def _field_errors(exc: ValidationError) -> list[dict[str, str]]:
    if hasattr(exc, "error_dict"):
        return [{"field": f, "message": str(m), "type": "value_error"} for f, ms in exc.message_dict.items() for m in ms]
    return [{"field": "", "message": str(m), "type": "value_error"} for m in exc.messages]


def _due(deadlines: list[ComplaintDeadline], kind: str) -> str | None:
    rows = [d for d in deadlines if d.kind == kind and d.cancelled_at is None]
    return iso(max(rows, key=lambda d: d.round).due_at) if rows else None


def out(c: Complaint, user: Any, *, detail: bool = False) -> dict[str, Any]:
    deadlines = list(c.deadlines.all())
    data: dict[str, Any] = {
        "case_no": c.case_no,
        "status": c.status,
        "status_label": c.get_status_display(),
        "channel": c.channel,
        "category": c.category,
        "subcategory": c.subcategory.name if c.subcategory_id and c.subcategory else None,
        "severity": c.severity,
        "received_at": iso(c.received_at),
        "complainant_name": c.masked_name,
        "complainant_phone": c.masked_phone,
        "relation": c.relation,
        "patient_id": c.patient_id,
        "department": c.department.code if c.department else None,
        "department_name": c.department.name if c.department else None,
        "staff": c.staff_text if not (c.staff_doctor_id or c.staff_user_id) else c.staff_label,
        "summary": c.summary,
        "content": c.content,
        "demands": c.demands,
        "owner": str(c.owner) if c.owner else None,
        "first_response_due": _due(deadlines, DeadlineKind.FIRST_RESPONSE),
        "statement_due": _due(deadlines, DeadlineKind.STATEMENT),
        "reply_due": _due(deadlines, DeadlineKind.REPLY),
        "next_due_at": iso(c.next_due_at),
        "is_overdue": c.is_overdue,
        "paused": c.is_paused,
        "escalation_level": c.escalation_level,
        "finding": c.finding,
        "satisfaction": c.satisfaction,
        "merged_into": c.merged_into.case_no if c.merged_into_id and c.merged_into else None,
        "available_actions": actions.available_actions(c, user) if detail else [],
    }
    if detail:
        data["deadlines"] = [
            {"kind": d.kind, "round": d.round, "due_at": iso(d.due_at), "met_at": iso(d.met_at),
             "breached_at": iso(d.breached_at), "paused": d.paused_at is not None, "extended_count": d.extended_count}
            for d in sorted(deadlines, key=lambda d: (d.round, d.due_at))
        ]
        data["events"] = [
            {"verb": e.verb, "label": ACTION_LABELS.get(e.verb, e.verb), "from_status": e.from_status,
             "to_status": e.to_status, "actor": e.actor_label, "note": e.note, "at": iso(e.at)}
            for e in c.events.order_by("at", "id")
        ]
    return data


def _base(user: Any) -> Any:
    return Complaint.objects.visible_to(user).select_related(
        "department", "owner", "subcategory", "merged_into", "staff_doctor", "staff_user"
    ).prefetch_related("deadlines")


def _find(request: HttpRequest, case_no: str) -> Complaint | None:
    return _base(request.user).filter(case_no=case_no).first()


@router.post("", response={201: ComplaintOut, 403: dict, 422: dict}, summary="Register a complaint (登记投诉)")
def create_complaint(request: HttpRequest, payload: ComplaintIn) -> Any:
    user = request.user
    if not user.has_perm("complaints.add_complaint"):
        return _err(request, 403, "forbidden", "没有登记投诉的权限。")
    department_id = None
    if payload.department:
        department_id = Department.objects.filter(code=payload.department, is_active=True).values_list("pk", flat=True).first()
        if department_id is None:
            return _err(request, 422, "validation_error", "请求数据有误，请检查字段。",
                        [{"field": "department", "message": "科室编码不存在。", "type": "value_error"}])
    data = ComplaintData(
        channel=payload.channel, content=payload.content, received_at=payload.received_at, category=payload.category,
        severity=payload.severity, complainant_name=payload.complainant_name, complainant_phone=payload.complainant_phone,
        complainant_email=payload.complainant_email, relation=payload.relation, department_id=department_id,
        staff_text=payload.staff, event_at=payload.event_at, event_place=payload.event_place, demands=payload.demands,
        external_ref=payload.external_ref, source_type=payload.source_type, source_id=payload.source_id,
    )
    try:
        complaint = actions.register_complaint(data, acting_user=user)
    except ValidationError as exc:
        return _err(request, 422, "validation_error", "请求数据有误，请检查字段。", _field_errors(exc))
    fresh = _base(user).filter(pk=complaint.pk).first() or Complaint.objects.select_related("department").get(pk=complaint.pk)
    return Status(201, out(fresh, user, detail=False))


@router.get("", response=ComplaintPage, summary="List complaints (投诉列表)")
def list_complaints(request: HttpRequest, filters: Query[ListFilters]) -> Any:
    data = filters.dict()
    if data.get("department"):
        data["department"] = Department.objects.filter(code=data["department"]).values_list("pk", flat=True).first() or -1
    qs = filtered(_base(request.user), data).order_by("-received_at", "-id")
    count = qs.count()
    items = [out(c, request.user) for c in qs[filters.offset: filters.offset + filters.limit]]
    return {"count": count, "limit": filters.limit, "offset": filters.offset, "items": items}


@router.get("/{case_no}", response={200: ComplaintDetailOut, 404: dict}, summary="One complaint with deadlines and timeline")
def get_complaint(request: HttpRequest, case_no: str) -> Any:
    c = _find(request, case_no)
    if c is None:
        return _err(request, 404, "not_found", "未找到。")
    return Status(200, out(c, request.user, detail=True))


def _missing(fields: dict[str, Any]) -> list[dict[str, str]]:
    return [{"field": f, "message": "此字段为必填。", "type": "missing"} for f, v in fields.items() if v in (None, "")]


@router.post("/{case_no}/{action}", response={200: ComplaintDetailOut, 403: dict, 404: dict, 409: dict, 422: dict},
             summary="Take one workflow step (受理、核实、处理、反馈、归档、分析 …)")
def take_action(request: HttpRequest, case_no: str, action: ActionCode, payload: ActionIn) -> Any:
    user = request.user
    c = _find(request, case_no)
    if c is None:
        return _err(request, 404, "not_found", "未找到。")
    if not can(user, action, c):
        return _err(request, 403, "forbidden", "您没有权限对此投诉执行该操作。")
    p = payload
    required: dict[str, dict[str, Any]] = {
        "request_statement": {"staff_name": p.staff_name or c.staff_label},
        "record_statement": {"content": p.content},
        "classify": {"finding": p.finding, "note": p.note},
        "propose_plan": {"kind": p.kind, "description": p.description},
        "reject_plan": {"note": p.note},
        "resolve": {"summary": p.summary},
        "give_feedback": {"rating": p.rating},
        "analyse": {"root_cause": p.root_cause},
        "reopen": {"reason": p.reason},
        "pause": {"reason": p.reason},
        "transfer": {"department": p.department, "reason": p.reason},
        "extend_deadline": {"kind": p.kind, "reason": p.reason},
        "merge": {"into": p.into},
    }
    missing = _missing(required.get(action, {}))
    if action == "extend_deadline" and p.working_days is None and p.new_due_at is None:
        missing.append({"field": "working_days", "message": "请填写延长的工作日数或新的截止时间（new_due_at）。", "type": "missing"})
    if missing:
        return _err(request, 422, "validation_error", "请求数据有误，请检查字段。", missing)
    try:
        if action == "accept":
            actions.accept(c, acting_user=user, note=p.note)
        elif action == "request_statement":
            actions.request_statement(c, acting_user=user, staff_name=p.staff_name, note=p.note)
        elif action == "record_statement":
            actions.record_statement(c, acting_user=user, content=p.content)
        elif action == "classify":
            actions.classify(c, acting_user=user, finding=p.finding or "", note=p.note, category=p.category, severity=p.severity)
        elif action == "propose_plan":
            actions.propose_plan(c, acting_user=user, kind=p.kind, description=p.description, amount=p.amount,
                                 committee_review=p.committee_review, dispute_route=p.dispute_route)
        elif action == "approve_plan":
            actions.approve_plan(c, acting_user=user, note=p.note)
        elif action == "reject_plan":
            actions.reject_plan(c, acting_user=user, note=p.note)
        elif action == "resolve":
            actions.resolve(c, acting_user=user, summary=p.summary)
        elif action == "give_feedback":
            actions.give_feedback(c, acting_user=user, rating=int(p.rating or 0), note=p.note)
        elif action == "archive":
            actions.archive(c, acting_user=user, note=p.note)
        elif action == "analyse":
            actions.analyse(c, acting_user=user, root_cause=p.root_cause, suggestion=p.suggestion)
        elif action == "reopen":
            actions.reopen(c, acting_user=user, reason=p.reason)
        elif action == "pause":
            actions.pause(c, acting_user=user, reason=p.reason)
        elif action == "resume":
            actions.resume(c, acting_user=user, note=p.note)
        elif action == "transfer":
            dept = Department.objects.filter(code=p.department, is_active=True).first()
            if dept is None:
                return _err(request, 422, "validation_error", "请求数据有误，请检查字段。",
                            [{"field": "department", "message": "科室编码不存在。", "type": "value_error"}])
            actions.transfer(c, acting_user=user, department=dept, reason=p.reason)
        elif action == "extend_deadline":
            actions.extend_deadline(c, acting_user=user, kind=p.kind, reason=p.reason, new_due_at=p.new_due_at,
                                    working_days=p.working_days, notified_note=p.notified_note)
        elif action == "merge":
            target = Complaint.objects.visible_to(user).filter(case_no=p.into).first()
            if target is None:
                return _err(request, 422, "validation_error", "请求数据有误，请检查字段。",
                            [{"field": "into", "message": "没有找到要合并到的投诉编号。", "type": "value_error"}])
            actions.merge(c, into=target, acting_user=user, reason=p.reason)
    except TransitionError as exc:
        return _err(request, 409, "invalid_transition", "；".join(exc.messages))
    except ValidationError as exc:
        return _err(request, 422, "validation_error", "请求数据有误，请检查字段。", _field_errors(exc))
    fresh = _find(request, case_no)
    if fresh is None:  # e.g. transferred out of the caller's departments
        fresh = Complaint.objects.prefetch_related("deadlines").select_related("department").get(pk=c.pk)
    return Status(200, out(fresh, user, detail=True))
