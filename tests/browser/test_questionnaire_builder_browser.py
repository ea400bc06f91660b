"""A supervisor builds a questionnaire in the browser: three items (one conditional), the phone-frame
preview shows and hides the conditional item as the answer changes, then publishes it."""

import pytest
from playwright.sync_api import expect

from conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _login(page, url):
    page.goto(f"{url}/accounts/login/?next=/questionnaires/")
    page.fill("#id_username", "lizhuguan")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{url}/questionnaires/")


def _add_item(page, text, kind, **extra):
    page.click("a:has-text('添加题目')")
    page.wait_for_selector("#item-form")
    page.fill("#id_text", text)
    page.select_option("#id_kind", kind)
    if "link_id" in extra:
        page.fill("#id_link_id", extra["link_id"])
    if extra.get("required"):
        page.check("#id_required")
    if "choices" in extra:
        expect(page.locator("#id_choices_text")).to_be_visible()
        page.fill("#id_choices_text", extra["choices"])
    else:
        expect(page.locator("#id_choices_text")).to_be_hidden()  # option editor only for choice kinds
    if "dimension" in extra:
        page.select_option("#id_dimension", label=extra["dimension"])
    if "condition" in extra:
        item, op, value = extra["condition"]
        page.select_option("#id_cond0_item", item)
        page.select_option("#id_cond0_op", op)
        page.fill("#id_cond0_value", value)
    if "red_flag_max" in extra:
        page.fill("#id_red_flag_max", extra["red_flag_max"])
    page.click("#item-form button[type=submit]")


def test_supervisor_builds_previews_and_publishes(live_server, page, shot, supervisor):
    from caredesk.questionnaires.defaults import ensure_defaults
    from caredesk.questionnaires.models import Questionnaire, QuestionnaireVersion

    ensure_defaults()  # transactional tests may start from an empty database (dimensions come with it)

    url = live_server.url
    _login(page, url)
    page.click("a:has-text('新建问卷')")
    page.fill("#id_code", "er-satisfaction")
    page.fill("#id_title", "急诊满意度调查")
    page.select_option("#id_purpose", "survey")
    page.click("button:has-text('创建并开始编辑')")
    expect(page.locator("h1")).to_contain_text("编辑问卷")
    shot(page, "qbuilder-empty-draft")

    _add_item(page, "急诊护士的服务态度", "single", link_id="nurse", required=True, dimension="服务态度",
              choices="5|满意|5\n3|一般|3\n1|不满意|1")
    # a bad option line is refused with a Chinese message and nothing is written
    page.click("a:has-text('添加题目')")
    page.fill("#id_text", "坏选项")
    page.select_option("#id_kind", "multiple")
    page.fill("#id_choices_text", "a|甲|很多")
    page.click("#item-form button[type=submit]")
    expect(page.locator(".field.has-error")).to_contain_text("第 1 行：分值必须是数字。")
    shot(page, "qbuilder-item-form-error")
    page.click("a:has-text('取消')")

    _add_item(page, "等候时间是否可以接受", "rating", dimension="就诊效率", red_flag_max="2")
    _add_item(page, "请告诉我们哪里让您不满意", "textarea", link_id="nurse_why", condition=("nurse", "=", "1"))
    expect(page.locator("table.qb-items tbody tr[data-link]")).to_have_count(3)
    expect(page.locator("tr[data-link=nurse_why]")).to_contain_text("条件显示")

    preview = page.locator("#preview")
    conditional = preview.locator("fieldset[data-link=nurse_why]")
    expect(preview.locator("fieldset.q-item")).to_have_count(3)
    expect(conditional).to_be_hidden()
    shot(page, "qbuilder-three-items-preview")
    preview.locator("label.q-choice:has-text('不满意')").click()
    expect(conditional).to_be_visible()
    conditional.locator("textarea").fill("分诊台没人")
    shot(page, "qbuilder-preview-condition-shown")
    preview.locator("label.q-choice:has-text('满意')").first.click()
    expect(conditional).to_be_hidden()

    page.click("#publish")
    expect(page.locator("#read-only")).to_contain_text("此版本为只读")
    expect(page.locator("a:has-text('添加题目')")).to_have_count(0)
    expect(page.locator("#version-status")).to_contain_text("已发布")
    shot(page, "qbuilder-published-read-only")
    version = Questionnaire.objects.get(code="er-satisfaction").versions.get()
    assert version.status == QuestionnaireVersion.Status.PUBLISHED
    assert [i.link_id for i in version.items.order_by("order")] == ["nurse", "q2", "nurse_why"]
    assert version.items.get(link_id="nurse_why").enable_when == [{"item": "nurse", "op": "=", "value": "1"}]

    page.click("a:has-text('评分维度')")
    page.fill("#id_code", "triage")
    page.fill("#id_name", "分诊引导")
    page.click("button:has-text('添加')")
    row = page.locator("#dimension-triage")
    expect(row.locator("input[name=name]")).to_have_value("分诊引导")
    row.locator("input[name=is_active]").uncheck()
    row.locator("button").click()
    expect(page.locator("#dimension-triage input[name=is_active]")).not_to_be_checked()
    shot(page, "qbuilder-dimensions")


def test_builder_on_a_phone(live_server, browser, shot, supervisor):
    from caredesk.questionnaires.defaults import ensure_defaults
    from caredesk.questionnaires.models import Questionnaire

    ensure_defaults()

    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, locale="zh-CN")
    page = context.new_page()
    _login(page, live_server.url)
    survey = Questionnaire.objects.get(code="survey-outpatient")
    page.goto(f"{live_server.url}/questionnaires/{survey.pk}/build/")
    expect(page.locator("#read-only")).to_be_visible()
    page.click("#read-only button")
    expect(page.locator("#draft-bar")).to_be_visible()
    assert page.locator("html").evaluate("el => el.scrollWidth") <= 390
    shot(page, "qbuilder-survey-draft-phone")
    # the preview's conditional item follows the overall rating
    preview = page.locator("#preview")
    wrong = preview.locator("fieldset[data-link=what_went_wrong]")
    expect(wrong).to_be_hidden()
    preview.locator("fieldset[data-link=overall] label.q-point:has-text('2')").click()
    expect(wrong).to_be_visible()
    wrong.scroll_into_view_if_needed()
    shot(page, "qbuilder-survey-preview-low-rating-phone")
    page.screenshot(path=str(shot(page, "qbuilder-survey-phone-viewport")))  # the visible screen only
    preview.screenshot(path=str(shot(page, "qbuilder-survey-phone-preview-frame")))
    context.close()
