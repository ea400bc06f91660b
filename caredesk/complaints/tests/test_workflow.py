from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from caredesk.complaints import actions
from caredesk.complaints.actions import ComplaintData, TransitionError
from caredesk.complaints.models import (
    Complaint,
    ComplaintDeadline,
    ComplaintEvent,
    DeadlinePolicy,
    Status,
)
from caredesk.core.models import AuditEvent
from caredesk.messaging.models import OutboxMessage

from .factories import local, make_complaint, walk_to

pytestmark = pytest.mark.django_db


def deadlines_of(c: Complaint) -> dict[str, object]:
    return {d.kind: timezone.localtime(d.due_at) for d in c.deadlines.filter(round=0)}


def test_national_day_deadlines_follow_the_working_calendar(org, agent):
    """Received 16:00 on Wed 30 Sep 2026, the last working day before the National Day holiday
    (1–7 Oct off; Sat 10 Oct is a 调休 working day; WORK_HOURS 08:00–12:00, 13:30–17:30)."""
    c = make_complaint(agent, received_at=local(2026, 9, 30, 16, 0))
    due = deadlines_of(c)
    # 24 working hours: 1.5 h on 30 Sep, 8 h on 8 Oct, 8 h on 9 Oct, 6.5 h on Sat 10 Oct → 16:00
    assert due["first_response"] == local(2026, 10, 10, 16, 0)
    # 3 working days after 30 Sep: 8, 9, 10 Oct → close of business on the 调休 Saturday
    assert due["statement"] == local(2026, 10, 10, 17, 30)
    # 5 working days: 8, 9, 10, 12, 13 Oct (Sun 11 Oct is a rest day)
    assert due["reply"] == local(2026, 10, 13, 17, 30)


def test_medical_quality_gets_five_working_days_for_the_statement(org, agent):
    c = make_complaint(agent, received_at=local(2026, 9, 30, 16, 0), category="medical_quality")
    assert deadlines_of(c)["statement"] == local(2026, 10, 13, 17, 30)


def test_policies_are_editable_and_the_most_specific_wins(org, agent):
    DeadlinePolicy.objects.create(category="fees", severity="major", kind="reply", amount=2, unit="working_days")
    c = make_complaint(agent, received_at=local(2026, 9, 30, 16, 0), category="fees", severity="major")
    assert deadlines_of(c)["reply"] == local(2026, 10, 9, 17, 30)
    other = make_complaint(agent, received_at=local(2026, 9, 30, 16, 0), category="fees", severity="general")
    assert deadlines_of(other)["reply"] == local(2026, 10, 13, 17, 30)


def test_registration_numbers_cases_and_tells_the_complainant_once(org, agent):
    a = make_complaint(agent, received_at=local(2026, 11, 2, 9, 0))
    b = make_complaint(agent, received_at=local(2026, 11, 3, 9, 0))
    assert (a.case_no, b.case_no) == ("TS2026110001", "TS2026110002")
    assert a.owner == agent and a.status == Status.REGISTERED
    message = OutboxMessage.objects.get(related_id=str(a.pk))
    assert message.recipient == "13812345678" and "TS2026110001" in message.body
    assert "2026年11月9日" in message.body  # 5 working days after Mon 2 Nov
    # the same source record registered twice gives one case and one message
    c1 = make_complaint(agent, source_type="followups.followuprecord", source_id="77")
    c2 = make_complaint(agent, source_type="followups.followuprecord", source_id="77")
    assert c1.pk == c2.pk
    assert OutboxMessage.objects.filter(related_id=str(c1.pk)).count() == 1
    assert AuditEvent.objects.filter(verb="complaints.register").count() == 3


def test_registration_validates_with_chinese_messages(org, agent):
    with pytest.raises(ValidationError) as err:
        actions.register_complaint(ComplaintData(channel="fax", content="短", complainant_phone="12ab"), acting_user=agent)
    fields = err.value.message_dict
    assert set(fields) >= {"channel", "content", "complainant_phone"}
    assert "投诉内容" in fields["content"][0]


def test_complainant_is_linked_to_the_patient_archive(org, agent):
    from caredesk.patients import actions as patients
    from caredesk.patients.data import PatientData

    patient, _ = patients.upsert_patient(PatientData(name="张三", mobile="13812345678"), source="test")
    c = make_complaint(agent)
    assert c.patient_id == patient.pk
    relative = make_complaint(agent, relation="child", complainant_name="张小三")
    assert relative.patient_id is None


