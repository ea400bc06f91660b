"""Staff pages: landing, rules, invitations, the feedback board and items, QR posters, agent entry."""

from __future__ import annotations

import io
from typing import Any

import qrcode
import qrcode.image.svg
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from caredesk.core import audit
from caredesk.core.scope import get_visible_or_404, scope_to_user
from caredesk.patients.models import Encounter, Patient
from caredesk.questionnaires import engine
from caredesk.questionnaires.actions import ResponseInvalid, values_of
from caredesk.questionnaires.forms import fields_for
from caredesk.questionnaires.models import Response

from . import actions, conf
from .forms import (
    BoardFilterForm,
    CallForm,
    NoRectificationForm,
    PhoneStartForm,
    QRForm,
    RecheckForm,
    RectificationForm,
    RuleForm,
)
from .models import DepartmentQR, FeedbackItem, Invitation, SurveyRule

PAGE_SIZE = 50


def _any_perm(user: Any, *perms: str) -> bool:
    return any(user.has_perm(p) for p in perms)


@login_required
def home(request: HttpRequest) -> HttpResponse:
    user: Any = request.user
    if not _any_perm(user, "surveys.view_surveyrule", "surveys.view_invitation", "surveys.view_feedbackitem",
                     "surveys.view_departmentqr", "surveys.enter_by_phone"):
        raise PermissionDenied
    feedback = scope_to_user(FeedbackItem.objects.filter(status__in=FeedbackItem.OPEN_STATUSES), user)
    counts = feedback.aggregate(open=Count("pk"), overdue=Count("pk", filter=Q(due_at__lt=timezone.now())))
    return render(request, "surveys/home.html", {"counts": counts})


# --- rules ------------------------------------------------------------------------------------------


@login_required
@permission_required("surveys.view_surveyrule", raise_exception=True)
def rule_list(request: HttpRequest) -> HttpResponse:
    rules = SurveyRule.objects.select_related("questionnaire").prefetch_related("departments").annotate(
        invitation_count=Count("invitations")
    )
    return render(request, "surveys/rule_list.html", {"rules": rules})


@login_required
@permission_required("surveys.change_surveyrule", raise_exception=True)
def rule_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    rule = get_object_or_404(SurveyRule, pk=pk) if pk else SurveyRule()
    form = RuleForm(request.POST or None, instance=rule)
    if request.method == "POST" and form.is_valid():
        actions.save_rule(form.save(commit=False), departments=form.cleaned_data["departments"], acting_user=request.user)
        messages.success(request, _("规则已保存。"))
        return redirect("surveys:rules")
    return render(request, "surveys/rule_form.html", {"form": form, "rule": rule}, status=422 if form.errors else 200)


# --- invitations ------------------------------------------------------------------------------------


@login_required
@permission_required("surveys.view_invitation", raise_exception=True)
def invitation_list(request: HttpRequest) -> HttpResponse:
    qs = scope_to_user(Invitation.objects.all(), request.user).select_related("rule", "department", "patient")
    status = request.GET.get("status", "")
    if status in Invitation.Status.values:
        qs = qs.filter(status=status)
    page = Paginator(qs.order_by("-scheduled_at", "-pk"), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "surveys/invitation_list.html",
                  {"page": page, "status": status, "statuses": Invitation.Status.choices})


# --- closed loop ------------------------------------------------------------------------------------


def _feedback_queryset(request: HttpRequest) -> tuple[Any, BoardFilterForm]:
    form = BoardFilterForm(request.GET or None)
    qs = scope_to_user(FeedbackItem.objects.all(), request.user).select_related("department", "patient", "call_by")
    data = form.cleaned_data if form.is_valid() else {}
    status = data.get("status") or ""
    if status == "all":
        pass
    elif status in FeedbackItem.Status.values:
        qs = qs.filter(status=status)
    else:
        qs = qs.filter(status__in=FeedbackItem.OPEN_STATUSES)
    if data.get("department"):
        qs = qs.filter(department__in=data["department"].descendant_ids())
    if data.get("overdue"):
        qs = qs.filter(due_at__lt=timezone.now()).exclude(status=FeedbackItem.Status.CLOSED)
    return qs.order_by("due_at", "pk"), form


