"""One-click hand-offs from a follow-up problem to a complaint or a department feedback item.

Each creates the target from the problem (the patient's words as content; the record's patient and
department), marks the problem forwarded with the link (``linked_type``/``linked_id``), audits the
hand-off, and is idempotent: a problem already linked returns as it is.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from caredesk.core import audit

from .models import FollowupProblem


def _link(problem: FollowupProblem, target_type: str, target_id: Any, acting_user: Any) -> FollowupProblem:
    problem.linked_type = target_type
    problem.linked_id = str(target_id)
    problem.status = FollowupProblem.Status.FORWARDED
    problem.save(update_fields=["linked_type", "linked_id", "status"])
    audit.record(actor=acting_user, verb="followups.problem_forwarded", target=problem, to=target_type,
                 to_id=str(target_id), patient_id=problem.record.patient_id)
    return problem


@transaction.atomic
def make_complaint(problem: FollowupProblem, *, acting_user: Any) -> FollowupProblem:
    """Turn a follow-up problem into a complaint (channel 回访中发现), linked to the call."""
    from caredesk.complaints.actions import ComplaintData, register_complaint
    from caredesk.complaints.models import Channel

    if problem.linked_type:
        return problem
    record = problem.record
    patient = record.patient
    complaint = register_complaint(
        ComplaintData(
            channel=Channel.FOLLOWUP, content=problem.words, received_at=timezone.now(),
            complainant_name=patient.name, complainant_phone=patient.mobile or "", patient_id=patient.pk,
            department_id=record.department_id, source_type=problem._meta.label_lower, source_id=str(problem.pk),
        ),
        acting_user=acting_user,
    )
    return _link(problem, "complaints.complaint", complaint.pk, acting_user)


@transaction.atomic
def make_department_feedback(problem: FollowupProblem, *, acting_user: Any) -> FollowupProblem:
    """Send a follow-up problem to the responsible department as a closed-loop feedback item."""
    from caredesk.surveys.actions import open_feedback_item

    if problem.linked_type:
        return problem
    record = problem.record
    item = open_feedback_item(
        patient=record.patient, department=record.department, source=problem,
        reasons=[{"kind": "followup", "text": problem.words[:200]}], summary=problem.words,
        acting_user=acting_user,
    )
    return _link(problem, "surveys.feedbackitem", item.pk, acting_user)
