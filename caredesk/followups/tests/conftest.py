from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from caredesk.followups.models import FollowupTask
from caredesk.followups.tests.helpers import make_encounter
from caredesk.patients.tests.factories import make_id_number, make_patient


@pytest.fixture
def today(monkeypatch: pytest.MonkeyPatch) -> date:
    """The follow-up pages' "today"."""
    day = date(2026, 11, 23)
    from caredesk.followups import views

    monkeypatch.setattr(views, "_today", lambda: day)
    return day


@pytest.fixture
def due_tasks(org: dict[str, Any], today: date) -> Any:
    """n patients with a 出院随访 first call due today (discharged 7 days before), in 骨科."""

    def make(n: int, *, department: str = "骨科", start: int = 500, **patient: Any) -> list[FollowupTask]:
        made = []
        for i in range(n):
            p = make_patient(f"患者{start + i}", id_number=make_id_number(seq=start + i), mobile=f"1390000{start + i:04d}", **patient)
            enc = make_encounter(p, discharged="2026-11-16 10:00", department=department)
            made.append(FollowupTask.objects.get(encounter=enc, step_key="1"))
        return made

    return make
