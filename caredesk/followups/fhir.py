"""Follow-up tasks as FHIR R4 ``Task`` (read-only): ``GET /fhir/Task?patient=…`` and
``GET /fhir/Task/{id}``. Same authentication, validation (R4B), masking and audit as the archive's
FHIR façade (caredesk/api/fhir/views.py): a Task carries no identity data, only references."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from caredesk.api.fhir import resources
from caredesk.api.fhir.views import _audit_reads, _guard, fhir_response, outcome, patient_search_params
from caredesk.core.scope import scope_to_user
from caredesk.patients.models import VIEW_ALL_PERMISSION, Patient

from .models import FollowupTask

TASK_PARAMS = {"patient", "subject", "status", "_count", "_format"}
TASK_SYSTEM = "urn:caredesk:followup-task"
PLAN_SYSTEM = "urn:caredesk:followup-plan"
STATUS_TO_FHIR = {
    "open": "requested",
    "assigned": "accepted",
    "done": "completed",
    "unreachable": "failed",
    "withdrawn": "cancelled",
    "cancelled": "cancelled",
}
FHIR_TO_STATUS: dict[str, list[str]] = {}
for _ours, _theirs in STATUS_TO_FHIR.items():
    FHIR_TO_STATUS.setdefault(_theirs, []).append(_ours)


def task_resource(task: FollowupTask) -> dict[str, Any]:
    template = task.plan.template
    label = task.step.label if task.step else task.step_key
    status = STATUS_TO_FHIR[task.status]
    if status == "accepted" and (getattr(task, "call_attempts_count", None) or 0) > 0:
        status = "in-progress"
    resource: dict[str, Any] = {
        "resourceType": "Task",
        "id": str(task.pk),
        "identifier": [{"system": TASK_SYSTEM, "value": str(task.pk)}],
        "groupIdentifier": {"system": PLAN_SYSTEM, "value": str(task.plan_id)},
        "status": status,
        "intent": "plan",
        "priority": "urgent" if task.priority >= 50 else "routine",
        "code": {"coding": [{"system": PLAN_SYSTEM, "code": template.code, "display": template.name}], "text": label},
        "description": f"{template.name} · {label} · {task.get_channel_display()}",
        "for": {"reference": f"Patient/{task.patient_id}"},
        "executionPeriod": {"start": task.due_date.isoformat()},
        "authoredOn": task.created_at.isoformat(),
        "input": [{"type": {"text": "channel"}, "valueCode": task.channel}],
    }
    if task.encounter_id:
        resource["encounter"] = {"reference": f"Encounter/{task.encounter_id}"}
    if task.outcome:
        resource["statusReason"] = {"coding": [{"system": "urn:caredesk:followup-outcome", "code": task.outcome}]}
    if task.assignee_id:
        resource["owner"] = {"display": str(task.assignee)}
    if task.closed_at:
        resource["lastModified"] = task.closed_at.isoformat()
        resource["executionPeriod"]["end"] = task.closed_at.isoformat()
    output = []
    if task.satisfaction is not None:
        output.append({"type": {"text": "satisfaction"}, "valueInteger": task.satisfaction})
    record = getattr(task, "record", None) if task.status == "done" else None
    if record is not None and record.response_id:
        output.append({"type": {"text": "followup-record"}, "valueReference": {"reference": f"QuestionnaireResponse/{record.response_id}"}})
    if output:
        resource["output"] = output
    return resources.validated(resource)


def _tasks_for(user: Any) -> Any:
    from django.db.models import Count

    qs = FollowupTask.objects.filter(patient__in=Patient.objects.visible_to(user))
    if not (user.is_superuser or user.has_perm(VIEW_ALL_PERMISSION)):
        qs = scope_to_user(qs, user)
    return qs.select_related("plan__template", "step", "assignee", "record").annotate(call_attempts_count=Count("call_attempts"))


@csrf_exempt
def task_search(request: HttpRequest) -> HttpResponse:
    user, error = _guard(request, TASK_PARAMS)
    if error:
        return error
    params = patient_search_params(request)
    if isinstance(params, HttpResponse):
        return params
    patient_id, count = params
    tasks = _tasks_for(user).filter(patient_id=patient_id)
    wanted = request.GET.get("status")
    if wanted:
        ours = [s for w in wanted.split(",") for s in FHIR_TO_STATUS.get(w.strip(), [])]
        tasks = tasks.filter(status__in=ours)
    tasks = tasks.order_by("due_date", "pk")
    total = tasks.count()
    page = list(tasks[:count])
    entries = [(request.build_absolute_uri(f"/fhir/Task/{t.pk}"), task_resource(t)) for t in page]
    body = resources.searchset(entries, total, request.build_absolute_uri())
    patient = Patient.objects.filter(pk=patient_id).first()
    if patient is not None and page:
        _audit_reads(request, user, [patient], unmasked=False, resource="Task")
    return fhir_response(body)


@csrf_exempt
def task_read(request: HttpRequest, pk: int) -> HttpResponse:
    user, error = _guard(request, {"_format"})
    if error:
        return error
    task = _tasks_for(user).filter(pk=pk).select_related("patient").first()
    if task is None:
        return outcome(404, "not-found", _("Task/%(id)s 不存在。") % {"id": pk})
    body = task_resource(task)
    _audit_reads(request, user, [task.patient], unmasked=False, resource="Task")
    return fhir_response(body)
