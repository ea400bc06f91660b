"""Demo data for the follow-up centre (called by ``seed_demo``; idempotent): the shipped plan
templates, plans and tasks for the demo patients' recent visits and discharges (the same daily
sweep as production, looking back 60 days), an on-duty contact per clinical department, and this
morning's assignment to the demo agent."""

from __future__ import annotations

from typing import Any

from django.utils import timezone


def seed_followups(seed: int = 1) -> dict[str, Any]:
    from caredesk.accounts.models import Department

    from .actions import assign_day
    from .generate import sweep
    from .models import FollowupTask, OnDutyContact
    from .plans import ensure_default_plans

    ensure_default_plans()
    today = timezone.localdate()
    summary = sweep(today, lookback_days=60)
    for i, dept in enumerate(Department.objects.filter(kind=Department.Kind.CLINICAL, parent__isnull=True).order_by("code")):
        OnDutyContact.objects.get_or_create(
            department=dept, defaults={"name": f"{dept.name}值班", "phone": f"1370000{seed % 10}{i:03d}"},
        )
    assigned = assign_day(today)
    return {"tasks": FollowupTask.objects.count(), "tasks_offered": summary["tasks_offered"], "assigned": assigned["assigned"]}
