"""Quick records for follow-up tests."""

from __future__ import annotations

from datetime import datetime
from itertools import count
from typing import Any
from zoneinfo import ZoneInfo

SH = ZoneInfo("Asia/Shanghai")
_serial = count(1)


def at(text: str) -> datetime:
    """'2026-03-20 10:00' in Shanghai time."""
    return datetime.fromisoformat(text).replace(tzinfo=SH)


def make_encounter(patient: Any, *, kind: str = "inpatient", department: str = "", discharged: str | None = None,
                   visit: str | None = None, visit_type: str = "", outcome: str = "", source_id: str = "",
                   diagnosis: str = "") -> Any:
    from caredesk.patients.actions import record_encounter
    from caredesk.patients.data import EncounterData

    data = EncounterData(
        kind=kind, source_system="TEST", source_id=source_id or f"E{next(_serial)}", department=department,
        diagnosis_text=diagnosis,
        visit_at=at(visit) if visit else None,
        admitted_at=at(discharged) if kind == "inpatient" and discharged else None,
        discharged_at=at(discharged) if discharged else None,
        visit_type=visit_type, outcome=outcome,
    )
    encounter, _status = record_encounter(patient, data)
    return encounter


def task_dates(**filters: Any) -> list[tuple[str, str, str]]:
    from caredesk.followups.models import FollowupTask

    return sorted(
        (code, key, due.isoformat())
        for code, key, due in FollowupTask.objects.filter(**filters).values_list("plan__template__code", "step_key", "due_date")
    )
