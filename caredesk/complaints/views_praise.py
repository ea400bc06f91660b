"""Praise pages: register, list with counts per person and department, Excel export."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _

from caredesk.accounts.models import Department
from caredesk.core.exports import Column, Sheet, xlsx_response
from caredesk.core.scope import scope_to_user

from .forms_extra import PeriodForm, PraiseForm
from .models_extra import Praise
from .praise import praise_counts, register_praise

PAGE_SIZE = 25


def visible_departments(user: Any) -> Any:
    visible = user.visible_department_ids()
    qs = Department.objects.filter(is_active=True).order_by("sort_order", "code")
    return qs if visible is None else qs.filter(pk__in=visible)


def _period(form: PeriodForm) -> tuple[datetime, datetime]:
    """The filter period as aware datetimes [start, end); default: this month so far."""
    today = timezone.localdate()
    form.is_valid()
    data = getattr(form, "cleaned_data", {})  # the valid fields even when another one is not
    start_day = data.get("start") or today.replace(day=1)
    end_day = data.get("end") or today
    tz = timezone.get_current_timezone()
    return (datetime.combine(start_day, time.min, tzinfo=tz),
            datetime.combine(end_day + timedelta(days=1), time.min, tzinfo=tz))


def _filtered(request: HttpRequest) -> tuple[PeriodForm, Any, datetime, datetime]:
    form = PeriodForm(request.GET or None, departments=visible_departments(request.user))
    start, end = _period(form)
    qs = scope_to_user(Praise.objects.all(), request.user).filter(received_at__gte=start, received_at__lt=end)
    department = getattr(form, "cleaned_data", {}).get("department")
    if department is not None:
        qs = qs.filter(department_id__in=department.descendant_ids())
    return form, qs, start, end


@login_required
@permission_required("complaints.view_praise", raise_exception=True)
def praise_list(request: HttpRequest) -> HttpResponse:
    form, qs, start, end = _filtered(request)
    page = Paginator(qs.select_related("department", "staff_doctor").order_by("-received_at", "-id"), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    department = getattr(form, "cleaned_data", {}).get("department")
    visible = request.user.visible_department_ids()  # type: ignore[union-attr]
    scope: Any = department if department is not None else visible
    counts = praise_counts(start, end, department=scope)
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "complaints/extra/praise_list.html", {
        "form": form, "page": page, "counts": counts, "query": query.urlencode(),
        "start": start.date(), "end": (end - timedelta(days=1)).date(),
    })


@login_required
@permission_required("complaints.view_praise", raise_exception=True)
def praise_export(request: HttpRequest) -> HttpResponseBase:
    _form, qs, start, end = _filtered(request)
    rows = (
        [p.ref_no, timezone.localtime(p.received_at), p.get_channel_display(), p.get_kind_display(),
         p.department.name, p.person_label, p.content]
        for p in qs.select_related("department", "staff_doctor", "staff_user").order_by("received_at", "id").iterator(chunk_size=2000)
    )
    columns: list[Column | str] = [
        _("表扬编号"), _("收到时间"), _("渠道"), _("形式"), _("科室"), _("受表扬人员"), Column(_("表扬内容"), width=60),
    ]
    return xlsx_response(f"{_('表扬登记')}{start:%Y%m%d}-{(end - timedelta(days=1)):%Y%m%d}", [Sheet(_("表扬登记"), columns, rows)])


@login_required
@permission_required("complaints.add_praise", raise_exception=True)
def praise_create(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = PraiseForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            praise = register_praise(
                channel=data["channel"], kind=data["kind"], department=data["department"], content=data["content"],
                received_at=data["received_at"], staff_doctor=data["staff_doctor"], staff_name=data["staff_name"],
                praiser_name=data["praiser_name"], praiser_phone=data["praiser_phone"], acting_user=request.user,
            )
            messages.success(request, _("已登记表扬 %(no)s。") % {"no": praise.ref_no})
            return redirect("complaints:praise_list")
        status = 422
    else:
        form = PraiseForm(initial={"received_at": timezone.localtime().strftime("%Y-%m-%dT%H:%M")})
        status = 200
    return render(request, "complaints/extra/praise_form.html", {"form": form}, status=status)
