"""Case library pages: the searchable library (published cases), the review queue (drafts and
archived cases not yet drafted), drafting from a case, editing and publishing, withdrawing."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from . import caselib
from .forms_extra import CaseEditForm
from .models import Category, Complaint, Status
from .models_extra import CaseStudy, CaseTag

PAGE_SIZE = 20


@login_required
@permission_required("complaints.view_casestudy", raise_exception=True)
def case_library(request: HttpRequest) -> HttpResponse:
    q = (request.GET.get("q") or "").strip()[:60]
    tag = (request.GET.get("tag") or "").strip()[:30]
    category = request.GET.get("category") or ""
    cases = CaseStudy.objects.filter(state=CaseStudy.State.PUBLISHED)
    for word in q.split():
        cases = cases.filter(Q(title__icontains=word) | Q(narrative__icontains=word) | Q(handling__icontains=word)
                             | Q(lessons__icontains=word) | Q(tags__name=word)).distinct()
    if tag:
        cases = cases.filter(tags__name=tag)
    if category in Category.values:
        cases = cases.filter(category=category)
    page = Paginator(cases.prefetch_related("tags").order_by("-published_at", "-id"), PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "complaints/extra/case_library.html", {
        "page": page, "q": q, "tag": tag, "category": category, "categories": Category.choices,
        "tags": CaseTag.objects.filter(cases__state=CaseStudy.State.PUBLISHED).distinct().order_by("name"),
        "query": query.urlencode(),
    })


@login_required
@permission_required("complaints.add_casestudy", raise_exception=True)
def case_review(request: HttpRequest) -> HttpResponse:
    drafts = CaseStudy.objects.filter(state=CaseStudy.State.DRAFT).select_related("complaint").order_by("-drafted_at")
    candidates = (
        Complaint.objects.visible_to(request.user).filter(status__in=[Status.ARCHIVED, Status.ANALYSED], case_study__isnull=True)
        .select_related("department").order_by("-archived_at", "-id")[:50]
    )
    return render(request, "complaints/extra/case_review.html", {"drafts": drafts, "candidates": candidates})


@require_POST
@login_required
@permission_required("complaints.add_casestudy", raise_exception=True)
def case_draft(request: HttpRequest, complaint_id: int) -> HttpResponse:
    complaint = get_object_or_404(Complaint.objects.visible_to(request.user), pk=complaint_id)
    try:
        case = caselib.draft_case(complaint, acting_user=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
        return redirect("complaints:case_review")
    messages.success(request, _("已生成脱敏草稿，请逐字审核后发布。"))
    return redirect("complaints:case_edit", case.pk)


def _case_for(request: HttpRequest, pk: int) -> CaseStudy:
    case = get_object_or_404(CaseStudy.objects.select_related("complaint", "published_by"), pk=pk)
    if case.state != CaseStudy.State.PUBLISHED and not request.user.has_perm("complaints.add_casestudy"):
        raise Http404
    return case


@login_required
@permission_required("complaints.view_casestudy", raise_exception=True)
def case_detail(request: HttpRequest, pk: int) -> HttpResponse:
    case = _case_for(request, pk)
    return render(request, "complaints/extra/case_detail.html", {"case": case, "tags": list(case.tags.all())})


@login_required
@permission_required("complaints.publish_casestudy", raise_exception=True)
def case_edit(request: HttpRequest, pk: int) -> HttpResponse:
    case = _case_for(request, pk)
    initial: dict[str, Any] = {"title": case.title, "narrative": case.narrative, "handling": case.handling,
                               "lessons": case.lessons, "tags": " ".join(t.name for t in case.tags.all())}
    form = CaseEditForm(request.POST or None, initial=initial)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                caselib.publish_case(case, title=data["title"], narrative=data["narrative"], handling=data["handling"],
                                     lessons=data["lessons"], tags=caselib.parse_tags(data["tags"]), acting_user=request.user)
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                messages.success(request, _("案例已发布。"))
                return redirect("complaints:case_detail", case.pk)
        status = 422
    return render(request, "complaints/extra/case_edit.html", {"case": case, "form": form}, status=status)


@require_POST
@login_required
@permission_required("complaints.publish_casestudy", raise_exception=True)
def case_withdraw(request: HttpRequest, pk: int) -> HttpResponse:
    case = _case_for(request, pk)
    try:
        caselib.withdraw_case(case, acting_user=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("案例已撤回。"))
    return redirect("complaints:case_library")
