from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command

from caredesk.complaints import actions, sweep
from caredesk.complaints.models import Complaint, ComplaintDeadline, ComplaintEvent, ComplaintNotification
from caredesk.core.models import AuditEvent

from .factories import local, make_complaint

pytestmark = pytest.mark.django_db


@pytest.fixture
def case(org, agent, supervisor, dept_head):
    # received Mon 2 Nov 2026 09:00: first response due Thu 5 Nov 09:00 (reminder 4 h before)
    return make_complaint(agent, received_at=local(2026, 11, 2, 9, 0), department_id=org["gk"].pk)


def test_reminder_before_the_deadline_goes_to_owner_and_department_head(case, agent, dept_head, supervisor):
    counts = sweep.sweep(now=local(2026, 11, 5, 6, 0))
    assert counts["reminded"] == 1 and counts["breached"] == 0
    notes = ComplaintNotification.objects.filter(kind="reminder")
    assert set(notes.values_list("recipient_id", flat=True)) == {agent.pk, dept_head.pk}
    assert "首次响应" in notes.first().message
    # idempotent: a second run changes nothing
    assert sweep.sweep(now=local(2026, 11, 5, 6, 0)) == {"reminded": 0, "breached": 0, "notifications": 0}
    assert notes.count() == 2


def test_breach_escalates_to_supervisor_and_department_head(case, agent, dept_head, supervisor):
    now = local(2026, 11, 5, 9, 0, 30)
    counts = sweep.sweep(now=now)
    assert counts["breached"] == 1
    d = ComplaintDeadline.objects.get(complaint=case, kind="first_response")
    assert d.breached_at == now and d.escalated_at == now
    assert Complaint.objects.get(pk=case.pk).is_overdue
    breach = ComplaintNotification.objects.filter(kind="breach")
    assert set(breach.values_list("recipient_id", flat=True)) == {supervisor.pk, dept_head.pk, agent.pk}
    assert ComplaintEvent.objects.filter(complaint=case, verb="deadline_breached").count() == 1
    assert AuditEvent.objects.filter(verb="complaints.deadlines_breached").count() == 1
    before = (ComplaintNotification.objects.count(), ComplaintEvent.objects.count(), AuditEvent.objects.count())
    assert sweep.sweep(now=now + timedelta(minutes=1))["breached"] == 0
    assert (ComplaintNotification.objects.count(), ComplaintEvent.objects.count(), AuditEvent.objects.count()) == before


def test_met_and_paused_deadlines_are_left_alone(case, agent, supervisor):
    actions.accept(case, acting_user=agent)
    other = make_complaint(agent, received_at=local(2026, 11, 2, 9, 0))
    actions.pause(other, acting_user=supervisor, reason="等待投诉人提供票据")
    counts = sweep.sweep(now=local(2026, 11, 5, 10, 0))
    assert counts["breached"] == 0
    assert not ComplaintDeadline.objects.filter(breached_at__isnull=False).exists()


def test_a_breach_is_flagged_within_a_minute_of_the_deadline(case):
    due = ComplaintDeadline.objects.get(complaint=case, kind="first_response").due_at
    assert sweep.sweep(now=due - timedelta(seconds=1))["breached"] == 0
    assert sweep.sweep(now=due + timedelta(seconds=59))["breached"] == 1


def test_batches_and_a_worker_restart_lose_nothing(org, agent, monkeypatch):
    for _ in range(5):
        make_complaint(agent, received_at=local(2026, 11, 2, 9, 0))
    now = local(2026, 11, 30, 9, 0)  # every deadline of every case is breached
    calls = {"n": 0}
    real = sweep._breach_batch

    def crash_on_second(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("worker killed")
        return real(*args, **kwargs)

    monkeypatch.setattr(sweep, "_breach_batch", crash_on_second)
    with pytest.raises(RuntimeError):
        sweep.sweep(now=now, batch_size=4)
    assert ComplaintDeadline.objects.filter(breached_at__isnull=False).count() == 4
    monkeypatch.setattr(sweep, "_breach_batch", real)
    assert sweep.sweep(now=now, batch_size=4)["breached"] == 11
    assert ComplaintDeadline.objects.filter(breached_at__isnull=True).count() == 0


def test_management_command_runs_the_sweep(case, capsys):
    call_command("complaints_sweep")
    assert "breached=" in capsys.readouterr().out


def test_extension_after_a_breach_starts_a_fresh_clock(case, supervisor, monkeypatch):
    from django.utils import timezone

    sweep.sweep(now=local(2026, 11, 10, 9, 0))
    monkeypatch.setattr(timezone, "now", lambda: local(2026, 11, 10, 9, 5))
    d = actions.extend_deadline(case, acting_user=supervisor, kind="reply", reason="需要调取监控录像核实", working_days=2)
    assert d.breached_at is None and d.reminded_at is None
    assert sweep.sweep(now=local(2026, 11, 10, 10, 0))["breached"] == 0
