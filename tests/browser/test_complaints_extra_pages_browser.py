"""Praise, rectification and the case library pages render for their users with no console
errors under the CSP. Screenshots in var/screenshots/."""

from datetime import timedelta

import pytest
from django.utils import timezone

from caredesk.complaints import caselib, rectification
from caredesk.complaints.praise import register_praise
from caredesk.complaints.tests.factories import make_complaint, walk_to
from conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _sign_in(page, url, username):
    page.goto(f"{url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{url}/")


def test_extra_pages_render(live_server, page, shot, org, agent, dept_head, supervisor, quality):
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    register_praise(channel="walk_in", kind="banner", department=org["gk"], staff_name="王医生", content="送锦旗：妙手仁心",
                    acting_user=agent)
    c = walk_to(make_complaint(agent, department_id=org["gk"].pk), "archived", agent=agent, head=dept_head, supervisor=supervisor)
    item = rectification.create_item(title="门诊高峰期增加导医解释", measures="9-11 点增加一名导医", department=org["gk"],
                                     owner=dept_head, due_date=timezone.localdate() - timedelta(days=2), topic="服务态度",
                                     complaint=c, acting_user=supervisor)
    rectification.escalate_overdue()
    case = caselib.draft_case(c, acting_user=quality)
    caselib.publish_case(case, title="门诊沟通不足", narrative=case.narrative, handling=case.handling, lessons=case.lessons,
                         tags=["沟通"], acting_user=quality)

    _sign_in(page, live_server.url, "zhaozhuren")
    page.goto(f"{live_server.url}/complaints/rectification/{item.pk}/")
    assert page.locator("#evidence-form").is_visible()
    page.get_by_label("整改情况说明").fill("已排班，高峰时段增加一名导医专门解释检查结果。")
    shot(page, "rectification-detail")
    page.click("#evidence-form button[type=submit]")
    assert page.locator("#item-status").inner_text() == "待验证"
    page.goto(f"{live_server.url}/complaints/praise/")
    assert "王医生" in page.locator("#praise-by-person").inner_text()
    shot(page, "praise-list")
    page.goto(f"{live_server.url}/complaints/cases/?q=沟通")
    assert "门诊沟通不足" in page.locator("#case-results").inner_text()
    shot(page, "case-library")
    assert not errors, errors
