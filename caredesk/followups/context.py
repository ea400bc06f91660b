"""What the call screen shows beside the task: last encounter, earlier follow-up answers, open
complaints, attempts, and the follow-up questionnaire."""

from __future__ import annotations

import logging
from typing import Any

from .models import FollowupRecord, FollowupTask

log = logging.getLogger("caredesk.followups")


def open_complaints(patient_id: int) -> list[Any]:
    """The patient's open complaints (newest five)."""
    from caredesk.complaints.models import OPEN_STATUSES, Complaint

    return list(Complaint.objects.filter(patient_id=patient_id, status__in=OPEN_STATUSES).order_by("-pk")[:5])


def call_context(task: FollowupTask, user: Any) -> dict[str, Any]:
    from caredesk.patients.models import Encounter

    last = Encounter.objects.filter(patient_id=task.patient_id).select_related("department").order_by("-id").first()
    earlier = list(
        FollowupRecord.objects.filter(patient_id=task.patient_id).exclude(task=task)
        .select_related("task__plan__template", "agent").prefetch_related("problems").order_by("-created_at")[:5]
    )
    record = FollowupRecord.objects.filter(task=task).prefetch_related("problems").first()
    return {
        "encounter": task.encounter,
        "last_encounter": last,
        "earlier": earlier,
        "record": record,
        "attempts": list(task.call_attempts.select_related("agent")),
        "complaints": open_complaints(task.patient_id),
        "script": task.step.script if task.step else "",
        "questionnaire": questionnaire_form(task),
        "earlier_answers": earlier_answers(task.patient_id, task.pk),
    }


PREFIX = "q-"


def resolve_questionnaire(task: FollowupTask) -> Any:
    """The follow-up form for this call: an active follow-up questionnaire of the task's
    department (or the nearest department above it) — e.g. wound pain for surgery, medication for
    internal medicine — else the step's questionnaire code. Only published versions are used."""
    from caredesk.accounts.models import Department
    from caredesk.questionnaires.models import Questionnaire

    chain: list[int] = []
    if task.department_id:
        parents = dict(Department.objects.values_list("id", "parent_id"))
        node: int | None = task.department_id
        while node is not None and node not in chain:
            chain.append(node)
            node = parents.get(node)
    followup = Questionnaire.objects.filter(is_active=True, purpose=Questionnaire.Purpose.FOLLOWUP)
    if chain:
        by_dept = {q.department_id: q for q in followup.filter(department_id__in=chain)}
        for dept in chain:
            if dept in by_dept and by_dept[dept].published_version() is not None:
                return by_dept[dept]
    code = task.step.questionnaire_code if task.step else ""
    if code:
        q = Questionnaire.objects.filter(code=code, is_active=True).first()
        if q is not None and q.published_version() is not None:
            return q
    return None


def questionnaire_form(task: FollowupTask, values: dict[str, Any] | None = None,
                       errors: dict[str, str] | None = None) -> dict[str, Any] | None:
    """What ``questionnaires/_items.html`` needs to render the form (None without a questionnaire)."""
    from caredesk.questionnaires import engine
    from caredesk.questionnaires.forms import fields_for

    questionnaire = resolve_questionnaire(task)
    if questionnaire is None:
        return None
    version = questionnaire.published_version()
    spec = engine.VersionSpec.load(version)
    return {"questionnaire": questionnaire, "version": version, "fields": fields_for(spec, values, errors, prefix=PREFIX)}


def save_questionnaire(task: FollowupTask, data: Any, user: Any) -> tuple[int | None, list[str], dict[str, Any] | None]:
    """Validate and store the questionnaire answers of the call → (response id, red-flag texts,
    None) or, when the answers are invalid, (None, [], the form with the errors to show again)."""
    from caredesk.questionnaires import engine
    from caredesk.questionnaires.actions import ResponseInvalid, Source, save_response
    from caredesk.questionnaires.models import Response

    questionnaire = resolve_questionnaire(task)
    if questionnaire is None:
        return None, [], None
    version = questionnaire.published_version()
    spec = engine.VersionSpec.load(version)
    raw = engine.raw_from_post(spec, data, prefix=PREFIX)
    try:
        response = save_response(
            version, raw, submit=True, patient=task.patient, encounter=task.encounter, department=task.department,
            channel=Response.Channel.PHONE, source=Source.of(task), acting_user=user,
        )
    except ResponseInvalid as exc:
        return None, [], questionnaire_form(task, raw, exc.errors)
    flags = []
    for link_id in response.red_flags:
        item = spec.by_link.get(link_id)
        if item is not None:
            value = engine.clean_value(item, raw.get(link_id))[0]
            flags.append(f"{item.text}：{engine.display_value(item, value)}")
    return response.pk, flags, None


def earlier_answers(patient_id: int, exclude_task: int) -> list[dict[str, Any]]:
    """The patient's earlier follow-up questionnaire answers (last three responses), for the agent."""
    from caredesk.questionnaires import engine
    from caredesk.questionnaires.models import Answer, Response

    responses = list(
        Response.objects.filter(patient_id=patient_id, source_type="followups.followuptask", status=Response.Status.COMPLETED)
        .exclude(source_id=str(exclude_task)).select_related("questionnaire").order_by("-submitted_at")[:3]
    )
    answers: dict[int, list[str]] = {}
    for a in Answer.objects.filter(response__in=responses).select_related("item").order_by("item__order", "id"):
        from caredesk.questionnaires.actions import value_of

        answers.setdefault(a.response_id, []).append(f"{a.item.text} {engine.display_value(a.item, value_of(a))}")
    return [{"response": r, "answers": answers.get(r.pk, []), "red": bool(r.red_flags)} for r in responses]
