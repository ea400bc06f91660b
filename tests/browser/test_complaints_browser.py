"""A complaint through all six steps, by three roles: the agent registers and accepts it, the head
of 外科 verifies it (statement, 定性) and proposes a plan, the supervisor resolves, records the
complainant's feedback, archives and analyses it."""

import pytest
from playwright.sync_api import expect

from conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _session(browser, url, username, **ctx):
    ctx.setdefault("viewport", {"width": 1280, "height": 900})
    context = browser.new_context(locale="zh-CN", **ctx)
    page = context.new_page()
    page.goto(f"{url}/accounts/login/?next=/complaints/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{url}/complaints/")
    return context, page


def _do(page, action, fields=None, selects=None):
    page.click(f"#action-{action} summary")
    for name, value in (fields or {}).items():
        page.fill(f"#id_{action}-{name}", value)
    for name, value in (selects or {}).items():
        page.select_option(f"#id_{action}-{name}", value)
    page.click(f"#action-{action} button[type=submit]")
    page.wait_for_load_state()
    assert "未完成" not in page.locator(".messages").inner_text(), page.locator(".messages").inner_text()


def test_six_steps_by_three_roles(live_server, browser, shot, agent, dept_head, supervisor):
    url = live_server.url
    # 1. the agent registers the complaint on the intake form and accepts it (受理)
    ctx, page = _session(browser, url, "xiaowang")
    page.click("text=登记投诉")
    page.wait_for_url(f"{url}/complaints/new/")
    page.select_option("#id_channel", "phone")
    page.fill("#id_complainant_name", "张三")
    page.fill("#id_complainant_phone", "13812345678")
    page.select_option("#id_department", label="骨科")
    page.fill("#id_staff_text", "骨科门诊值班医生")
    page.fill("#id_content", "上午在骨科门诊看腰痛，医生不听我说完就开了检查单，问检查原因时很不耐烦。")
    page.fill("#id_demands", "希望科室给个说法")
    page.select_option("#id_category", "service_attitude")
    page.wait_for_selector("#suggestion .suggestion")
    shot(page, "complaints-intake")
    page.click("form.intake-form button[type=submit]")
    page.wait_for_url(f"{url}/complaints/TS*/")
    case_url = page.url
    assert "已登记投诉" in page.content() and "13812345678" not in page.content()
    assert page.locator("#case-status").inner_text() == "待受理"
    assert page.locator("#action-classify").count() == 0
    _do(page, "accept", {"note": "已电话回复投诉人，告知受理编号"})
    assert page.locator("#case-status").inner_text() == "已受理"
    shot(page, "complaints-accepted")
    ctx.close()

    # 2. the department head verifies: written statement, classification (定性), plan
    ctx, page = _session(browser, url, "zhaozhuren")
    page.goto(case_url)
    assert page.locator("#action-accept").count() == 0
    _do(page, "request_statement", {"staff_name": "刘医生"})
    assert page.locator("#case-status").inner_text() == "核实中"
    _do(page, "record_statement", {"content": "当天门诊量大，解释检查目的不够耐心，以后注意沟通方式。"})
    _do(page, "classify", {"note": "沟通态度问题属实，检查开具符合诊疗规范。"}, {"finding": "partly"})
    _do(page, "propose_plan", {"description": "科主任当面向患者致歉并详细解释检查目的。"}, {"kind": "apology"})
    assert page.locator("#case-status").inner_text() == "处理中"
    assert page.locator("#action-archive").count() == 0
    shot(page, "complaints-verified-by-head")
    ctx.close()

    # 3. the supervisor resolves, records the feedback, archives and analyses
    ctx, page = _session(browser, url, "lizhuguan")
    page.goto(case_url)
    _do(page, "resolve", {"summary": "科主任已当面致歉并解释检查目的，患者表示理解。"})
    assert page.locator("#case-status").inner_text() == "待反馈"
    _do(page, "give_feedback", {"note": "电话回访，患者对处理满意。"}, {"rating": "5"})
    _do(page, "archive")
    assert page.locator("#case-status").inner_text() == "已归档"
    _do(page, "analyse", {"root_cause": "门诊高峰时段医生与患者沟通时间不足。", "suggestion": "高峰时段安排导医协助解释检查流程。"})
    assert page.locator("#case-status").inner_text() == "已分析"
    assert page.locator(".steps li.step-done").count() == 6
    assert "案件已归档，档案不可修改" in page.content()
    shot(page, "complaints-analysed")
    page.goto(f"{url}/complaints/")
    assert "已分析" in page.locator("#complaint-results").inner_text()
    shot(page, "complaints-list")
    ctx.close()


def test_complaint_list_on_a_phone(live_server, browser, shot, agent):
    from caredesk.complaints.tests.factories import make_complaint

    make_complaint(agent)
    ctx, page = _session(browser, live_server.url, "xiaowang", viewport={"width": 390, "height": 844}, is_mobile=True)
    shot(page, "complaints-list-phone")
    assert page.locator("html").evaluate("el => el.scrollWidth") <= 390
    ctx.close()


def test_breach_notice_and_settings_pages(live_server, browser, shot, agent, supervisor, org):
    from caredesk.complaints import sweep
    from caredesk.complaints.models import DeadlinePolicy
    from caredesk.complaints.tests.factories import local, make_complaint

    # transactional tests flush the rows written by data migrations; make the one we look for
    DeadlinePolicy.objects.update_or_create(category="medical_quality", severity="", kind="statement",
                                            defaults={"amount": 5, "unit": "working_days"})

    make_complaint(agent, department_id=org["gk"].pk, received_at=local(2026, 11, 2, 9, 0))
    sweep.sweep(now=local(2026, 11, 10, 9, 0))
    ctx, page = _session(browser, live_server.url, "lizhuguan")
    assert "已超时" in page.locator("#complaint-results").inner_text()
    page.click("text=我的提醒")
    expect(page.locator("body")).to_contain_text("超时升级")
    shot(page, "complaints-notices")
    page.goto(f"{live_server.url}/complaints/settings/")
    assert "5 工作日" in page.content()
    shot(page, "complaints-settings")
    ctx.close()
