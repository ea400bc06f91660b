import pytest
from playwright.sync_api import expect

from conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_preview_shows_conditional_items_and_checks_required_ones(live_server, page, shot, supervisor):
    from caredesk.questionnaires.defaults import ensure_defaults
    from caredesk.questionnaires.models import Questionnaire

    ensure_defaults()  # transactional tests start from an empty database
    surgery = Questionnaire.objects.get(code="followup-surgery")
    page.goto(f"{live_server.url}/accounts/login/?next=/questionnaires/{surgery.pk}/")
    page.fill("#id_username", "lizhuguan")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/questionnaires/{surgery.pk}/")
    detail = page.locator("#q-recovery_detail")
    expect(detail).to_be_hidden()
    page.get_by_label("比出院时加重").check()
    expect(detail).to_be_visible()
    page.get_by_label("恢复良好").check()
    expect(detail).to_be_hidden()
    page.get_by_label("比出院时加重").check()
    page.get_by_role("button", name="试填校验").click()
    expect(page.locator("#preview [role=alert]").first).to_contain_text("有题目需要修改")
    expect(page.locator("#q-recovery_detail .q-error")).to_have_text("此题为必答题。")
    shot(page, "questionnaire-preview-errors")
    page.locator("textarea[name=recovery_detail]").fill("伤口附近持续疼痛")
    page.get_by_label("剧烈疼痛").check()
    page.get_by_label("有渗液或化脓").check()
    page.locator("[name=satisfaction][value='4']").check(force=True)
    page.get_by_role("button", name="试填校验").click()
    expect(page.locator("#preview [role=status]")).to_contain_text("试填通过")
    expect(page.locator("#preview [role=status]")).to_contain_text("触发警示")
    shot(page, "questionnaire-preview-ok")
