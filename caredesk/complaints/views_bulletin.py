"""The monthly bulletin page and its Excel and PDF exports. A department head sees (and exports)
only their departments; whole-hospital roles may narrow to one department."""

from __future__ import annotations

from datetime import date
from typing import Any

from django import forms
from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from caredesk.accounts.models import Department
from caredesk.core import audit
from caredesk.core.exports import pdf_response, xlsx_response

from . import bulletin
from .views_praise import visible_departments


class BulletinForm(forms.Form):
    month = forms.DateField(label=_("月份"), required=False, input_formats=["%Y-%m"],
                            widget=forms.DateInput(attrs={"type": "month"}, format="%Y-%m"),
                            error_messages={"invalid": _("月份格式应为 年-月，如 2026-10。")})
    department = forms.ModelChoiceField(label=_("科室"), required=False, queryset=Department.objects.none(), empty_label=_("全部"),
                                        error_messages={"invalid_choice": _("请选择科室。")})

    def __init__(self, *args: Any, departments: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["department"].queryset = departments  # type: ignore[attr-defined]


def _default_month() -> date:
    """Last month: the bulletin is written at the start of the next one."""
    first = timezone.localdate().replace(day=1)
    return (first - date.resolution).replace(day=1)


def _bulletin(request: HttpRequest) -> tuple[BulletinForm, bulletin.Bulletin]:
    user: Any = request.user
    form = BulletinForm(request.GET or None, departments=visible_departments(user),
                        initial={"month": _default_month()})
    form.is_valid()
    data = getattr(form, "cleaned_data", {})  # the valid fields even when another one is not
    month = data.get("month") or _default_month()
    department = data.get("department")
    visible = user.visible_department_ids()
    if department is not None:
        scope: set[int] | None = department.descendant_ids()
        label = department.name
    elif visible is not None:
        scope = set(visible)
        label = "、".join(Department.objects.filter(pk__in=[d.pk for d in user.departments.all()]).values_list("name", flat=True)) \
            or str(_("本科室"))
    else:
        scope, label = None, str(_("全院"))
    return form, bulletin.build(month, scope, scope_label=label)


@login_required
@permission_required("complaints.view_bulletin", raise_exception=True)
def bulletin_page(request: HttpRequest) -> HttpResponse:
    form, b = _bulletin(request)
    return render(request, "complaints/extra/bulletin.html", {
        "form": form, "b": b, "charts": bulletin.chart_data(b), "query": request.GET.urlencode(),
    })


@login_required
@permission_required("complaints.view_bulletin", raise_exception=True)
def bulletin_xlsx(request: HttpRequest) -> HttpResponseBase:
    _form, b = _bulletin(request)
    audit.record(actor=request.user, verb="complaints.bulletin_exported", format="xlsx", month=f"{b.month:%Y-%m}")
    return xlsx_response(f"投诉统计简报{b.month:%Y-%m}", bulletin.xlsx_sheets(b))


@login_required
@permission_required("complaints.view_bulletin", raise_exception=True)
def bulletin_pdf(request: HttpRequest) -> HttpResponseBase:
    _form, b = _bulletin(request)
    audit.record(actor=request.user, verb="complaints.bulletin_exported", format="pdf", month=f"{b.month:%Y-%m}")
    return pdf_response(f"投诉统计简报{b.month:%Y-%m}", bulletin.pdf_report(b))
