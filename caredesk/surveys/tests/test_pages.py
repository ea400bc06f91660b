from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from caredesk.core.models import AuditEvent
from caredesk.questionnaires.models import Response
from caredesk.surveys import actions, tokens
from caredesk.surveys.models import DepartmentQR, FeedbackItem, Invitation, OptOut

from .conftest import make_patient, visit

pytestmark = pytest.mark.django_db


@pytest.fixture
def invitation(org: Any, outpatient_rule: Any) -> Invitation:
    visit(make_patient())
    inv = Invitation.objects.get()
    Invitation.objects.filter(pk=inv.pk).update(status="sent", sent_at=timezone.now())
    inv.refresh_from_db()
    return inv


def link(inv: Invitation, name: str = "surveys:answer") -> str:
    return reverse(name, args=[tokens.raw_token(inv.token_salt)])


def test_the_patient_answers_page_by_page_with_partial_saves_then_submits(client: Any, invitation: Invitation) -> None:
    url = link(invitation)
    page1 = client.get(url)
    assert page1.status_code == 200
    body = page1.content.decode()
    assert "医护人员的服务态度" in body and "推荐" not in body and "第 1 / 2 页" in body
    assert 'name="viewport"' in body and "<script>" not in body  # no inline script (CSP)
    invitation.refresh_from_db()
    assert invitation.status == "opened"
    r = client.post(url, {"page": "1", "move": "next", "attitude": "5", "waiting": "4"})
    assert r.status_code == 302 and r["Location"].endswith("?page=2")
    invitation.refresh_from_db()
    resp = invitation.response
    assert resp is not None and resp.status == "in_progress" and resp.channel == "sms_link"
    assert resp.answers.count() == 2
    # going back shows the saved answers
    assert 'value="5" checked' in client.get(url + "?page=1").content.decode()
    # submit without the required recommend → the page says what is missing
    r = client.post(url, {"page": "2", "move": "submit", "comment": ""})
    assert r.status_code == 422 and "此题为必答题" in r.content.decode()
    r = client.post(url, {"page": "2", "move": "submit", "recommend": "9", "comment": "挺好的"})
    assert r.status_code == 302 and r["Location"] == link(invitation, "surveys:thanks")
    invitation.refresh_from_db()
    assert invitation.status == "answered" and invitation.response.status == "completed"
    assert invitation.response.answers.count() == 4  # page 1 answers kept
    assert "谢谢" in client.get(r["Location"]).content.decode()
    # the used link is refused kindly
    gone = client.get(url)
    assert gone.status_code == 410 and "您已经完成了这份问卷" in gone.content.decode()
    assert client.post(url, {"page": "2", "move": "submit", "recommend": "1"}).status_code == 410


def test_autosave_keeps_valid_answers_as_a_partial_response(client: Any, invitation: Invitation) -> None:
    r = client.post(link(invitation), {"page": "1", "autosave": "1", "attitude": "3"})
    assert r.status_code == 200 and r.json() == {"saved": True}
    invitation.refresh_from_db()
    assert invitation.response.answers.get().value_number == 3
    r = client.post(link(invitation), {"page": "1", "autosave": "1", "attitude": "9"})
    assert r.status_code == 422


def test_expired_and_unknown_links(client: Any, invitation: Invitation) -> None:
    Invitation.objects.filter(pk=invitation.pk).update(expires_at=timezone.now() - timedelta(minutes=1))
    r = client.get(link(invitation))
    assert r.status_code == 410 and "问卷已过期" in r.content.decode()
    assert client.get(reverse("surveys:answer", args=["nope"])).status_code == 404


def test_the_opt_out_page_asks_then_opts_out(client: Any, invitation: Invitation) -> None:
    url = link(invitation, "surveys:optout")
    assert "确认退订" in client.get(url).content.decode()
    assert not OptOut.objects.exists()
    assert "已为您退订" in client.post(url).content.decode()
    invitation.refresh_from_db()
    assert invitation.status == "opted_out" and OptOut.objects.count() == 1
    assert client.get(link(invitation)).status_code == 410


