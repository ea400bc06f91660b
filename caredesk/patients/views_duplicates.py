"""Likely duplicates (疑似重复档案) and the merge screen (合并档案): supervisor and admin only."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from caredesk.core import pii

from .actions import merge_duplicate
from .duplicates import candidate_pairs
from .models import Encounter, Patient, PatientIdentifier

MERGE_PERMISSION = "patients.merge_patients"


def _patients(request: HttpRequest) -> Any:
    return Patient.objects.visible_to(request.user).active()


def _masked(patient: Patient) -> dict[str, Any]:
    return {
        "pk": patient.pk,
        "name": pii.mask_name(patient.name),
        "sex": patient.get_sex_display(),
        "birth_date": patient.birth_date,
        "id_number": pii.mask_id_number(patient.id_number),
        "mobile": pii.mask_phone(patient.mobile),
        "address": pii.mask_address(patient.address),
        "outpatient_no": patient.outpatient_no,
        "inpatient_no": patient.inpatient_no,
        "customer_type": patient.get_customer_type_display(),
        "visit_count": patient.visit_count,
        "last_visit_at": patient.last_visit_at,
        "created_at": patient.created_at,
    }


@login_required
@permission_required(MERGE_PERMISSION, raise_exception=True)
def duplicate_list(request: HttpRequest) -> HttpResponse:
    pairs = [
        {"first": _masked(c.first), "second": _masked(c.second), "reasons": c.reasons}
        for c in candidate_pairs(_patients(request))
    ]
    return render(request, "patients/duplicate_list.html", {"pairs": pairs})


def _pick(request: HttpRequest, key: str) -> Patient:
    raw = request.POST.get(key) if request.method == "POST" else request.GET.get(key)
    pk = int(raw) if raw and raw.isdigit() else 0
    return get_object_or_404(_patients(request), pk=pk)


def _shown(v: Any) -> Any:
    """What the page shows: datetimes to the minute, local time."""
    if isinstance(v, datetime):
        return timezone.localtime(v).strftime("%Y-%m-%d %H:%M")
    return v


def _patient_url(pk: int) -> str:
    try:
        return reverse("patients:detail", args=[pk])
    except NoReverseMatch:  # the patient page arrives with the archive pages
        return reverse("patients:duplicates")


@login_required
@permission_required(MERGE_PERMISSION, raise_exception=True)
def merge_screen(request: HttpRequest) -> HttpResponse:
    a = _pick(request, "a")
    b = _pick(request, "b")
    errors: list[str] = []
    if a.pk == b.pk:
        errors.append(_("不能把一份档案与它自己合并。"))
    if request.method == "POST" and not errors:
        survivor_pk = request.POST.get("survivor", "")
        reason = (request.POST.get("reason") or "").strip()
        if survivor_pk not in (str(a.pk), str(b.pk)):
            errors.append(_("请选择保留哪一份档案。"))
        if not reason:
            errors.append(_("请填写合并原因。"))
        elif len(reason) > 200:
            errors.append(_("合并原因不能超过 200 个字。"))
        if not errors:
            survivor, merged = (a, b) if survivor_pk == str(a.pk) else (b, a)
            merge_duplicate(survivor, merged, reason=reason, acting_user=request.user)
            messages.success(request, _("档案已合并，保留档案编号 %(pk)s。") % {"pk": survivor.pk})
            return redirect(_patient_url(survivor.pk))
    counts = [
        {
            "encounters": Encounter.objects.filter(patient=p).count(),
            "identifiers": PatientIdentifier.objects.filter(patient=p).count(),
        }
        for p in (a, b)
    ]
    rows = [
        (_("姓名"), "name"), (_("性别"), "sex"), (_("出生日期"), "birth_date"), (_("身份证号"), "id_number"),
        (_("手机号"), "mobile"), (_("地址"), "address"), (_("门诊号"), "outpatient_no"), (_("住院号"), "inpatient_no"),
        (_("客户类型"), "customer_type"), (_("就诊次数"), "visit_count"), (_("最近就诊"), "last_visit_at"),
        (_("建档时间"), "created_at"),
    ]
    ma, mb = _masked(a), _masked(b)
    comparison = [
        {"label": label, "a": ma[key], "b": mb[key], "differs": _shown(ma[key]) != _shown(mb[key])} for label, key in rows
    ]
    return render(request, "patients/merge_screen.html", {
        "a": ma, "b": mb, "comparison": comparison, "counts_a": counts[0], "counts_b": counts[1], "errors": errors,
        "survivor": request.POST.get("survivor", str(a.pk)), "reason": request.POST.get("reason", ""),
    }, status=400 if errors and request.method == "POST" else 200)
