from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone

from caredesk.messaging.models import OutboxMessage
from caredesk.patients.actions import cancel_encounter, discharge_encounter, mark_deceased
from caredesk.patients.models import Consent
from caredesk.surveys import distribution, tokens
from caredesk.surveys.models import Invitation, OptOut

from .conftest import make_patient, recent, visit

pytestmark = pytest.mark.django_db


def test_an_outpatient_visit_plans_one_invitation_for_the_next_day(org: Any, outpatient_rule: Any) -> None:
    enc = visit(make_patient(), at=recent(0.1))
    inv = Invitation.objects.get()
    assert inv.encounter == enc and inv.department == org["wk"] and inv.status == "pending"
    assert inv.version == outpatient_rule.questionnaire.published_version()
    local = timezone.localtime(inv.scheduled_at)
    assert local.date() == timezone.localtime(enc.visit_at).date() + timedelta(days=1) and local.hour == 10
    assert inv.expires_at == inv.scheduled_at + timedelta(days=7)
    # the raw token is never stored: only its hash
    raw = tokens.raw_token(inv.token_salt)
    assert inv.token_hash == tokens.hash_token(raw) and raw not in inv.token_hash
    assert distribution.find_invitation(raw) == inv


def test_a_discharge_plans_an_invitation_and_reruns_never_duplicate(org: Any, discharge_rule: Any) -> None:
    patient = make_patient()
    enc = visit(patient, kind="inpatient", at=recent(5))
    assert not Invitation.objects.exists()
    discharge_encounter(enc, at=recent(0.2))
    assert Invitation.objects.count() == 1
    inv = Invitation.objects.get()
    assert timezone.localtime(inv.scheduled_at).date() == timezone.localtime(enc.discharged_at).date() + timedelta(days=3)
    assert distribution.create_invitations([enc], "discharge") == 0
    assert distribution.create_missing(timezone.localdate() + timedelta(days=3)) == 0
    assert Invitation.objects.count() == 1


def test_department_filter_and_old_visits(org: Any, outpatient_rule: Any) -> None:
    outpatient_rule.departments.set([org["nk"]])
    visit(make_patient(), department="WK")
    assert not Invitation.objects.exists()
    visit(make_patient("李四", mobile="13900139000"), department="NK", at=recent(30))  # link would be long expired
    assert not Invitation.objects.exists()
    visit(make_patient("王五", mobile="13700137000"), department="NK")
    assert Invitation.objects.count() == 1


def test_fatigue_consent_opt_out_deceased_and_no_mobile_are_skipped_with_a_reason(org: Any, outpatient_rule: Any) -> None:
    p = make_patient()
    visit(p, at=recent(0.5))
    visit(p, at=recent(0.2))  # same patient, same month
    reasons = list(Invitation.objects.order_by("scheduled_at", "pk").values_list("status", "skip_reason"))
    assert reasons == [("pending", ""), ("skipped", "fatigue")]

    refused = make_patient("李四", mobile="13900139000")
    Consent.objects.create(patient=refused, channel="sms", purpose="survey", granted=False)
    visit(refused)
    dead = make_patient("王五", mobile="13700137000")
    mark_deceased(dead, at=recent(1), source="test")
    visit(dead)
    silent = make_patient("赵六", mobile="")
    visit(silent)
    got = {i.patient_id: i.skip_reason for i in Invitation.objects.filter(status="skipped")}
    assert got[refused.pk] == "no_consent" and got[dead.pk] == "deceased" and got[silent.pk] == "no_mobile"


def test_sending_enqueues_one_sms_with_link_and_opt_out_and_marks_sent(org: Any, outpatient_rule: Any, settings: Any) -> None:
    settings.SURVEY_PUBLIC_BASE_URL = "https://h.example.cn"
    visit(make_patient(), at=recent(0.1))
    inv = Invitation.objects.get()
    assert distribution.send_due(now=inv.scheduled_at - timedelta(minutes=1)) == {}
    counts = distribution.send_due(now=inv.scheduled_at + timedelta(minutes=1))
    assert counts == {"sent": 1}
    inv.refresh_from_db()
    assert inv.status == "sent" and inv.sent_at
    msg = OutboxMessage.objects.get(idempotency_key=f"survey-invitation-{inv.pk}")
    raw = tokens.raw_token(inv.token_salt)
    assert f"https://h.example.cn/surveys/a/{raw}/" in msg.body and f"/surveys/o/{raw}/" in msg.body
    assert "外科" in msg.body and "张三" not in msg.body
    # a second run sends nothing more
    assert distribution.send_due(now=inv.scheduled_at + timedelta(hours=1)) == {}
    assert OutboxMessage.objects.filter(template="survey.invitation").count() == 1


def test_an_opt_out_after_planning_stops_the_send(org: Any, outpatient_rule: Any) -> None:
    p = make_patient()
    visit(p)
    inv = Invitation.objects.get()
    OptOut.objects.create(phone_bidx=p.mobile_bidx)  # opted out by phone number elsewhere
    distribution.send_due(now=inv.scheduled_at + timedelta(minutes=1))
    inv.refresh_from_db()
    assert inv.status == "opted_out" and not OutboxMessage.objects.exists()


def test_opt_out_withdraws_open_invitations_and_records_consent(org: Any, outpatient_rule: Any, discharge_rule: Any) -> None:
    p = make_patient()
    visit(p)
    inv = Invitation.objects.get()
    distribution.opt_out(inv)
    distribution.opt_out(inv)
    assert OptOut.objects.count() == 1
    inv.refresh_from_db()
    assert inv.status == "opted_out"
    assert Consent.objects.get(patient=p, channel="sms", purpose="survey").granted is False


