"""Small builders for the value / duplicates tests (direct model writes, like an import would)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.utils import timezone

from caredesk.patients.models import Encounter, Patient

_seq = [0]


def make_patient(name: str = "张三", *, department: Any = None, visits: int = 1, inpatient: int = 0,
                 last_days_ago: int = 10, **fields: Any) -> Patient:
    """A patient with ``visits`` encounters (``inpatient`` of them inpatient stays) in ``department``."""
    now = timezone.now()
    patient = Patient(name=name, **fields)
    patient.refresh_derived_fields()
    patient.save()
    encounters = []
    for i in range(visits):
        _seq[0] += 1
        kind = Encounter.Kind.INPATIENT if i < inpatient else Encounter.Kind.OUTPATIENT
        at = now - timedelta(days=last_days_ago + 30 * i)
        encounters.append(Encounter(
            patient=patient, kind=kind, source_system="TEST", source_id=f"V{_seq[0]}",
            department=department, department_name=getattr(department, "name", ""),
            visit_at=at, admitted_at=at if kind == Encounter.Kind.INPATIENT else None,
            status=Encounter.Status.DISCHARGED if kind == Encounter.Kind.INPATIENT else Encounter.Status.ACTIVE,
        ))
    Encounter.objects.bulk_create(encounters)
    if visits:
        Patient.objects.filter(pk=patient.pk).update(
            visit_count=visits, last_visit_at=now - timedelta(days=last_days_ago),
            first_visit_at=now - timedelta(days=last_days_ago + 30 * (visits - 1)),
        )
        patient.refresh_from_db()
    return patient
