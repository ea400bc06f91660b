"""Weekly report review and sign-off (immutable archive, Excel), and the figures page."""

from __future__ import annotations

import io
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from caredesk.core.models import AuditEvent
from caredesk.followups import actions
from caredesk.followups.models import FollowupRecord, FollowupTask, WeeklyReport

pytestmark = pytest.mark.django_db


@pytest.fixture
def worked_week(due_tasks, agent):
    """Three calls due in the week of 23 Nov 2026: one reached (satisfaction 4, one problem), one
    unreachable, one still open."""
    from caredesk.followups.models import PlanStep

    PlanStep.objects.update(questionnaire_code="")
    a, b, c = due_tasks(3)
    FollowupTask.objects.filter(pk__in=[a.pk, b.pk, c.pk]).update(assignee=agent, status="assigned")
    actions.log_attempt(a, outcome="reached", agent=agent)
    actions.save_record(a, agent=agent, satisfaction=4, problems=[actions.ProblemInput("problem", "出院带药说明看不懂")])
    actions.log_attempt(b, outcome="wrong_number", agent=agent)
    # the calls were made in that week, whatever the date the suite runs on
    FollowupRecord.objects.update(created_at=datetime(2026, 11, 24, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai")))
    return a, b, c


def test_agent_prepares_and_submits_supervisor_signs_and_the_report_is_frozen(worked_week, agent, supervisor, login, today):
    client = login(agent)
    r = client.post(reverse("followups:report-prepare"), {"week": "2026-11-25", "scope": "me"})
    report = WeeklyReport.objects.get()
    assert r.url == reverse("followups:report", args=[report.pk])
    assert report.week_start == date(2026, 11, 23)
    f = report.figures
    assert (f["due"], f["done"], f["reached"], f["unreachable"], f["open"]) == (3, 1, 1, 1, 1)
    assert f["contact_rate"] == 50.0 and f["satisfaction_avg"] == 4.0 and f["problems"] == 1
    client.post(reverse("followups:report-submit", args=[report.pk]), {"notes": "本周完成情况良好"})
    report.refresh_from_db()
    assert report.status == "submitted"
    assert client.post(reverse("followups:report-sign", args=[report.pk]), {"guidance": "x"}).status_code == 403
    sup = login(supervisor)
    page = sup.get(reverse("followups:report", args=[report.pk])).content.decode()
    assert "出院带药说明看不懂" in page
    sup.post(reverse("followups:report-sign", args=[report.pk]), {"guidance": "注意解释用药"})
    report.refresh_from_db()
    assert report.status == "signed" and report.reviewed_by == supervisor and len(report.snapshot_sha256) == 64
    assert report.snapshot["guidance"] == "注意解释用药" and report.snapshot["figures"]["due"] == 3
    assert AuditEvent.objects.filter(verb="followups.report_signed", object_id=str(report.pk)).exists()
    # frozen: no edit through the model, the actions or a re-prepare
    report.guidance = "改过"
    with pytest.raises(ValidationError):
        report.save()
    with pytest.raises(ValidationError):
        WeeklyReport.objects.get().delete()
    with pytest.raises(ValidationError):
        actions.sign_report(WeeklyReport.objects.get(), guidance="再签", acting_user=supervisor)
    assert actions.prepare_report(date(2026, 11, 23), agent=agent, acting_user=agent).snapshot["guidance"] == "注意解释用药"
    # Excel export of the archived version
    from openpyxl import load_workbook

    x = sup.get(reverse("followups:report-xlsx", args=[report.pk]))
    wb = load_workbook(io.BytesIO(x.content))
    cells = [c.value for row in wb["回访报告"].iter_rows() for c in row]
    assert "注意解释用药" in cells and report.snapshot_sha256 in cells
    assert [c.value for c in wb["问题与建议"][2]][2] == "出院带药说明看不懂"


def test_team_report_needs_a_supervisor(worked_week, agent, supervisor, login):
    assert login(agent).post(reverse("followups:report-prepare"), {"week": "2026-11-23", "scope": "team"}).status_code == 403
    login(supervisor).post(reverse("followups:report-prepare"), {"week": "2026-11-23", "scope": "team"})
    assert WeeklyReport.objects.get().scope_key == "team"


def test_figures_page_counts_coverage_completion_contact_and_satisfaction(worked_week, supervisor, agent, login, org):
    client = login(supervisor)
    r = client.get(reverse("followups:figures"), {"start": "2026-11-01", "end": "2026-11-30", "group": "department"})
    assert r.status_code == 200
    data = r.context["data"]
    assert data["totals"]["discharges"] == 3 and data["totals"]["coverage"] == 100.0
    assert data["totals"]["due"] == 3 and data["totals"]["completion"] == 66.7 and data["totals"]["contact"] == 50.0
    assert data["totals"]["satisfaction"] == 4.0
    row = next(x for x in data["rows"] if x["label"] == "骨科")
    assert row["coverage"] == 100.0 and row["due"] == 3
    for group in ("doctor", "agent", "week"):
        assert client.get(reverse("followups:figures"), {"start": "2026-11-01", "end": "2026-11-30", "group": group}).status_code == 200
    assert 'id="chart-rates"' in r.content.decode() and "followups-figures.js" in r.content.decode()
    assert login(agent).get(reverse("followups:figures")).status_code == 403


def test_supervisor_edits_a_template_and_its_steps(supervisor, agent, login, org):
    from caredesk.followups.models import PlanTemplate

    t = PlanTemplate.objects.get(code="next_day")
    client = login(supervisor)
    page = client.get(reverse("followups:template-edit", args=[t.pk]))
    assert page.status_code == 200
    formset = page.context["steps"]
    data = {"name": "次日回访", "trigger": "any_outpatient", "disabled_departments": [org["wk"].pk], "priority": "0",
            "is_active": "on", "skip_when": t.skip_when_id or "",
            "steps-TOTAL_FORMS": "1", "steps-INITIAL_FORMS": "1", "steps-MIN_NUM_FORMS": "0", "steps-MAX_NUM_FORMS": "1000"}
    step = t.steps.get()
    data.update({"steps-0-id": step.pk, "steps-0-template": t.pk, "steps-0-order": "1", "steps-0-label": "就诊次日",
                 "steps-0-offset": "2", "steps-0-unit": "working_days", "steps-0-channel": "phone",
                 "steps-0-questionnaire_code": "followup-outpatient", "steps-0-script": "您好"})
    assert formset.total_form_count() == 2
    r = client.post(reverse("followups:template-edit", args=[t.pk]), data)
    assert r.status_code == 302, (r.context["form"].errors, r.context["steps"].errors, r.context["steps"].non_form_errors())
    step.refresh_from_db()
    assert step.offset == 2 and list(t.disabled_departments.all()) == [org["wk"]]
    assert AuditEvent.objects.filter(verb="followups.template_changed").exists()
    assert login(agent).get(reverse("followups:templates")).status_code == 403