def test_reminder_once_after_n_days_and_expiry(org: Any, outpatient_rule: Any, settings: Any) -> None:
    settings.SURVEY_REMINDER_AFTER_DAYS = 2
    visit(make_patient())
    inv = Invitation.objects.get()
    distribution.send_due(now=inv.scheduled_at)
    assert distribution.send_reminders(now=inv.scheduled_at + timedelta(days=1)) == 0
    assert distribution.send_reminders(now=inv.scheduled_at + timedelta(days=2, hours=1)) == 1
    assert distribution.send_reminders(now=inv.scheduled_at + timedelta(days=5)) == 0
    assert OutboxMessage.objects.filter(template="survey.reminder").count() == 1
    inv.refresh_from_db()
    assert inv.reminders_sent == 1
    assert distribution.expire_invitations(now=inv.expires_at + timedelta(seconds=1)) == 1
    inv.refresh_from_db()
    assert inv.status == "expired"


def test_a_cancelled_visit_drops_its_pending_invitation(org: Any, outpatient_rule: Any) -> None:
    enc = visit(make_patient())
    cancel_encounter(enc)
    assert Invitation.objects.get().skip_reason == "cancelled"


def test_the_command_plans_missing_invitations_and_sends_them(org: Any, questionnaire: Any, capsys: Any) -> None:
    from caredesk.surveys.models import SurveyRule

    # two days ago: the send day (the next day) is over whatever the hour now (a send day of today would
    # send only after SURVEY_SEND_HOUR, and this test runs at any hour)
    enc = visit(make_patient(), at=recent(2))  # no rule yet: nothing planned
    assert not Invitation.objects.exists()
    SurveyRule.objects.create(name="门诊次日", trigger="outpatient_visit", offset_days=1, questionnaire=questionnaire)
    day = timezone.localtime(enc.visit_at).date() + timedelta(days=1)
    call_command("surveys_send", "--date", day.isoformat())
    out = capsys.readouterr().out
    assert "planned=1" in out and "sent=1" in out
    call_command("surveys_send", "--date", day.isoformat())
    assert "planned=0" in capsys.readouterr().out
    assert Invitation.objects.count() == 1 and OutboxMessage.objects.count() == 1


def test_rules_are_read_once_and_a_new_rule_is_seen_at_once(org: Any, questionnaire: Any,
                                                              django_assert_num_queries: Any) -> None:
    from caredesk.surveys.distribution import active_rules
    from caredesk.surveys.models import SurveyRule

    active_rules("outpatient_visit")
    with django_assert_num_queries(1):  # only the configuration stamp
        assert active_rules("outpatient_visit") == []
    rule = SurveyRule.objects.create(name="门诊次日", trigger="outpatient_visit", offset_days=1, questionnaire=questionnaire)
    assert [r.rule for r in active_rules("outpatient_visit")] == [rule]
    rule.departments.add(org["nk"])
    assert active_rules("outpatient_visit")[0].departments == {org["nk"].pk}


def test_a_closed_complaint_invites_the_complainant_once(org: Any, questionnaire: Any) -> None:
    from caredesk.surveys.models import SurveyRule

    SurveyRule.objects.create(name="投诉处理满意度", trigger="complaint_closed", offset_days=0, questionnaire=questionnaire)
    patient = make_patient()
    complaint = patient  # any model instance stands for the complaint here
    assert distribution.on_complaint_closed(complaint, patient=patient, department=org["nk"]) == 1
    assert distribution.on_complaint_closed(complaint, patient=patient, department=org["nk"]) == 0
    inv = Invitation.objects.get()
    assert inv.source_key == f"patients.patient:{patient.pk}" and inv.encounter is None and inv.status == "pending"


def test_a_deferred_batch_reads_only_what_planning_uses_whatever_its_size(
        org: Any, outpatient_rule: Any, discharge_rule: Any, django_assert_num_queries: Any) -> None:
    """``DeferredPlanning.flush`` loads its encounters with only the fields the follow-up centre and the
    invitations read: reading any other field would cost a query per encounter, and the counts differ."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from caredesk.followups.models import FollowupPlan
    from caredesk.patients import hooks
    from caredesk.patients.tests.factories import make_id_number

    buffer = hooks.DeferredPlanning()
    buffer.install()
    try:
        batches = []
        for size in (1, 1, 4):
            batch = []
            for _ in range(size):
                p = make_patient(f"病人{len(batches)}{len(batch)}", mobile=f"139{500 + 10 * len(batches) + len(batch):08d}",
                                 id_number=make_id_number(seq=500 + 10 * len(batches) + len(batch)))
                batch += [visit(p, at=recent(0.2)), visit(p, kind="inpatient", at=recent(3), discharged_at=recent(0.3))]
            batches.append(batch)
    finally:
        hooks.DeferredPlanning.uninstall()
    assert not Invitation.objects.exists() and not FollowupPlan.objects.exists()  # only noted so far

    def flush(encounters: list[Any]) -> int:
        planning = hooks.DeferredPlanning()
        planning.add(registered=encounters, discharged=[e for e in encounters if e.discharged_at])
        return planning.flush()

    flush(batches[0])  # warms the rule and template caches
    with CaptureQueriesContext(connection) as one:
        flush(batches[1])
    with django_assert_num_queries(len(one.captured_queries)):
        flush(batches[2])
    assert Invitation.objects.filter(encounter__in=batches[2]).count() == 8  # a visit and a discharge each
    assert FollowupPlan.objects.filter(encounter__in=batches[2]).exists()