def test_a_low_answer_opens_a_feedback_item_due_in_24_working_hours(client: Any, invitation: Invitation) -> None:
    url = link(invitation)
    client.post(url, {"page": "1", "move": "next", "attitude": "1", "waiting": "2", "clean": "no"})
    client.post(url, {"page": "2", "move": "submit", "recommend": "3", "why": "排队太久"},
                )
    invitation.refresh_from_db()
    item = FeedbackItem.objects.get()
    assert item.response == invitation.response and item.department == invitation.department
    assert item.patient == invitation.patient and item.status == "open"
    kinds = {(r["kind"], r.get("code")) for r in item.reasons}
    assert ("dimension", "attitude") in kinds and ("recommend", None) in kinds and ("dimension", "efficiency") in kinds
    assert item.due_at > timezone.now()
    assert "服务态度" in item.summary


def test_a_good_answer_opens_nothing_and_negative_text_does(invitation: Invitation, monkeypatch: Any) -> None:
    from caredesk.surveys import actions as sa

    monkeypatch.setattr(sa, "negative_texts", lambda texts: [(False, 0.9) for _t in texts])
    resp = actions.answer_invitation(invitation, {"attitude": "5", "waiting": "5", "recommend": "10", "comment": "很好"},
                                     submit=True)
    assert not FeedbackItem.objects.exists()
    monkeypatch.setattr(sa, "negative_texts", lambda texts: [(True, 0.1) for _t in texts])
    item = actions.review_response(resp)
    assert item is not None and item.reasons == [{"kind": "negative_text", "item": "comment", "score": 0.1}]
    assert actions.review_response(resp) == item  # one item per response


def test_the_real_sentiment_model_flags_a_clearly_negative_comment(invitation: Invitation) -> None:
    resp = actions.answer_invitation(
        invitation, {"attitude": "5", "waiting": "4", "recommend": "9", "comment": "护士态度非常差，排队三个小时没人管，太失望了"},
        submit=True,
    )
    item = FeedbackItem.objects.get(response=resp)
    assert [r["kind"] for r in item.reasons] == ["negative_text"]


def test_qr_entry_is_anonymous_and_rate_limited(client: Any, org: Any, questionnaire: Any, settings: Any) -> None:
    settings.SURVEY_QR_RATE_PER_HOUR = 2
    qr = actions.create_qr(department=org["gk"], questionnaire=questionnaire, location="5楼病区", acting_user=None)
    url = reverse("surveys:qr_answer", args=[qr.token])
    assert client.get(url).status_code == 200
    client.post(url, {"page": "1", "move": "next", "attitude": "4", "waiting": "4"})
    r = client.post(url, {"page": "2", "move": "submit", "recommend": "8"})
    assert r.status_code == 302
    resp = Response.objects.get()
    assert resp.channel == "qr" and resp.patient is None and resp.department == org["gk"] and resp.status == "completed"
    assert resp.answers.count() == 3
    other = client.__class__()
    other.post(url, {"page": "1", "move": "next", "attitude": "4"})
    third = client.__class__()
    assert third.post(url, {"page": "1", "move": "next", "attitude": "4"}).status_code == 429
    assert AuditEvent.objects.filter(verb="survey.qr_started").count() == 2
    DepartmentQR.objects.filter(pk=qr.pk).update(is_active=False)
    assert client.get(url).status_code == 410


def test_poster_draws_the_qr_locally_and_is_scoped(client: Any, login: Any, org: Any, questionnaire: Any,
                                                    supervisor: Any, dept_head: Any) -> None:
    qr = actions.create_qr(department=org["nk"], questionnaire=questionnaire, acting_user=None)
    login(supervisor)
    body = client.get(reverse("surveys:qr_poster", args=[qr.pk])).content.decode()
    assert "<svg" in body and "内科" in body and qr.token in body and "http" in body
    login(dept_head)  # head of 外科: 内科's poster is not theirs
    assert client.get(reverse("surveys:qr_poster", args=[qr.pk])).status_code == 404


