"""The value page draws its charts (vendored Chart.js under the CSP) and the merge screen works,
on a desktop and on a 390px phone. Screenshots go to var/screenshots/."""

import pytest

from caredesk.patients.models import Patient
from caredesk.patients.tests.factories_value import make_patient
from conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _sign_in(page, url):
    page.goto(f"{url}/accounts/login/")
    page.fill("#id_username", "lizhuguan")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{url}/")


@pytest.fixture
def archive(org):
    for i in range(3):
        make_patient(f"王{i}", department=org["gk"], visits=20 + i, inpatient=3, last_days_ago=3 + i)
    for i in range(12):
        make_patient(f"李{i}", department=org["nk"], visits=1 + i % 3, last_days_ago=15 * i)
    make_patient("赵六", department=org["wk"], visits=4, last_days_ago=400)
    a = make_patient("张三", department=org["gk"], id_number="11010519491231002X", mobile="13800138000")
    b = make_patient("张叁", department=org["gk"], id_number="11010519491231002X", visits=2)
    return a, b


def _value_page(page, url, shot, name):
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(f"{url}/patients/value/")
    assert page.locator("h1").inner_text() == "价值分析"
    page.wait_for_function("document.getElementById('chart-pareto').width > 0")
    drawn = page.evaluate(
        "!!(window.Chart && Chart.getChart(document.getElementById('chart-bands'))"
        " && Chart.getChart(document.getElementById('chart-pareto')))"
    )
    assert drawn, "Chart.js did not draw both charts"
    assert not errors, errors
    assert page.locator("#fig-patients").inner_text() == "18"
    shot(page, name)


def test_value_page_draws_both_charts(live_server, page, shot, supervisor, archive):
    _sign_in(page, live_server.url)
    _value_page(page, live_server.url, shot, "value-desktop")
    page.check("input[name=drifting]")
    page.click("form.value-filters button[type=submit]")
    page.wait_for_load_state()
    assert page.locator("#fig-patients").inner_text() == "1"


def test_value_page_and_merge_on_a_phone(live_server, browser, shot, supervisor, archive):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, locale="zh-CN")
    page = context.new_page()
    _sign_in(page, live_server.url)
    _value_page(page, live_server.url, shot, "value-phone")
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 1, f"page scrolls sideways by {overflow}px"
    page.locator(".chart-grid").screenshot(path=str(shot(page, "value-phone").parent / "value-phone-charts.png"))
    page.goto(f"{live_server.url}/patients/duplicates/")
    shot(page, "duplicates-phone")
    page.click("text=比较与合并")
    page.wait_for_url("**/patients/duplicates/merge/**")
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 1, f"merge screen scrolls sideways by {overflow}px"
    shot(page, "merge-phone")
    context.close()


def test_merge_screen_merges_the_chosen_pair(live_server, page, shot, supervisor, archive):
    a, b = archive
    _sign_in(page, live_server.url)
    page.goto(f"{live_server.url}/patients/duplicates/")
    assert "身份证号相同" in page.content()
    shot(page, "duplicates-desktop")
    page.click("text=比较与合并")
    page.wait_for_url("**/patients/duplicates/merge/**")
    assert "张三" not in page.content()
    shot(page, "merge-desktop")
    page.check(f"input[name=survivor][value='{a.pk}']")
    page.fill("#merge-reason", "同一身份证号")
    page.click("button:has-text('确认合并')")
    page.wait_for_url(f"**/patients/{a.pk}/")
    page.wait_for_selector(".msg-success")
    assert f"保留档案编号 {a.pk}" in page.locator(".messages").inner_text()
    assert Patient.objects.get(pk=b.pk).merged_into_id == a.pk
    shot(page, "merge-done-desktop")
