import pytest
from playwright.sync_api import expect

from conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _login(page, base, username):
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")


def test_admin_creates_a_staff_member_and_sees_it_in_the_audit_trail(live_server, page, shot, admin_user, org):
    _login(page, live_server.url, "sysadmin")
    page.click("nav.mainnav >> text=员工与科室")
    page.click("text=新建员工")
    page.fill("#id_username", "zhangsan")
    page.fill("#id_display_name", "张三")
    page.check("input[value=agent]")
    page.select_option("#id_departments", label="回访组")
    page.fill("#id_password", "short")
    page.click("main button.primary")
    expect(page.locator(".has-error .error").first).to_be_visible()
    shot(page, "staff-form-error")
    page.fill("#id_password", "a-long-enough-password")
    page.click("main button.primary")
    page.wait_for_url(f"{live_server.url}/accounts/staff/")
    assert "已新建员工 张三" in page.content()
    page.fill("#q", "zhang")
    expect(page.locator("#staff-rows tbody tr")).to_have_count(1)
    shot(page, "staff-list")
    page.click("nav.mainnav >> text=审计日志")
    # a click starts the navigation but does not wait for the new page: the assertion must retry
    expect(page.locator("td code", has_text="staff.created")).to_have_count(2)  # the admin persona, then 张三
    shot(page, "audit-list")