def test_the_board_lists_open_and_overdue_items_and_dept_heads_see_their_own(
    client: Any, login: Any, org: Any, supervisor: Any, dept_head: Any, django_assert_max_num_queries: Any,
) -> None:
    for dept in ("wk", "gk", "nk"):
        actions.open_feedback_item(department=org[dept], reasons=[{"kind": "manual", "text": "测试"}])
    old = actions.open_feedback_item(department=org["nk"], reasons=[{"kind": "recommend", "value": 2}],
                                     now=timezone.now() - timedelta(days=10))
    assert actions.mark_overdue() == 1 and actions.mark_overdue() == 0
    old.refresh_from_db()
    assert old.is_overdue
    login(supervisor)
    with django_assert_max_num_queries(14):
        body = client.get(reverse("surveys:board")).content.decode()
    assert body.count('href="/surveys/feedback/') == 4 and "超时" in body
    body = client.get(reverse("surveys:board") + "?overdue=on").content.decode()
    assert body.count('href="/surveys/feedback/') == 1
    login(dept_head)
    body = client.get(reverse("surveys:board")).content.decode()
    assert body.count('href="/surveys/feedback/') == 2  # 外科 and 骨科 below it
    assert client.get(reverse("surveys:feedback_detail", args=[old.pk])).status_code == 404


def test_the_item_closes_only_after_a_recheck(client: Any, login: Any, org: Any, dept_head: Any, quality: Any) -> None:
    item = actions.open_feedback_item(department=org["wk"], reasons=[{"kind": "recommend", "value": 2}])
    url = reverse("surveys:feedback_detail", args=[item.pk])
    login(dept_head)
    r = client.post(url, {"step": "rectify", "note": "加强排班"})
    assert r.status_code == 422  # a call first
    assert client.post(url, {"step": "call", "outcome": "reached", "note": "已致歉并解释"}).status_code == 302
    assert client.post(url, {"step": "recheck", "result": "passed", "note": "好"}).status_code == 403
    assert client.post(url, {"step": "rectify", "note": "增加周末挂号窗口", "link": "ZG-2026-01"}).status_code == 302
    item.refresh_from_db()
    assert item.status == "rechecking" and item.call_by == dept_head and item.closed_at is None
    login(quality)
    assert client.post(url, {"step": "recheck", "result": "failed", "note": "未落实"}).status_code == 302
    item.refresh_from_db()
    assert item.status == "rectifying" and item.closed_at is None
    login(dept_head)
    client.post(url, {"step": "rectify", "note": "已落实周末窗口"})
    login(quality)
    client.post(url, {"step": "recheck", "result": "passed", "note": "已核实"})
    item.refresh_from_db()
    assert item.status == "closed" and item.closed_at and item.recheck_by == quality
    verbs = list(AuditEvent.objects.filter(object_type="surveys.feedbackitem").values_list("verb", flat=True))
    assert "survey.feedback_rechecked" in verbs and "survey.feedback_called" in verbs


def test_open_feedback_item_from_another_module_is_idempotent_per_source(org: Any, agent: Any) -> None:
    patient = make_patient()
    first = actions.open_feedback_item(patient=patient, department=org["nk"], source=patient,
                                       reasons=[{"kind": "manual", "text": "回访中反映病房噪音"}], acting_user=agent)
    again = actions.open_feedback_item(patient=patient, department=org["nk"], source=patient,
                                       reasons=[{"kind": "manual", "text": "x"}], acting_user=agent)
    assert first == again and first.summary == "回访中反映病房噪音" and first.source_type == "patients.patient"


