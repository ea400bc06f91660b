"""Staff pages: the complaint list, the intake form, the case page with its actions, attachments
and the deadline notices. Thin: the work is done in ``actions``; who may do what in ``roles.can``."""

from __future__ import annotations

from datetime import datetime, time
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from caredesk.accounts.models import Department
from caredesk.core import audit

from . import actions, classifier
from .actions import ACTION_LABELS, ComplaintData, TransitionError
from .forms import ACTION_FORMS, AttachmentForm, FilterForm, IntakeForm, PolicyForm, SubcategoryForm
from .models import Attachment, Complaint, ComplaintNotification, DeadlinePolicy, Status, Subcategory
from .roles import can

PAGE_SIZE = 25
COUNT_CAP = 1000  # the list counts matches up to here and shows "1000+" beyond


class CappedPage:
    """One page of the list without counting every match: page_size + 1 rows tell whether there is
    a next page, and the total is counted only up to COUNT_CAP (a full COUNT over 100,000 cases
    with a selective filter is what made the page slow)."""

    def __init__(self, qs: QuerySet[Complaint], number: Any, page_size: int | None = None) -> None:
        page_size = page_size or PAGE_SIZE
        try:
            self.number = max(1, min(int(number or 1), 10_000))
        except (TypeError, ValueError):
            self.number = 1
        start = (self.number - 1) * page_size
        rows = list(qs[start: start + page_size + 1])
        self.has_next = len(rows) > page_size
        self.object_list = rows[:page_size]
        self.has_previous = self.number > 1
        self.count = qs.order_by()[: COUNT_CAP + 1].count()
        self.count_capped = self.count > COUNT_CAP
        if self.count_capped:
            self.count = COUNT_CAP

    def __iter__(self) -> Any:
        return iter(self.object_list)

    def previous_page_number(self) -> int:
        return self.number - 1

    def next_page_number(self) -> int:
        return self.number + 1


def visible(user: Any) -> QuerySet[Complaint]:
    return Complaint.objects.visible_to(user)


def filtered(qs: QuerySet[Complaint], data: dict[str, Any]) -> QuerySet[Complaint]:
    """The list filters (shared by the page and the API)."""
    q = (data.get("q") or "").strip()
    if q:
        qs = qs.filter(case_no=q.upper()) if q.upper().startswith("TS") and q[2:].isdigit() else qs.filter(summary__contains=q)
    for field in ("status", "category", "severity", "channel"):
        if data.get(field):
            qs = qs.filter(**{field: data[field]})
    if data.get("department"):
        dept = data["department"]
        if not isinstance(dept, Department):
            dept = Department.objects.filter(pk=dept).first() or Department(pk=-1)
        qs = qs.filter(department_id__in=dept.descendant_ids())  # 外科 includes 骨科
    if data.get("overdue"):
        qs = qs.filter(is_overdue=True)
    tz = timezone.get_current_timezone()
    if data.get("start"):
        qs = qs.filter(received_at__gte=datetime.combine(data["start"], time.min, tzinfo=tz))
    if data.get("end"):
        qs = qs.filter(received_at__lte=datetime.combine(data["end"], time.max, tzinfo=tz))
    return qs


@login_required
def complaint_list(request: HttpRequest) -> HttpResponse:
    if not request.user.has_perm("complaints.view_complaint"):
        raise PermissionDenied("没有查看投诉的权限。")
    departments = Department.objects.filter(is_active=True)
    form = FilterForm(request.GET or None, departments=departments)
    qs = visible(request.user)
    if form.is_valid():
        qs = filtered(qs, form.cleaned_data)
    qs = qs.select_related("department", "owner").order_by("-received_at", "-id")
    page = CappedPage(qs, request.GET.get("page"))
    params = request.GET.copy()
    params.pop("page", None)
    unread = ComplaintNotification.objects.filter(recipient_id=request.user.pk, read_at__isnull=True).count()
    template = "complaints/list.html#results" if request.htmx else "complaints/list.html"  # type: ignore[attr-defined]
    return render(request, template, {
        "form": form, "page": page, "query": params.urlencode(), "now": timezone.now(), "unread": unread,
        "can_add": request.user.has_perm("complaints.add_complaint"),
    })


