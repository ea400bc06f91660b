"""Value analysis page (价值分析) and saved segments."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from caredesk.accounts.models import Department
from caredesk.core import pii

from . import value
from .actions import save_segment
from .models import Patient, Segment, Tag


def _population(request: HttpRequest) -> Any:
    return Patient.objects.visible_to(request.user).active()


@login_required
def value_page(request: HttpRequest) -> HttpResponse:
    filters, errors = value.clean_filters(request.GET)
    population = _population(request)
    scoring = value.Scoring.of(population)
    figures = value.summary(population, filters, scoring=scoring)
    top = [
        {"pk": p.pk, "name": pii.mask_name(p.name), "visit_count": p.visit_count, "last_visit_at": p.last_visit_at,
         "r": p.r_score, "f": p.f_score, "m": p.m_score, "band": value.BANDS[p.band]}
        for p in value.top_patients(population, filters, scoring=scoring)
    ]
    query = {k: v for k, v in filters.items() if k != "months" or v != value.DEFAULT_DRIFT_MONTHS}
    return render(request, "patients/value_analysis.html", {
        "filters": filters,
        "errors": errors,
        "figures": figures,
        "top": top,
        "bands": value.BANDS,
        "departments": Department.objects.filter(is_active=True).order_by("sort_order", "code"),
        "tags": Tag.objects.order_by("name"),
        "customer_types": Patient.CustomerType.choices,
        "segments": Segment.objects.order_by("name")[:50],
        "query": urlencode(query),
        "chart_labels": {
            "patients": _("患者数"),
            "curve": _("累计就诊占比"),
            "even": _("平均分布"),
            "share": _("80% 线"),
            "x": _("患者累计占比（%）"),
            "y": _("就诊累计占比（%）"),
        },
    })


@login_required
@require_POST
def segment_create(request: HttpRequest) -> HttpResponse:
    filters, errors = value.clean_filters(request.POST)
    name = (request.POST.get("name") or "").strip()
    if not name:
        errors.append(_("请填写分群名称。"))
    elif len(name) > 80:
        errors.append(_("分群名称不能超过 80 个字。"))
    elif Segment.objects.filter(name=name).exists():
        errors.append(_("已有同名分群“%(name)s”，请换一个名称。") % {"name": name})
    back = reverse("patients:value") + "?" + urlencode(filters)
    if errors:
        for e in errors:
            messages.error(request, e)
        return redirect(back)
    segment = save_segment(name=name, criteria=filters, acting_user=request.user)
    messages.success(request, _("已保存分群“%(name)s”。") % {"name": segment.name})
    return redirect(back)
