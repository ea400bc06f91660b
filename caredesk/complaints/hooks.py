"""Points where other modules react to complaint events; called by the actions inside their
transaction (plain calls, no signals, like caredesk.patients.hooks)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .models import Complaint


def complaint_closed(complaint: Complaint) -> None:
    """The dossier was archived: the complainant (when a known patient) may be invited to rate how
    the complaint was handled, and a follow-up plan triggered by closed complaints may start."""
    patient = complaint.patient
    if patient is None:
        return
    from django.utils import timezone

    from caredesk.followups.generate import generate_for_event
    from caredesk.surveys.distribution import on_complaint_closed

    on_complaint_closed(complaint, patient=patient, department=complaint.department,
                        closed_at=complaint.archived_at)
    generate_for_event(
        "complaint_closed", patient=patient, source_key=f"complaint:{complaint.pk}",
        day=timezone.localdate(complaint.archived_at or timezone.now()), department_id=complaint.department_id,
    )