def _initial_from_source(request: HttpRequest) -> dict[str, Any]:
    """One-click creation from a call, follow-up record or survey answer: ?source_type=…&source_id=…
    &channel=…&content=…&patient=…&department=…"""
    g = request.GET
    initial: dict[str, Any] = {"received_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M"), "channel": "phone"}
    for key in ("channel", "source_type", "source_id", "content", "category"):
        if g.get(key):
            initial[key] = g[key][:2000]
    if g.get("patient", "").isdigit():
        initial["patient_id"] = int(g["patient"])
    if g.get("department"):
        dept = Department.objects.filter(code=g["department"]).first()
        if dept:
            initial["department"] = dept.pk
    return initial


@login_required
def complaint_new(request: HttpRequest) -> HttpResponse:
    if not request.user.has_perm("complaints.add_complaint"):
        raise PermissionDenied("没有登记投诉的权限。")
    form = IntakeForm(request.POST or None, initial=_initial_from_source(request))
    if request.method == "POST" and form.is_valid():
        d = form.cleaned_data
        suggestion = classifier.suggest(d["content"])
        data = ComplaintData(
            channel=d["channel"], content=d["content"], received_at=d["received_at"], category=d["category"],
            severity=d["severity"], subcategory_id=d["subcategory"].pk if d["subcategory"] else None,
            complainant_name=d["complainant_name"], complainant_phone=d["complainant_phone"],
            complainant_email=d["complainant_email"], relation=d["relation"], patient_id=d["patient_id"],
            department_id=d["department"].pk if d["department"] else None,
            staff_doctor_id=d["staff_doctor"].pk if d["staff_doctor"] else None, staff_text=d["staff_text"],
            event_at=d["event_at"], event_place=d["event_place"], demands=d["demands"],
            source_type=d["source_type"], source_id=d["source_id"], external_ref=d["external_ref"],
            suggested_category=suggestion.category, suggested_department_id=suggestion.department_id,
            suggestion_confidence=suggestion.category_confidence,
        )
        if data.department_id is None and data.staff_doctor_id is not None:
            data.department_id = d["staff_doctor"].department_id
        try:
            complaint = actions.register_complaint(data, acting_user=request.user)
        except ValidationError as exc:
            for field, errs in exc.message_dict.items():
                form.add_error(field if field in form.fields else None, errs)
        else:
            messages.success(request, f"已登记投诉 {complaint.case_no}，已通知投诉人受理编号和答复时间。")
            return redirect("complaints:detail", case_no=complaint.case_no)
    return render(request, "complaints/new.html", {"form": form})


@login_required
@require_POST
def suggest(request: HttpRequest) -> HttpResponse:
    """htmx: the suggestion box for the text typed so far."""
    if not request.user.has_perm("complaints.add_complaint"):
        raise PermissionDenied
    text = (request.POST.get("content") or "")[:5000]
    suggestion = classifier.suggest(text) if len(text.strip()) >= 5 else None
    return render(request, "complaints/_suggestion.html", {"suggestion": suggestion})


def _get_case(request: HttpRequest, case_no: str) -> Complaint:
    qs = visible(request.user).select_related(
        "department", "owner", "registered_by", "subcategory", "patient", "staff_doctor", "staff_user",
        "classified_by", "merged_into", "suggested_department",
    )
    return get_object_or_404(qs, case_no=case_no)


@login_required
def complaint_detail(request: HttpRequest, case_no: str) -> HttpResponse:
    c = _get_case(request, case_no)
    now = timezone.now()
    available = actions.available_actions(c, request.user)
    step_actions = [a for a in available if a not in ("attach",)]
    forms = {a: ACTION_FORMS[a](prefix=a) for a in step_actions if a in ACTION_FORMS}
    if "request_statement" in forms:
        forms["request_statement"].initial = {"staff_name": c.staff_label}
    suggestion = classifier.suggest(f"{c.summary} {c.content}") if c.is_open else None
    events = list(c.events.select_related("actor").order_by("at", "id"))
    for e in events:
        e.label = ACTION_LABELS.get(e.verb, e.verb)  # type: ignore[attr-defined]
    deadlines = list(c.deadlines.order_by("round", "due_at"))
    for d in deadlines:
        d.badge = d.state(now)  # type: ignore[attr-defined]
    ctx = {
        "c": c,
        "now": now,
        "events": events,
        "deadlines": deadlines,
        "statements": list(c.statements.all()),
        "plans": list(c.plans.select_related("proposed_by", "decided_by")),
        "attachments": list(c.attachments.select_related("uploaded_by")),
        "action_forms": [(a, ACTION_LABELS.get(a, a), forms[a]) for a in forms],
        "can_attach": "attach" in available,
        "attachment_form": AttachmentForm(),
        "suggestion": suggestion,
        "subcategories": list(Subcategory.objects.filter(category=c.category, is_active=True)),
        "label": "complaints.complaint",
        "steps": _steps(c),
    }
    return render(request, "complaints/detail.html", ctx)


