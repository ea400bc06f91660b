"""The patient H5 pages on a 390x844 phone: file a complaint with an SMS code, see the case number
and answer date, look up the status; no console errors under the CSP. Screenshots in var/screenshots/."""

import pytest
from django.core.cache import cache
from playwright.sync_api import expect

from caredesk.complaints.models import Complaint
from caredesk.messaging.models import OutboxMessage

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = "13912345678"


def _code() -> str:
    return OutboxMessage.objects.filter(template="smscode").latest("pk").params["code"]


def test_patient_files_a_complaint_and_looks_up_its_status_on_a_phone(live_server, browser, shot, org):
    cache.clear()
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True, locale="zh-CN")
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(f"{live_server.url}/complaints/h5/")
    shot(page, "h5-home")
    box = page.locator("#go-complaint").bounding_box()
    assert box and box["height"] >= 48 and box["width"] >= 150  # large touch targets
    page.click("#go-complaint")
    page.get_by_label("手机号码").fill(PHONE)
    page.get_by_label("请描述经过").fill("周六上午在骨科门诊候诊两个多小时，叫号屏不显示，也没有人解释。")
    page.get_by_label("涉及科室（不清楚可不选）").select_option(label="骨科")
    page.click("button[value=send]")
    expect(page.locator("#code-sent")).to_be_visible()
    assert page.get_by_label("请描述经过").input_value().startswith("周六上午")  # kept
    page.get_by_label("短信验证码").fill(_code())
    shot(page, "h5-complaint-form")
    page.click("button[value=submit]")
    page.wait_for_url("**/complaints/h5/done/")
    complaint = Complaint.objects.get()
    assert page.locator("#case-no").inner_text() == complaint.case_no
    assert "前答复您" in page.locator("#reply-due").inner_text()
    shot(page, "h5-complaint-done")
    page.get_by_role("link", name="查询处理进度").click()
    page.get_by_label("投诉编号").fill(complaint.case_no)
    page.get_by_label("手机号码").fill(PHONE)
    page.click("button[value=submit]")  # the phone is verified in this session already
    assert page.locator("#status-text").inner_text() == "已登记，等待受理"
    assert "候诊两个多小时" not in page.content()
    shot(page, "h5-status")
    assert not errors, errors
    context.close()