def test_all_six_steps_write_events_and_audit(org, agent, dept_head, supervisor):
    c = make_complaint(agent, department_id=org["gk"].pk)
    c = walk_to(c, "analysed", agent=agent, head=dept_head, supervisor=supervisor)
    assert c.status == Status.ANALYSED
    verbs = list(ComplaintEvent.objects.filter(complaint=c).values_list("verb", flat=True))
    assert verbs == ["register", "accept", "request_statement", "record_statement", "classify", "propose_plan",
                     "resolve", "give_feedback", "archive", "analyse"]
    audited = set(AuditEvent.objects.filter(object_id=str(c.pk), verb__startswith="complaints.").values_list("verb", flat=True))
    assert {f"complaints.{v}" for v in verbs} <= audited
    met = {d.kind: d.met_at for d in c.deadlines.all()}
    assert all(met.values()), met


def test_illegal_transitions_are_refused_with_a_clear_message(org, agent, supervisor):
    c = make_complaint(agent)
    with pytest.raises(TransitionError, match="当前状态为“待受理”，不能“归档”"):
        actions.archive(c, acting_user=supervisor)
    actions.accept(c, acting_user=agent)
    with pytest.raises(TransitionError, match="只适用于：核实中、处理中"):
        actions.propose_plan(c, acting_user=supervisor, kind="apology", description="当面致歉说明情况。")
    actions.request_statement(c, acting_user=supervisor, staff_name="刘医生")
    with pytest.raises(TransitionError, match="请先完成科室定性"):
        actions.propose_plan(c, acting_user=supervisor, kind="apology", description="当面致歉说明情况。")
    with pytest.raises(TransitionError, match="不能“受理”"):
        actions.accept(c, acting_user=agent)


def test_archived_dossier_is_immutable(org, agent, dept_head, supervisor):
    c = walk_to(make_complaint(agent), "archived", agent=agent, head=dept_head, supervisor=supervisor)
    with pytest.raises(TransitionError, match="已归档"):
        actions.transfer(c, acting_user=supervisor, department=org["nk"], reason="转内科")
    with pytest.raises(TransitionError, match="已归档"):
        actions.pause(c, acting_user=supervisor, reason="等待")
    fresh = Complaint.objects.get(pk=c.pk)
    fresh.content = "改过的内容"
    with pytest.raises(ValidationError):
        fresh.save()
    assert Complaint.objects.get(pk=c.pk).content != "改过的内容"
    actions.analyse(c, acting_user=supervisor, root_cause="高峰时段沟通不足导致误解。")
    with pytest.raises(TransitionError):
        actions.analyse(c, acting_user=supervisor, root_cause="再次分析试试看。")


def test_refund_needs_approval_by_someone_else(org, agent, dept_head, supervisor, quality):
    c = walk_to(make_complaint(agent), "verifying", agent=agent, head=dept_head, supervisor=supervisor)
    with pytest.raises(TransitionError, match="金额"):
        actions.propose_plan(c, acting_user=supervisor, kind="refund", description="退还重复收取的检查费。")
    actions.propose_plan(c, acting_user=supervisor, kind="refund", description="退还重复收取的检查费。", amount=Decimal("120"))
    with pytest.raises(TransitionError, match="审批"):
        actions.resolve(c, acting_user=supervisor, summary="已退费并致歉说明。")
    with pytest.raises(TransitionError, match="提出人以外"):
        actions.approve_plan(c, acting_user=supervisor)
    actions.approve_plan(c, acting_user=quality, note="同意退费")
    c = actions.resolve(c, acting_user=supervisor, summary="已退费并致歉说明。")
    assert c.status == Status.FEEDBACK


def test_reopen_escalates_and_gives_new_deadlines(org, agent, dept_head, supervisor):
    c = walk_to(make_complaint(agent, department_id=org["gk"].pk), "feedback_given", agent=agent, head=dept_head,
                supervisor=supervisor)
    c = actions.reopen(c, acting_user=supervisor, reason="投诉人对处理结果不满意")
    assert (c.status, c.reopen_count, c.escalation_level) == (Status.VERIFYING, 1, 1)
    assert set(c.deadlines.filter(round=1, met_at__isnull=True).values_list("kind", flat=True)) == {"statement", "reply"}
    assert c.notifications.filter(recipient=dept_head).exists()


def test_transfer_and_merge(org, agent, supervisor):
    a = make_complaint(agent, department_id=org["gk"].pk)
    b = make_complaint(agent, department_id=org["gk"].pk)
    actions.transfer(a, acting_user=supervisor, department=org["nk"], reason="实为内科诊疗问题")
    a.refresh_from_db()
    assert a.department == org["nk"] and a.transfer_count == 1
    with pytest.raises(TransitionError, match="相同"):
        actions.transfer(a, acting_user=supervisor, department=org["nk"], reason="重复转办")
    actions.merge(b, into=a, acting_user=supervisor, reason="同一事件重复来电")
    b.refresh_from_db()
    assert b.status == Status.MERGED and b.merged_into == a
    assert not ComplaintDeadline.objects.open().filter(complaint=b).exists()
    with pytest.raises(TransitionError, match="已合并"):
        actions.accept(b, acting_user=agent)