STEP_LABELS = ["受理", "核实", "处理", "反馈", "归档", "分析"]
# status → how many of the six steps are done (the next one is the current step)
STEPS_DONE: dict[str, int] = {
    Status.REGISTERED: 0, Status.ACCEPTED: 1, Status.VERIFYING: 1, Status.RESOLVING: 2, Status.FEEDBACK: 3,
    Status.ARCHIVED: 5, Status.ANALYSED: 6,
}


def _steps(c: Complaint) -> list[dict[str, Any]]:
    """The six steps with done / current / todo, for the progress bar (none for a merged case)."""
    if c.status not in STEPS_DONE:
        return []
    done = STEPS_DONE[c.status] + (1 if c.status == Status.FEEDBACK and c.feedback_at else 0)
    return [
        {"label": label, "state": "done" if i < done else ("current" if i == done else "todo")}
        for i, label in enumerate(STEP_LABELS)
    ]


def _run(action: str, c: Complaint, d: dict[str, Any], user: Any) -> str:
    """Call the action with the form's data; returns the success message."""
    if action == "accept":
        actions.accept(c, acting_user=user, note=d["note"])
    elif action == "request_statement":
        actions.request_statement(c, acting_user=user, staff_name=d["staff_name"], note=d["note"])
    elif action == "record_statement":
        actions.record_statement(c, acting_user=user, content=d["content"])
    elif action == "classify":
        actions.classify(c, acting_user=user, finding=d["finding"], note=d["note"], category=d["category"] or None,
                         severity=d["severity"] or None)
    elif action == "propose_plan":
        actions.propose_plan(c, acting_user=user, kind=d["kind"], description=d["description"], amount=d["amount"],
                             committee_review=d["committee_review"], dispute_route=d["dispute_route"] or "")
    elif action == "approve_plan":
        actions.approve_plan(c, acting_user=user, note=d["note"])
    elif action == "reject_plan":
        actions.reject_plan(c, acting_user=user, note=d["note"])
    elif action == "resolve":
        actions.resolve(c, acting_user=user, summary=d["summary"])
    elif action == "give_feedback":
        actions.give_feedback(c, acting_user=user, rating=d["rating"], note=d["note"])
    elif action == "archive":
        actions.archive(c, acting_user=user, note=d["note"])
    elif action == "analyse":
        actions.analyse(c, acting_user=user, root_cause=d["root_cause"], suggestion=d["suggestion"])
    elif action == "reopen":
        actions.reopen(c, acting_user=user, reason=d["reason"])
    elif action == "transfer":
        actions.transfer(c, acting_user=user, department=d["department"], reason=d["reason"])
    elif action == "pause":
        actions.pause(c, acting_user=user, reason=d["reason"])
    elif action == "resume":
        actions.resume(c, acting_user=user, note=d["note"])
    elif action == "extend_deadline":
        actions.extend_deadline(c, acting_user=user, kind=d["kind"], working_days=d["working_days"], reason=d["reason"],
                                notified_note=d["notified_note"])
    elif action == "merge":
        target = visible(user).filter(case_no=d["into"].strip().upper()).first()
        if target is None:
            raise TransitionError("没有找到要合并到的投诉编号。")
        actions.merge(c, into=target, acting_user=user, reason=d["reason"])
    else:  # pragma: no cover - ACTION_FORMS and this list are kept together
        raise Http404
    return f"{ACTION_LABELS.get(action, action)}：已完成。"


