"""A discharge triggers an invitation; the patient answers on a phone; the low answer opens a
feedback item with a deadline that the supervisor sees on the board."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def invitation_link(org):
    from caredesk.patients import actions
    from caredesk.patients.data import EncounterData, PatientData
    from caredesk.questionnaires.actions import create_from_spec
    from caredesk.surveys import distribution, tokens
    from caredesk.surveys.models import Invitation, SurveyRule
    from caredesk.surveys.tests.specs import SPEC

    questionnaire = create_from_spec(SPEC).questionnaire
    SurveyRule.objects.create(name="出院三天", trigger="discharge", offset_days=3, questionnaire=questionnaire)
    patient, _ = actions.upsert_patient(PatientData(name="王芳", mobile="13812340000"), source="test")
    stay, _ = actions.record_encounter(patient, EncounterData("inpatient", "HIS", "ZY1", department="WK-GK",
                                                              admitted_at=timezone.now() - timedelta(days=9)))
    assert not Invitation.objects.exists()
    actions.discharge_encounter(stay, at=timezone.now() - timedelta(days=3), outcome="improved")
    invitation = Invitation.objects.get()
    assert invitation.status == "pending" and invitation.department == org["gk"]
    assert distribution.send_due(now=invitation.scheduled_at + timedelta(minutes=1)) == {"sent": 1}
    return invitation, distribution.answer_link(invitation).replace(tokens.raw_token(invitation.token_salt), "") , \
        tokens.raw_token(invitation.token_salt)


def test_a_discharged_patient_answers_on_a_phone_and_the_low_answer_reaches_the_board(
    live_server, browser, page, shot, supervisor, invitation_link,
):
    from caredesk.surveys.models import FeedbackItem, Invitation

    invitation, _prefix, raw = invitation_link
    phone = browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    p = phone.new_page()
    p.goto(f"{live_server.url}/surveys/a/{raw}/")
    expect(p.get_by_role("heading", name="门诊满意度调查（测试）")).to_be_visible()
    # large touch targets: every scale point is at least 44 px both ways
    box = p.locator("label.q-point").first.bounding_box()
    assert box["width"] >= 44 and box["height"] >= 44
    shot(p, "surveys-h5-page1")
    p.locator("#q-attitude label.q-point:has-text('1')").click()
    p.locator("#q-waiting label.q-point:has-text('2')").click()
    p.get_by_role("button", name="下一页").click()
    p.wait_for_url("**?page=2")
    invitation.refresh_from_db()
    assert invitation.response is not None and invitation.response.status == "in_progress"
    assert invitation.response.answers.count() == 2  # partial save on "下一页"
    expect(p.locator("#q-why")).to_be_hidden()
    p.locator("#q-recommend label.q-point:has-text('3')").first.click()
    expect(p.locator("#q-why")).to_be_visible()  # shown by the condition recommend <= 6
    p.fill("input[name=why]", "等床位等了很久")
    shot(p, "surveys-h5-page2")
    p.get_by_role("button", name="提交").click()
    p.wait_for_url("**/thanks/")
    expect(p.get_by_role("heading", name="提交成功，谢谢您！")).to_be_visible()
    shot(p, "surveys-h5-thanks")
    p.goto(f"{live_server.url}/surveys/a/{raw}/")
    expect(p.get_by_role("heading", name="您已经完成了这份问卷")).to_be_visible()
    shot(p, "surveys-h5-used-link")
    phone.close()

    invitation.refresh_from_db()
    assert invitation.status == Invitation.Status.ANSWERED
    item = FeedbackItem.objects.get(response=invitation.response)
    assert item.department == invitation.department and item.due_at > timezone.now()

    page.goto(f"{live_server.url}/accounts/login/?next=/surveys/board/")
    page.fill("#id_username", "lizhuguan")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/surveys/board/")
    row = page.locator(f"tr:has(a[href='/surveys/feedback/{item.pk}/'])")
    expect(row).to_contain_text("骨科")
    expect(row).to_contain_text(timezone.localtime(item.due_at).strftime("%Y-%m-%d %H:%M"))
    expect(row).to_contain_text("服务态度")
    assert "王芳" not in page.content()
    shot(page, "surveys-board")
    page.click(f"a[href='/surveys/feedback/{item.pk}/']")
    expect(page.get_by_role("heading", name="登记对患者的回访")).to_be_visible()
    shot(page, "surveys-feedback-item")


def test_the_qr_poster_prints_a_scannable_code_and_the_qr_page_answers_anonymously(
    live_server, browser, page, shot, supervisor, org,
):
    from caredesk.questionnaires.actions import create_from_spec
    from caredesk.questionnaires.models import Response
    from caredesk.surveys import actions
    from caredesk.surveys.tests.specs import SPEC

    qr = actions.create_qr(department=org["gk"], questionnaire=create_from_spec(SPEC).questionnaire,
                           location="5楼东病区", acting_user=supervisor)
    page.goto(f"{live_server.url}/accounts/login/?next=/surveys/qr/")
    page.fill("#id_username", "lizhuguan")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/surveys/qr/")
    page.click("a:has-text('打印海报')")
    page.wait_for_url(f"{live_server.url}/surveys/qr/{qr.pk}/poster/")  # the list has small codes too
    expect(page.locator(".poster .qr svg")).to_be_visible()
    assert page.locator(".poster .qr svg").bounding_box()["width"] > 300
    shot(page, "surveys-qr-poster")
    phone = browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844}, is_mobile=True)
    p = phone.new_page()
    p.goto(f"{live_server.url}/surveys/q/{qr.token}/")
    expect(p.get_by_text("匿名填写")).to_be_visible()
    p.locator("#q-attitude label.q-point:has-text('5')").click()
    p.locator("#q-waiting label.q-point:has-text('4')").click()
    p.get_by_role("button", name="下一页").click()
    p.wait_for_url("**?page=2")
    p.locator("#q-recommend label.q-point:has-text('9')").click()
    p.get_by_role("button", name="提交").click()
    p.wait_for_url("**/thanks/")
    phone.close()
    response = Response.objects.get()
    assert response.channel == "qr" and response.patient is None and response.status == "completed"
