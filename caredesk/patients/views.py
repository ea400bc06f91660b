from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.paginator import Page, Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from . import models as patient_models
from .actions import record_patient_view
from .models import Encounter, Patient

PAGE_SIZE = 25
TIMELINE_SIZE = 20


@login_required
def patient_list(request: HttpRequest) -> HttpResponse:
    query = (request.GET.get("q") or "").strip()[:60]
    patients = Patient.objects.visible_to(request.user).active().select_related("group_client")
    capped = False
    page: Page[Any]
    if query:
        # The matching ids are already in memory: ONE query keeps the visible, active ones in
        # page order (the ids go as one array parameter), the count and the page are cut from
        # that list in Python (not a COUNT and a page query that each send the ids back), then
        # only the page's 25 rows are loaded.
        ids, capped = patients.search_ids(query)
        ordered: list[Any] = list(
            patients.among(ids).order_by("-last_visit_at", "-id").values_list("pk", flat=True) if ids else []
        )
        page = Paginator(ordered, PAGE_SIZE).get_page(request.GET.get("page"))
        page_ids = list(page.object_list)
        rows = patients.in_bulk(page_ids) if page_ids else {}
        page.object_list = [rows[pk] for pk in page_ids if pk in rows]
    else:
        page = Paginator(patients.order_by("-last_visit_at", "-id"), PAGE_SIZE).get_page(request.GET.get("page"))
    template = "patients/patient_list.html#results" if request.htmx else "patients/patient_list.html"  # type: ignore[attr-defined]
    return render(request, template, {"page": page, "q": query, "capped": capped, "cap": patient_models.SEARCH_CAP})


SERVICE_HISTORY_SIZE = 5


def _service_history(user: Any, patient: Patient) -> dict[str, Any]:
    """The other modules' latest rows for this patient, each only for staff who may see that module
    (one query each, however long the history)."""
    from caredesk.complaints.models import Complaint
    from caredesk.followups.models import FollowupTask
    from caredesk.questionnaires.models import Response

    history: dict[str, Any] = {}
    if user.has_perm("followups.work_followups") or user.has_perm("followups.supervise_followups"):
        history["followup_tasks"] = list(
            FollowupTask.objects.filter(patient=patient).select_related("plan__template", "assignee")
            .order_by("-due_date", "-id")[:SERVICE_HISTORY_SIZE]
        )
    if user.has_perm("complaints.view_complaint"):
        history["complaints"] = list(
            Complaint.objects.visible_to(user).filter(patient=patient).order_by("-received_at")[:SERVICE_HISTORY_SIZE]
        )
    if user.has_perm("questionnaires.view_response"):
        history["responses"] = list(
            Response.objects.filter(patient=patient, status=Response.Status.COMPLETED)
            .select_related("questionnaire", "department").order_by("-submitted_at")[:SERVICE_HISTORY_SIZE]
        )
    return history


@login_required
def patient_detail(request: HttpRequest, pk: int) -> HttpResponse:
    patient = get_object_or_404(Patient.objects.visible_to(request.user).select_related("group_client"), pk=pk)
    if patient.merged_into_id:
        return redirect("patients:detail", pk=patient.merged_into_id)
    record_patient_view(patient, acting_user=request.user)
    encounters = (
        Encounter.objects.visible_to(request.user)
        .filter(patient=patient)
        .select_related("department", "doctor")
        .order_by("-visit_at", "-id")
    )
    timeline = Paginator(encounters, TIMELINE_SIZE).get_page(request.GET.get("page"))
    ctx = {
        **_service_history(request.user, patient),
        "patient": patient,
        "timeline": timeline,
        "consents": list(patient.consents.all()),
        "tags": list(patient.tags.all()),
        "identifiers": list(patient.identifiers.order_by("system")),
        "label": "patients.patient",
    }
    template = "patients/patient_detail.html#timeline" if request.htmx else "patients/patient_detail.html"  # type: ignore[attr-defined]
    return render(request, template, ctx)