@login_required
@require_POST
def complaint_action(request: HttpRequest, case_no: str, action: str) -> HttpResponse:
    if action not in ACTION_FORMS:
        raise Http404
    c = _get_case(request, case_no)
    if not can(request.user, action, c):
        raise PermissionDenied("您没有权限对此投诉执行该操作。")
    form = ACTION_FORMS[action](request.POST, prefix=action)
    if not form.is_valid():
        parts = []
        for name, errs in form.errors.items():
            text = "，".join(str(m) for m in errs)
            parts.append(f"{form.fields[name].label}：{text}" if name in form.fields else text)
        errors = "；".join(parts)
        messages.error(request, f"{ACTION_LABELS.get(action, action)}未完成：{errors}")
        return redirect("complaints:detail", case_no=c.case_no)
    try:
        text = _run(action, c, form.cleaned_data, request.user)
    except ValidationError as exc:
        messages.error(request, f"{ACTION_LABELS.get(action, action)}未完成：{'；'.join(exc.messages)}")
    else:
        messages.success(request, text)
    return redirect("complaints:detail", case_no=c.case_no)


@login_required
@require_POST
def attachment_upload(request: HttpRequest, case_no: str) -> HttpResponse:
    c = _get_case(request, case_no)
    if not can(request.user, "attach", c):
        raise PermissionDenied
    form = AttachmentForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, "请选择要上传的文件。")
    else:
        try:
            actions.add_attachment(c, acting_user=request.user, upload=form.cleaned_data["file"], kind=form.cleaned_data["kind"])
        except ValidationError as exc:
            messages.error(request, "上传未完成：" + "；".join(exc.messages))
        else:
            messages.success(request, "附件已上传。")
    return redirect("complaints:detail", case_no=c.case_no)


@login_required
def attachment_download(request: HttpRequest, case_no: str, pk: int) -> FileResponse:
    """Files are served only here: the case must be visible to the user (department scope), and
    every download is audited."""
    c = _get_case(request, case_no)
    att = get_object_or_404(Attachment, pk=pk, complaint=c)
    try:
        handle = att.file.open("rb")
    except FileNotFoundError as exc:
        raise Http404 from exc
    audit.record(actor=request.user, verb="complaints.attachment_viewed", target=c, attachment_id=att.pk)
    inline = att.content_type.startswith("image/") or att.content_type == "application/pdf"
    response = FileResponse(handle, content_type=att.content_type, as_attachment=not inline, filename=att.original_name)
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
def notices(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        actions.mark_notifications_read(request.user)
        return redirect("complaints:notices")
    qs = ComplaintNotification.objects.filter(recipient_id=request.user.pk).select_related("complaint").order_by("-created_at", "-id")
    page = Paginator(qs, 50).get_page(request.GET.get("page"))
    return render(request, "complaints/notices.html", {"page": page})


@login_required
def settings_page(request: HttpRequest) -> HttpResponse:
    """Deadline policies per category and severity, and the subcategories (both editable)."""
    if not request.user.has_perm("complaints.change_deadlinepolicy"):
        raise PermissionDenied("没有修改投诉设置的权限。")
    policy_form = PolicyForm(prefix="policy")
    sub_form = SubcategoryForm(prefix="sub")
    if request.method == "POST":
        if "policy-kind" in request.POST:
            policy_form = PolicyForm(request.POST, prefix="policy")
            if policy_form.is_valid():
                try:
                    actions.save_policy(acting_user=request.user, **policy_form.cleaned_data)
                except ValidationError as exc:
                    messages.error(request, "；".join(exc.messages))
                else:
                    messages.success(request, "处理时限已保存，对之后登记的投诉生效。")
                    return redirect("complaints:settings")
        else:
            sub_form = SubcategoryForm(request.POST, prefix="sub")
            if sub_form.is_valid():
                actions.save_subcategory(acting_user=request.user, **sub_form.cleaned_data)
                messages.success(request, "子类已保存。")
                return redirect("complaints:settings")
    return render(request, "complaints/settings.html", {
        "policies": DeadlinePolicy.objects.order_by("kind", "category", "severity"),
        "subcategories": Subcategory.objects.order_by("category", "sort_order", "name"),
        "policy_form": policy_form, "sub_form": sub_form,
    })
