"""The satisfaction statistics dashboard draws its charts (vendored Chart.js under the CSP), lists
the "high score, negative comment" answers with masked patients, and works on a 390px phone.
Screenshots go to var/screenshots/."""

import datetime as dt

import pytest

from conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHARTS = ["chart-dimensions", "chart-monthly", "chart-weekly", "chart-items", "chart-themes", "chart-keywords", "chart-dept-themes"]


@pytest.fixture
def demo(org):
    from django.utils import timezone

    from caredesk.accounts.models import Doctor
    from caredesk.patients.tests.factories import make_patient
    from caredesk.surveys import aggregates, statsdemo

    doctors = [
        Doctor.objects.create(name=name, department=org[dept], staff_no=f"S{i}")
        for i, (name, dept) in enumerate([("钱骨科", "gk"), ("赵骨科", "gk"), ("孙内科", "nk"), ("周内科", "nk"), ("吴外科", "wk")])
    ]
    patients = [make_patient(n) for n in ["张三丰", "李四光", "王五岳", "赵六合"]]
    version = statsdemo.demo_version()
    today = timezone.localdate()
    start = today - dt.timedelta(days=119)
    statsdemo.generate(version, responses=400, start=start, days=120, doctors=doctors, patients=patients, seed=11)
    aggregates.rebuild_range(start, today)
    return version


def _sign_in(page, url, username="lizhuguan"):
    page.goto(f"{url}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{url}/")


def _dashboard(page, url):
    errors = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(f"{url}/surveys/stats/")
    assert page.locator("h1").inner_text() == "满意度统计"
    page.wait_for_function("document.getElementById('chart-items').width > 0")
    missing = page.evaluate(
        "(ids) => ids.filter(id => !(window.Chart && Chart.getChart(document.getElementById(id))))", CHARTS,
    )
    assert not missing, f"charts not drawn: {missing}"
    assert not errors, errors
    return page


def test_dashboard_draws_every_chart_and_lists_flagged_comments(live_server, page, shot, supervisor, demo):
    _sign_in(page, live_server.url)
    _dashboard(page, live_server.url)
    assert page.locator("#fig-responses").inner_text() == "400"
    assert page.locator("#rank-departments tbody tr").count() == 3
    html = page.content()
    assert "张三丰" not in html and "李四光" not in html
    assert page.locator("#recent-comments tbody tr").count() > 0
    shot(page, "survey-stats-desktop")


def test_dashboard_on_a_phone(live_server, browser, shot, supervisor, demo):
    context = browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True)
    page = context.new_page()
    try:
        _sign_in(page, live_server.url)
        _dashboard(page, live_server.url)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 392, f"page scrolls sideways ({width}px)"
        shot(page, "survey-stats-phone")
    finally:
        context.close()


def test_department_head_sees_only_own_departments(live_server, page, shot, dept_head, demo):
    _sign_in(page, live_server.url, "zhaozhuren")
    _dashboard(page, live_server.url)
    names = page.locator("#rank-departments tbody td:nth-child(2)").all_inner_texts()
    assert set(names) <= {"外科", "骨科"} and names
    shot(page, "survey-stats-dept-head")
