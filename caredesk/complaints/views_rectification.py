"""Rectification pages: list (mine / my departments / overdue), create, detail with evidence
upload and verification, permission-checked evidence download."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from caredesk.accounts.models import User
from caredesk.core import audit
from caredesk.core.scope import get_visible_or_404

from .forms_extra import EvidenceForm, RectificationForm, VerifyForm
from .models import Complaint
from .models_extra import RectificationItem
from .rectification import create_item, later_scores, submit_evidence, verify_item
from .views_praise import visible_departments

PAGE_SIZE = 25
VIEWS = {
    "mine": gettext_lazy("我负责的"), "department": gettext_lazy("本科室"),
    "overdue": gettext_lazy("已超期"), "done": gettext_lazy("已验证"),
}


def _items(user: Any) -> Any:
    """Items the user may see: their departments' items and the items they own."""
    visible = user.visible_department_ids()
    qs = RectificationItem.objects.all()
    if visible is None:
        return qs
    return qs.filter(Q(department_id__in=visible) | Q(owner=user))


def _can_view(user: Any) -> bool:
    return bool(user.has_perm("complaints.view_rectificationitem") or RectificationItem.objects.filter(owner=user).exists())


@login_required
def rectification_list(request: HttpRequest) -> HttpResponse:
    if not _can_view(request.user):
        raise PermissionDenied
    view = request.GET.get("view") or "mine"
    if view not in VIEWS:
        view = "mine"
    qs = _items(request.user)
    today = timezone.localdate()
    if view == "mine":
        qs = qs.filter(owner=request.user).exclude(status=RectificationItem.Status.VERIFIED)
    elif view == "department":
        qs = qs.exclude(status=RectificationItem.Status.VERIFIED)
    elif view == "overdue":
        qs = qs.overdue(today)
    else:
        qs = qs.filter(status=RectificationItem.Status.VERIFIED)
    qs = qs.select_related("department", "owner", "complaint").order_by("due_date", "id")
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "complaints/extra/rectification_list.html", {
        "page": page, "view": view, "views": VIEWS, "today": today,
    })


@login_required
@permission_required("complaints.add_rectificationitem", raise_exception=True)
def rectification_create(request: HttpRequest) -> HttpResponse:
    complaint = None
    complaint_id = request.GET.get("complaint") or request.POST.get("complaint")
    if complaint_id:
        if not str(complaint_id).isdigit():
            raise Http404
        complaint = get_visible_or_404(Complaint.objects.visible_to(request.user), request.user, pk=int(complaint_id))
    departments = visible_departments(request.user)
    owners = User.objects.filter(is_active=True, departments__in=departments).distinct().order_by("display_name", "username")
    initial: dict[str, Any] = {}
    if complaint is not None:
        initial = {"department": complaint.department_id, "title": complaint.summary[:120]}
    form = RectificationForm(request.POST or None, departments=departments, owners=owners, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        item = create_item(
            title=data["title"], measures=data["measures"], department=data["department"], owner=data["owner"],
            due_date=data["due_date"], topic=data["topic"], complaint=complaint, acting_user=request.user,
        )
        messages.success(request, _("已创建整改事项。"))
        return redirect("complaints:rectification_detail", item.pk)
    status = 422 if request.method == "POST" else 200
    return render(request, "complaints/extra/rectification_form.html", {"form": form, "complaint": complaint}, status=status)


def _get_item(request: HttpRequest, pk: int) -> RectificationItem:
    if not _can_view(request.user):
        raise PermissionDenied
    if not request.user.has_perm("complaints.view_rectificationitem"):
        return _owned_or_404(request, pk)
    item = _items(request.user).select_related("department", "owner", "complaint", "verified_by").filter(pk=pk).first()
    if item is None:
        raise Http404
    return item


def _owned_or_404(request: HttpRequest, pk: int) -> RectificationItem:
    item = RectificationItem.objects.select_related("department", "owner", "complaint", "verified_by").filter(
        pk=pk, owner_id=request.user.pk).first()
    if item is None:
        raise Http404
    return item


def _may_submit(user: Any, item: RectificationItem) -> bool:
    return item.status == RectificationItem.Status.OPEN and (
        item.owner_id == user.pk or user.has_perm("complaints.verify_rectificationitem")
    )


def _may_verify(user: Any, item: RectificationItem) -> bool:
    return (item.status == RectificationItem.Status.SUBMITTED and user.has_perm("complaints.verify_rectificationitem")
            and item.owner_id != user.pk)


def _detail(request: HttpRequest, item: RectificationItem, *, evidence_form: Any = None, verify_form: Any = None,
            status: int = 200) -> HttpResponse:
    return render(request, "complaints/extra/rectification_detail.html", {
        "item": item,
        "overdue": item.is_overdue(),
        "evidence_form": evidence_form or EvidenceForm(),
        "verify_form": verify_form or VerifyForm(),
        "may_submit": _may_submit(request.user, item),
        "may_verify": _may_verify(request.user, item),
        "scores": later_scores(item),
        "scores_connected": bool(getattr(settings, "RECTIFICATION_SCORES_PROVIDER", "")),
    }, status=status)


@login_required
def rectification_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _detail(request, _get_item(request, pk))


@require_POST
@login_required
def rectification_evidence(request: HttpRequest, pk: int) -> HttpResponse:
    item = _get_item(request, pk)
    if not _may_submit(request.user, item):
        raise PermissionDenied
    form = EvidenceForm(request.POST, request.FILES)
    if not form.is_valid():
        return _detail(request, item, evidence_form=form, status=422)
    try:
        submit_evidence(item, text=form.cleaned_data["evidence_text"], upload=form.cleaned_data["evidence_file"],
                        acting_user=request.user)
    except ValidationError as exc:
        form.add_error(None, exc)
        return _detail(request, item, evidence_form=form, status=422)
    messages.success(request, _("整改材料已提交，等待验证。"))
    return redirect("complaints:rectification_detail", item.pk)


@require_POST
@login_required
def rectification_verify(request: HttpRequest, pk: int) -> HttpResponse:
    item = _get_item(request, pk)
    if not _may_verify(request.user, item):
        raise PermissionDenied
    form = VerifyForm(request.POST)
    if not form.is_valid():
        return _detail(request, item, verify_form=form, status=422)
    verify_item(item, result=form.cleaned_data["result"], note=form.cleaned_data["note"], acting_user=request.user)
    messages.success(request, _("已记录验证结果。"))
    return redirect("complaints:rectification_detail", item.pk)


@login_required
def rectification_evidence_file(request: HttpRequest, pk: int) -> HttpResponseBase:
    item = _get_item(request, pk)
    if not item.evidence_file:
        raise Http404
    audit.record(actor=request.user, verb="rectification.evidence_downloaded", target=item)
    return FileResponse(item.evidence_file.open("rb"), as_attachment=True, filename=item.evidence_name or "evidence")