@login_required
@permission_required("surveys.view_feedbackitem", raise_exception=True)
def board(request: HttpRequest) -> HttpResponse:
    """The supervisor's board (a department head sees the same board for their own departments)."""
    qs, form = _feedback_queryset(request)
    now = timezone.now()
    visible_open = scope_to_user(FeedbackItem.objects.filter(status__in=FeedbackItem.OPEN_STATUSES), request.user)
    by_department = list(
        visible_open.values("department__name").annotate(
            open=Count("pk"), overdue=Count("pk", filter=Q(due_at__lt=now))
        ).order_by("-overdue", "-open")[:20]
    )
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "surveys/board.html", {
        "page": page, "form": form, "now": now, "by_department": by_department, "query": query.urlencode(),
        "totals": visible_open.aggregate(open=Count("pk"), overdue=Count("pk", filter=Q(due_at__lt=now))),
    })


@login_required
@permission_required("surveys.view_feedbackitem", raise_exception=True)
def feedback_detail(request: HttpRequest, pk: int) -> HttpResponse:
    item = get_visible_or_404(
        FeedbackItem.objects.select_related("department", "patient", "response", "call_by", "rectified_by", "recheck_by"),
        request.user, pk=pk,
    )
    forms: dict[str, Any] = {"call": CallForm(), "rectify": RectificationForm(), "norectify": NoRectificationForm(),
                             "recheck": RecheckForm()}
    user: Any = request.user
    status = 200
    if request.method == "POST":
        step = request.POST.get("step", "")
        try:
            if step in ("call", "rectify", "norectify"):
                if not user.has_perm("surveys.change_feedbackitem"):
                    raise PermissionDenied
                form = {"call": CallForm, "rectify": RectificationForm, "norectify": NoRectificationForm}[step](request.POST)
                forms[step] = form
                if form.is_valid():
                    d = form.cleaned_data
                    if step == "call":
                        actions.record_call(item, outcome=d["outcome"], note=d["note"], acting_user=user)
                    elif step == "rectify":
                        actions.record_rectification(item, note=d["note"], link=d["link"], acting_user=user)
                    else:
                        actions.request_recheck(item, note=d["note"], acting_user=user)
                    messages.success(request, _("已保存。"))
                    return redirect("surveys:feedback_detail", pk=item.pk)
            elif step == "recheck":
                if not user.has_perm("surveys.recheck_feedbackitem"):
                    raise PermissionDenied
                form = RecheckForm(request.POST)
                forms["recheck"] = form
                if form.is_valid():
                    actions.recheck(item, passed=form.cleaned_data["result"] == "passed", note=form.cleaned_data["note"],
                                    acting_user=user)
                    messages.success(request, _("复核已登记。"))
                    return redirect("surveys:feedback_detail", pk=item.pk)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        status = 422
    answers = []
    comments = []
    if item.response_id:
        response = item.response
        assert response is not None  # noqa: S101 - response_id is set
        spec = engine.VersionSpec.load(response.version)
        values = values_of(response)
        for it in spec.items:
            if it.link_id in values:
                answers.append((it, engine.display_value(it, values[it.link_id])))
                if it.kind in ("text", "textarea"):
                    comments.append(values[it.link_id])
    complaint_url = ""
    if user.has_perm("complaints.add_complaint"):
        from caredesk.complaints.links import new_complaint_url

        complaint_url = new_complaint_url(
            item.response or item, channel="survey", content="\n".join(str(c) for c in comments) or item.summary,
            patient_id=item.patient_id, department_code=item.department.code if item.department else "",
        )
    return render(request, "surveys/feedback_detail.html", {
        "item": item, "forms": forms, "answers": answers, "reasons": actions.reason_labels(item.reasons),
        "complaint_url": complaint_url,
        "can_change": user.has_perm("surveys.change_feedbackitem"),
        "can_recheck": user.has_perm("surveys.recheck_feedbackitem"), "now": timezone.now(),
    }, status=status)


# --- QR posters -------------------------------------------------------------------------------------


def qr_svg(data: str) -> str:
    """An SVG QR code drawn locally (the same library as the TOTP set-up code)."""
    img = qrcode.make(data, image_factory=qrcode.image.svg.SvgPathImage, box_size=12, border=2)
    buf = io.BytesIO()
    img.save(buf)
    text = buf.getvalue().decode()
    return text[text.index("<svg"):] if "<svg" in text else text