def test_agent_enters_answers_during_a_call(client: Any, login: Any, org: Any, agent: Any, invitation: Invitation) -> None:
    login(agent)
    patient = invitation.patient
    r = client.get(reverse("surveys:phone_start", args=[patient.pk]))
    assert r.status_code == 200
    r = client.post(reverse("surveys:phone_start", args=[patient.pk]),
                    {"questionnaire": invitation.version.questionnaire_id, "encounter": str(invitation.encounter_id)})
    assert r.status_code == 302
    resp = Response.objects.get()
    assert resp.channel == "phone" and resp.respondent == agent and resp.source_id == str(invitation.pk)
    url = reverse("surveys:phone_response", args=[resp.pk])
    r = client.post(url, {"move": "submit", "attitude": "2", "waiting": "1", "recommend": "4"})
    assert r.status_code == 302
    invitation.refresh_from_db()
    resp.refresh_from_db()
    assert resp.status == "completed" and invitation.status == "answered"
    assert FeedbackItem.objects.get().response == resp


def test_staff_pages_need_their_permissions(client: Any, login: Any, org: Any, outsider: Any, supervisor: Any) -> None:
    login(outsider)
    for name in ("surveys:home", "surveys:rules", "surveys:board", "surveys:invitations", "surveys:qr_list"):
        assert client.get(reverse(name)).status_code == 403
    login(supervisor)
    for name in ("surveys:home", "surveys:rules", "surveys:board", "surveys:invitations", "surveys:qr_list",
                 "surveys:rule_new"):
        assert client.get(reverse(name)).status_code == 200


def test_supervisor_creates_a_rule(client: Any, login: Any, org: Any, supervisor: Any, questionnaire: Any) -> None:
    from caredesk.surveys.models import SurveyRule

    login(supervisor)
    r = client.post(reverse("surveys:rule_new"), {"name": "出院3天", "trigger": "discharge", "offset_days": "3",
                                                  "questionnaire": questionnaire.pk, "channel": "sms", "valid_days": "99",
                                                  "is_active": "on", "departments": [org["wk"].pk]})
    assert r.status_code == 422 and "1 到 60" in r.content.decode()
    r = client.post(reverse("surveys:rule_new"), {"name": "出院3天", "trigger": "discharge", "offset_days": "3",
                                                  "questionnaire": questionnaire.pk, "channel": "sms", "valid_days": "7",
                                                  "is_active": "on", "departments": [org["wk"].pk]})
    assert r.status_code == 302
    rule = SurveyRule.objects.get()
    assert list(rule.departments.all()) == [org["wk"]] and rule.created_by == supervisor


def test_the_invitation_list_query_count_does_not_grow_and_names_are_masked(
    client: Any, login: Any, org: Any, supervisor: Any, outpatient_rule: Any, django_assert_max_num_queries: Any,
) -> None:
    visit(make_patient("张三", mobile="13800138001"))
    login(supervisor)
    with django_assert_max_num_queries(20) as few:
        client.get(reverse("surveys:invitations"))
    for n in range(6):
        visit(make_patient(f"李{n}", mobile=f"1390013900{n}"))
    with django_assert_max_num_queries(len(few.captured_queries)):
        body = client.get(reverse("surveys:invitations")).content.decode()
    assert body.count("<tr>") == 8 and "张*" in body and "张三" not in body


def test_a_feedback_item_becomes_a_complaint_in_one_click(client: Any, login: Any, invitation: Invitation,
                                                          supervisor: Any) -> None:
    from caredesk.complaints.models import Complaint

    resp = actions.answer_invitation(
        invitation, {"attitude": "1", "waiting": "2", "clean": "no", "recommend": "2", "why": "挂号窗口排队一个多小时"},
        submit=True,
    )
    item = FeedbackItem.objects.get(response=resp)
    login(supervisor)
    page = client.get(reverse("surveys:feedback_detail", args=[item.pk])).content.decode()
    start = page.index("/complaints/new/?")
    url = page[start:page.index('"', start)].replace("&amp;", "&")
    form = client.get(url).content.decode()
    assert "挂号窗口排队一个多小时" in form
    assert "questionnaires.response" in form  # the source travels with the form
    assert not Complaint.objects.exists()
