import pytest
from playwright.sync_api import expect

from conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_login_home_in_chinese_then_english(live_server, page, shot, agent):
    page.goto(f"{live_server.url}/")
    assert "/accounts/login/" in page.url
    assert page.locator("h1").inner_text() == "员工登录"
    shot(page, "login-zh")
    page.fill("#id_username", "xiaowang")
    page.fill("#id_password", "wrong-password-1")
    page.click("button[type=submit]")
    expect(page.locator("body")).to_contain_text("用户名或密码不正确")
    page.fill("#id_username", "xiaowang")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
    assert "您好，小王" in page.locator("h1").inner_text()
    assert page.locator("nav.mainnav").get_by_text("患者档案").count() == 1
    shot(page, "home-zh")
    page.click(".usermenu summary")
    page.click("button[value=en]")
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "en"
    assert "Hello" in page.locator("h1").inner_text()
    assert page.locator("nav.mainnav").get_by_text("Patient archive").count() == 1
    shot(page, "home-en")


def test_home_on_a_phone_has_a_menu_button(live_server, browser, shot, agent):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, locale="zh-CN")
    page = context.new_page()
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", "xiaowang")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
    nav = page.locator("#mainnav")
    assert not nav.is_visible()
    page.click("button.nav-toggle")
    expect(nav).to_be_visible()
    shot(page, "home-phone")
    context.close()