def qr_url(request: HttpRequest, qr: DepartmentQR) -> str:
    path = reverse("surveys:qr_answer", args=[qr.token])
    base = str(conf.get("SURVEY_PUBLIC_BASE_URL")).rstrip("/")
    return base + path if base else request.build_absolute_uri(path)


@login_required
@permission_required("surveys.view_departmentqr", raise_exception=True)
def qr_list(request: HttpRequest) -> HttpResponse:
    user: Any = request.user
    form = QRForm(request.POST or None)
    if request.method == "POST":
        if not user.has_perm("surveys.add_departmentqr"):
            raise PermissionDenied
        if form.is_valid():
            d = form.cleaned_data
            actions.create_qr(department=d["department"], questionnaire=d["questionnaire"], location=d["location"],
                              acting_user=user)
            messages.success(request, _("二维码已生成。"))
            return redirect("surveys:qr_list")
    codes = scope_to_user(DepartmentQR.objects.select_related("department", "questionnaire"), user)
    return render(request, "surveys/qr_list.html", {"codes": codes, "form": form}, status=422 if form.errors else 200)


@login_required
@permission_required("surveys.view_departmentqr", raise_exception=True)
def qr_poster(request: HttpRequest, pk: int) -> HttpResponse:
    qr = get_visible_or_404(DepartmentQR.objects.select_related("department", "questionnaire"), request.user, pk=pk)
    url = qr_url(request, qr)
    return render(request, "surveys/qr_poster.html", {"qr": qr, "svg": qr_svg(url), "url": url})


@login_required
@permission_required("surveys.change_departmentqr", raise_exception=True)
@require_POST
def qr_toggle(request: HttpRequest, pk: int) -> HttpResponse:
    qr = get_visible_or_404(DepartmentQR.objects.all(), request.user, pk=pk)
    actions.set_qr_active(qr, not qr.is_active, acting_user=request.user)
    return redirect("surveys:qr_list")


# --- agent entry during a call ----------------------------------------------------------------------


@login_required
@permission_required("surveys.enter_by_phone", raise_exception=True)
def phone_start(request: HttpRequest, patient_pk: int) -> HttpResponse:
    patient = get_object_or_404(Patient.objects.visible_to(request.user), pk=patient_pk)
    encounters = list(
        Encounter.objects.filter(patient=patient).exclude(status=Encounter.Status.CANCELLED).order_by("-visit_at", "-pk")[:10]
    )
    form = PhoneStartForm(request.POST or None, encounters=encounters)
    if request.method == "POST" and form.is_valid():
        version = form.cleaned_data["questionnaire"].published_version()
        if version is None:
            form.add_error("questionnaire", _("该问卷还没有发布的版本。"))
        else:
            chosen = form.cleaned_data.get("encounter")
            encounter = next((e for e in encounters if str(e.pk) == chosen), None)
            response = actions.start_phone_response(patient=patient, version=version, encounter=encounter,
                                                    acting_user=request.user)
            return redirect("surveys:phone_response", pk=response.pk)
    audit.record(actor=request.user, verb="survey.phone_entry_viewed", target=patient)
    return render(request, "surveys/phone_start.html", {"patient": patient, "form": form},
                  status=422 if form.errors else 200)


@login_required
@permission_required("surveys.enter_by_phone", raise_exception=True)
def phone_response(request: HttpRequest, pk: int) -> HttpResponse:
    response = get_object_or_404(
        Response.objects.select_related("version", "patient", "department"), pk=pk, channel=Response.Channel.PHONE,
        respondent=request.user,
    )
    spec = engine.VersionSpec.load(response.version)
    values: dict[str, Any] = actions.stored_values(response)
    errors: dict[str, str] = {}
    status = 200
    if request.method == "POST" and response.status == Response.Status.IN_PROGRESS:
        raw = engine.raw_from_post(spec, request.POST)
        submit = request.POST.get("move") == "submit"
        try:
            actions.save_phone_response(response, raw, submit=submit, acting_user=request.user)
            messages.success(request, _("问卷已提交。") if submit else _("已暂存。"))
            return redirect("surveys:phone_response", pk=response.pk)
        except ResponseInvalid as exc:
            values, errors, status = raw, exc.errors, 422
    feedback = FeedbackItem.objects.filter(response=response).first()
    return render(request, "surveys/phone_response.html", {
        "response": response, "fields": fields_for(spec, values, errors), "feedback": feedback,
    }, status=status)