def test_pause_stops_the_clock_and_resume_moves_deadlines(org, agent, supervisor, monkeypatch):
    c = make_complaint(agent, received_at=local(2026, 11, 2, 9, 0))
    before = {d.kind: d.due_at for d in c.deadlines.all()}
    monkeypatch.setattr(timezone, "now", lambda: local(2026, 11, 2, 10, 0))
    actions.pause(c, acting_user=supervisor, reason="等待投诉人补充材料")
    assert c.deadlines.filter(paused_at__isnull=False).count() == 3
    with pytest.raises(TransitionError, match="暂停计时"):
        actions.accept(c, acting_user=agent)
    monkeypatch.setattr(timezone, "now", lambda: local(2026, 11, 3, 10, 0))  # 8 working hours later
    actions.resume(c, acting_user=supervisor)
    after = {d.kind: d for d in c.deadlines.all()}
    # first response was due Thu 5 Nov 09:00; 8 working hours of waiting move it to Fri 6 Nov 09:00
    assert before["first_response"] == local(2026, 11, 5, 9, 0)
    assert after["first_response"].due_at == local(2026, 11, 6, 9, 0)
    assert after["reply"].due_at - before["reply"] >= timedelta(hours=8)
    assert after["reply"].paused_seconds == 24 * 3600


def test_extension_needs_a_reason_and_tells_the_complainant_first(org, agent, supervisor, monkeypatch):
    c = make_complaint(agent, received_at=local(2026, 11, 2, 9, 0))
    monkeypatch.setattr(timezone, "now", lambda: local(2026, 11, 3, 10, 0))
    with pytest.raises(TransitionError, match="原因"):
        actions.extend_deadline(c, acting_user=supervisor, kind="reply", reason="", working_days=3)
    d = actions.extend_deadline(c, acting_user=supervisor, kind="reply", reason="需调取监控进一步核实", working_days=3)
    assert timezone.localtime(d.due_at) == local(2026, 11, 12, 17, 30)
    assert d.complainant_notified_at is not None and d.extended_count == 1
    assert OutboxMessage.objects.filter(template="complaints.extended", related_id=str(c.pk)).count() == 1
    anonymous = make_complaint(agent, complainant_phone="", complainant_name="")
    with pytest.raises(TransitionError, match="告知"):
        actions.extend_deadline(anonymous, acting_user=supervisor, kind="reply", reason="需调取监控核实", working_days=2)
    actions.extend_deadline(anonymous, acting_user=supervisor, kind="reply", reason="需调取监控核实", working_days=2,
                            notified_note="来访时当面告知")


def test_deadlines_follow_the_work_hours_setting(org, agent, settings):
    settings.WORK_HOURS = [("08:00", "12:00")]  # a half-day schedule: 4 working hours a day
    c = make_complaint(agent, received_at=local(2026, 9, 30, 16, 0))
    due = deadlines_of(c)
    assert due["first_response"] == local(2026, 10, 14, 12, 0)  # 8, 9, 10, 12, 13, 14 Oct × 4 h
    assert due["statement"] == local(2026, 10, 10, 12, 0)  # close of business is now noon


def test_archiving_a_patients_complaint_invites_them_to_rate_the_handling(org, agent, dept_head, supervisor):
    from caredesk.patients import actions as patients
    from caredesk.patients.data import PatientData
    from caredesk.questionnaires.models import Questionnaire
    from caredesk.surveys.models import Invitation, SurveyRule

    version = Questionnaire.objects.get(code="survey-outpatient").published_version()
    SurveyRule.objects.create(name="投诉处理满意度", trigger="complaint_closed", offset_days=0,
                              questionnaire=version.questionnaire)
    patients.upsert_patient(PatientData(name="张三", mobile="13812345678"), source="test")
    c = make_complaint(agent, department_id=org["gk"].pk)
    assert c.patient_id is not None
    walk_to(c, "feedback_given", agent=agent, head=dept_head, supervisor=supervisor)
    assert not Invitation.objects.exists()  # not before the dossier is closed
    walk_to_archive = actions.archive(c, acting_user=supervisor)
    invitation = Invitation.objects.get()
    assert invitation.patient_id == c.patient_id and invitation.source_key == f"complaints.complaint:{c.pk}"
    assert walk_to_archive.status == Status.ARCHIVED
