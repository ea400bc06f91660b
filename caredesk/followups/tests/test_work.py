"""Assignment, the agent's queue, the call screen, attempts and retries, records, alerts."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from caredesk.core.models import AuditEvent
from caredesk.followups import actions
from caredesk.followups.models import Absence, AgentProfile, CallAttempt, FollowupAlert, FollowupPlan, FollowupTask, OnDutyContact
from caredesk.messaging.models import OutboxMessage

pytestmark = pytest.mark.django_db
SH = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def second_agent(org):
    from conftest import make_user

    return make_user("xiaoli", "小李", ["agent"], [org["hf"]])


def test_assignment_balances_load_honours_skills_and_absence(due_tasks, agent, second_agent, org, today):
    from conftest import make_user

    third = make_user("xiaozhao", "小赵", ["agent"], [org["hf"]])
    Absence.objects.create(user=third, start=today, end=today, reason="年假")
    due_tasks(4)
    internal = due_tasks(2, department="内科", start=600)
    profile = AgentProfile.objects.create(user=second_agent)
    profile.skills.add(org["wk"])  # 外科 and 骨科 below it only
    counts = actions.assign_day(today)
    assert counts == {"assigned": 6, "unassigned": 0, "released": 0, "agents": 2}
    by = {t.pk: t.assignee_id for t in FollowupTask.objects.filter(due_date__lte=today)}
    assert all(by[t.pk] == agent.pk for t in internal)  # only 小王 covers 内科
    assert sorted(list(by.values()).count(u) for u in (agent.pk, second_agent.pk)) == [3, 3]
    assert not FollowupTask.objects.filter(assignee=third).exists()
    # 小王 falls ill: the next run gives his open tasks to the others
    Absence.objects.create(user=agent, start=today, end=today)
    counts = actions.assign_day(today)
    assert counts["released"] == 3
    assert FollowupTask.objects.filter(assignee=second_agent).count() == 4  # the 4 骨科 ones
    assert FollowupTask.objects.filter(due_date__lte=today, status="open").count() == 2  # 内科: nobody left


def test_supervisor_reassigns_in_bulk(due_tasks, agent, second_agent, supervisor, login, today):
    tasks = due_tasks(3)
    actions.assign_day(today)
    client = login(supervisor)
    page = client.get(reverse("followups:supervise"))
    assert page.status_code == 200 and 'name="task"' in page.content.decode()
    r = client.post(reverse("followups:reassign"), {"task": [t.pk for t in tasks[:2]], "to_user": second_agent.pk})
    assert r.status_code == 302
    assert FollowupTask.objects.filter(pk__in=[t.pk for t in tasks[:2]], assignee=second_agent).count() == 2
    assert AuditEvent.objects.filter(verb="followups.reassigned").exists()
    assert login(agent).post(reverse("followups:reassign"), {"task": [tasks[2].pk], "to_user": agent.pk}).status_code == 403


def test_the_queue_query_count_does_not_depend_on_the_number_of_tasks(due_tasks, agent, login, today, django_assert_num_queries):
    client = login(agent)
    due_tasks(2)
    FollowupTask.objects.update(assignee=agent, status="assigned")
    client.get(reverse("followups:queue"))  # warm the session/permission caches
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as few:
        r = client.get(reverse("followups:queue"))
    assert r.content.decode().count("data-task=") == 2
    due_tasks(20, start=700)
    FollowupTask.objects.update(assignee=agent, status="assigned")
    with django_assert_num_queries(len(few.captured_queries)):
        r = client.get(reverse("followups:queue"))
    assert r.content.decode().count("data-task=") == 22


def test_queue_orders_by_priority_and_shows_overdue(due_tasks, agent, login, today):
    normal, vip = due_tasks(2)
    FollowupTask.objects.update(assignee=agent, status="assigned")
    FollowupTask.objects.filter(pk=vip.pk).update(priority=50)
    FollowupTask.objects.filter(pk=normal.pk).update(due_date=today - timedelta(days=1))
    html = login(agent).get(reverse("followups:queue")).content.decode()
    assert html.index(f'data-task="{vip.pk}"') < html.index(f'data-task="{normal.pk}"')
    assert "逾期" in html


def test_unreached_is_retried_on_the_next_working_days_then_closed_as_unreachable(due_tasks, agent):
    task = due_tasks(1)[0]
    actions.log_attempt(task, outcome="no_answer", agent=agent, at=datetime(2026, 9, 30, 15, 0, tzinfo=SH))
    task.refresh_from_db()
    assert task.attempts == 1 and task.status == "assigned"
    assert task.next_attempt_at == datetime(2026, 10, 8, 9, 0, tzinfo=SH)  # after National Day, first call window
    actions.log_attempt(task, outcome="busy", agent=agent, at=datetime(2026, 10, 9, 10, 0, tzinfo=SH))
    task.refresh_from_db()
    assert task.next_attempt_at == datetime(2026, 10, 10, 9, 0, tzinfo=SH)  # the 调休 Saturday is a working day
    actions.log_attempt(task, outcome="no_answer", agent=agent, at=datetime(2026, 10, 10, 9, 5, tzinfo=SH))
    task.refresh_from_db()
    assert task.status == "unreachable" and task.closed_at is not None and task.attempts == 3
    with pytest.raises(Exception, match="已结束"):
        actions.log_attempt(task, outcome="no_answer", agent=agent)


def test_callback_refused_wrong_number_and_deceased(due_tasks, agent):
    a, b, c, d = due_tasks(4)
    later = datetime(2026, 11, 24, 20, 0, tzinfo=SH)
    actions.log_attempt(a, outcome="callback", agent=agent, callback_at=later, at=datetime(2026, 11, 23, 10, 0, tzinfo=SH))
    a.refresh_from_db()
    assert a.next_attempt_at == datetime(2026, 11, 25, 9, 0, tzinfo=SH) and a.attempts == 0  # 20:00 is outside the call windows
    actions.log_attempt(b, outcome="refused", agent=agent)
    assert set(FollowupTask.objects.filter(plan=b.plan).exclude(pk=b.pk).values_list("status", flat=True)) == {"cancelled"}
    assert FollowupPlan.objects.get(pk=b.plan_id).reason == "refused"
    actions.log_attempt(c, outcome="wrong_number", agent=agent)
    c.refresh_from_db()
    assert c.status == "unreachable"
    actions.log_attempt(d, outcome="deceased", agent=agent)
    d.patient.refresh_from_db()
    assert d.patient.is_deceased
    assert set(FollowupTask.objects.filter(plan=d.plan).exclude(pk=d.pk).values_list("status", flat=True)) == {"cancelled"}


def test_the_call_screen_logs_reached_and_saves_the_record_with_problems_and_a_red_flag(due_tasks, agent, login, org):
    from caredesk.followups.models import PlanStep

    PlanStep.objects.update(questionnaire_code="")  # the record form on its own (the questionnaire: next test)
    OnDutyContact.objects.create(department=org["gk"], name="骨科值班", phone="13911112222")
    task = due_tasks(1)[0]
    FollowupTask.objects.filter(pk=task.pk).update(assignee=agent, status="assigned")
    client = login(agent)
    page = client.get(reverse("followups:task", args=[task.pk])).content.decode()
    assert "13900000500" not in page and "出院" in page
    dial = client.post(reverse("followups:task-dial", args=[task.pk])).content.decode()
    assert "tel:13900000500" in dial
    assert AuditEvent.objects.filter(verb="pii.reveal", patient_id=task.patient_id).exists()
    r = client.post(reverse("followups:task-attempt", args=[task.pk]), {"outcome": "reached"})
    assert r.status_code == 302 and r.url == reverse("followups:task", args=[task.pk])
    page = client.get(r.url).content.decode()
    assert "回访记录表" in page
    bad = client.post(reverse("followups:task-record", args=[task.pk]), {"satisfaction": "9"})
    assert bad.status_code == 422 and "满意度应为 1 到 5 分" in bad.content.decode()
    r = client.post(reverse("followups:task-record", args=[task.pk]), {
        "satisfaction": "4", "red_flag": "伤口红肿渗液", "summary": "恢复一般",
        "problem_kind_0": "problem", "problem_words_0": "换药要等很久", "problem_kind_1": "suggestion", "problem_words_1": "希望有停车位",
    })
    assert r.status_code == 302
    task.refresh_from_db()
    assert task.status == "done" and task.satisfaction == 4 and task.record.problems.count() == 2
    alert = FollowupAlert.objects.get(task=task)
    assert alert.reason == "伤口红肿渗液"
    msg = OutboxMessage.objects.get(pk=alert.message_id)
    assert msg.recipient == "13911112222" and msg.template == "followup.alert" and "伤口红肿渗液" in msg.body
    assert CallAttempt.objects.filter(task=task, outcome="reached").count() == 1


def test_cured_and_confirmed_recovered_stops_the_discharge_plan(org, agent):
    from caredesk.followups.tests.helpers import make_encounter
    from caredesk.patients.tests.factories import make_id_number, make_patient

    p = make_patient("治愈者", id_number=make_id_number(seq=900))
    enc = make_encounter(p, discharged="2026-11-16 10:00", outcome="cured")
    first = FollowupTask.objects.get(encounter=enc, step_key="1")
    actions.log_attempt(first, outcome="reached", agent=agent)
    actions.save_record(first, agent=agent, satisfaction=5, problems=[], recovered=True)
    plan = FollowupPlan.objects.get(encounter=enc)
    assert plan.status == "closed" and plan.reason == "cured_confirmed"
    assert set(plan.tasks.exclude(pk=first.pk).values_list("status", flat=True)) == {"cancelled"}


def test_sms_steps_go_through_the_outbox_once(org, settings):
    from caredesk.followups.models import PlanTemplate
    from caredesk.followups.tests.helpers import make_encounter
    from caredesk.patients.tests.factories import make_id_number, make_patient

    t = PlanTemplate.objects.create(code="sms", name="短信关怀", trigger="discharge")
    t.steps.create(order=1, label="出院次日短信", offset=1, channel="sms")
    p = make_patient("短信者", id_number=make_id_number(seq=901), mobile="13900009011")
    make_encounter(p, discharged="2026-11-16 10:00")
    assert actions.dispatch_messages(date(2026, 11, 23)) == 1
    assert actions.dispatch_messages(date(2026, 11, 23)) == 0
    msg = OutboxMessage.objects.get(template="followup.reminder")
    task = FollowupTask.objects.get(plan__template=t)
    assert msg.idempotency_key == f"followup-task:{task.pk}" and task.status == "done"


def test_agents_cannot_open_someone_elses_task(due_tasks, agent, second_agent, login, outsider):
    task = due_tasks(1)[0]
    FollowupTask.objects.filter(pk=task.pk).update(assignee=second_agent, status="assigned")
    assert login(agent).get(reverse("followups:task", args=[task.pk])).status_code == 404
    assert login(outsider).get(reverse("followups:queue")).status_code == 403


def test_the_call_uses_the_department_questionnaire_and_a_red_flag_answer_raises_an_alert(due_tasks, agent, login, org):
    from caredesk.questionnaires.models import Questionnaire, Response

    surgery = Questionnaire.objects.get(code="followup-surgery")
    surgery.department = org["wk"]  # 外科, so 骨科 below it uses the wound questions
    surgery.save()
    task = due_tasks(1)[0]
    FollowupTask.objects.filter(pk=task.pk).update(assignee=agent, status="assigned")
    client = login(agent)
    client.post(reverse("followups:task-attempt", args=[task.pk]), {"outcome": "reached"})
    page = client.get(reverse("followups:task", args=[task.pk])).content.decode()
    assert 'name="q-wound_state"' in page
    missing = client.post(reverse("followups:task-record", args=[task.pk]), {"satisfaction": "3"})
    assert missing.status_code == 422 and "问卷填写有误" in missing.content.decode()
    assert not Response.objects.exists()
    spec_items = {i.link_id: i for i in surgery.published_version().items.all()}
    post = {"satisfaction": "3"}
    for link_id, item in spec_items.items():
        if item.required and item.kind == "single":
            post[f"q-{link_id}"] = item.choices[0]["code"]
        elif item.required and item.kind in ("rating",):
            post[f"q-{link_id}"] = "4"
    post["q-wound_state"] = "discharge"
    r = client.post(reverse("followups:task-record", args=[task.pk]), post)
    assert r.status_code == 302, r.content.decode()[:3000]
    response = Response.objects.get()
    assert response.source_type == "followups.followuptask" and response.source_id == str(task.pk)
    assert "wound_state" in response.red_flags
    task.refresh_from_db()
    assert task.record.response_id == response.pk
    assert "有渗液或化脓" in FollowupAlert.objects.get(task=task).reason


def test_a_problem_becomes_a_complaint_or_department_feedback_in_one_click(due_tasks, agent, login, org):
    from caredesk.complaints.models import Complaint
    from caredesk.followups.models import FollowupProblem, PlanStep
    from caredesk.surveys.models import FeedbackItem

    PlanStep.objects.update(questionnaire_code="")
    task = due_tasks(1)[0]
    FollowupTask.objects.filter(pk=task.pk).update(assignee=agent, status="assigned")
    client = login(agent)
    client.post(reverse("followups:task-attempt", args=[task.pk]), {"outcome": "reached"})
    client.post(reverse("followups:task-record", args=[task.pk]), {
        "satisfaction": "2", "summary": "不满意",
        "problem_kind_0": "problem", "problem_words_0": "出院结算窗口排队两个小时，工作人员态度很差",
        "problem_kind_1": "problem", "problem_words_1": "病房晚上太吵，影响休息",
    })
    first, second = FollowupProblem.objects.filter(record__task=task).order_by("id")
    for _ in range(2):  # a second click changes nothing
        r = client.post(reverse("followups:problem-action", args=[first.pk, "complaint"]))
        assert r.status_code == 302
    complaint = Complaint.objects.get()
    assert complaint.channel == "followup" and complaint.patient_id == task.patient_id
    assert complaint.source_type == "followups.followupproblem" and complaint.source_id == str(first.pk)
    first.refresh_from_db()
    assert (first.status, first.linked_type, first.linked_id) == ("forwarded", "complaints.complaint", str(complaint.pk))
    client.post(reverse("followups:problem-action", args=[second.pk, "feedback"]))
    item = FeedbackItem.objects.get()
    assert item.department_id == task.department_id and item.patient_id == task.patient_id
    second.refresh_from_db()
    assert second.linked_type == "surveys.feedbackitem" and second.linked_id == str(item.pk)
    assert AuditEvent.objects.filter(verb="followups.problem_forwarded").count() == 2
