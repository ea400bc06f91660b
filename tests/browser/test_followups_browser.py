"""An agent works a day's follow-up queue end to end: opens a task and logs "no answer", opens
another, logs "reached", fills the follow-up record (questionnaire, satisfaction, the patient's
words) and sees what is left today."""

import pytest
from playwright.sync_api import expect

from conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def day_queue(org, agent):
    from datetime import timedelta

    from django.utils import timezone

    from caredesk.followups.models import FollowupTask
    from caredesk.followups.plans import ensure_default_plans
    from caredesk.followups.tests.helpers import make_encounter
    from caredesk.patients.tests.factories import make_id_number, make_patient
    from caredesk.questionnaires.defaults import ensure_defaults

    ensure_defaults()  # the transactional test database was flushed: ship the defaults again
    ensure_default_plans()
    today = timezone.localdate()
    discharged = (today - timedelta(days=7)).isoformat() + " 10:00"
    tasks = []
    for i, name in enumerate(["张三", "李四", "王五"]):
        p = make_patient(name, id_number=make_id_number(seq=800 + i), mobile=f"1380013800{i}")
        enc = make_encounter(p, discharged=discharged, department="骨科", diagnosis="股骨颈骨折")
        tasks.append(FollowupTask.objects.get(encounter=enc, step_key="1"))
    FollowupTask.objects.filter(pk__in=[t.pk for t in tasks]).update(assignee=agent, status="assigned", due_date=today)
    return tasks


def _fill_required(page):
    """Answer every visible required question with its first choice (twice: answers may reveal more)."""
    for _ in range(2):
        for box in page.locator("fieldset.q-item:not([hidden])").all():
            if box.locator(".q-required").count() == 0:
                continue
            choice = box.locator("input[type=radio], input[type=checkbox]")
            if choice.count() and not box.locator("input:checked").count():
                choice.first.check()
            elif box.locator("textarea").count():
                box.locator("textarea").fill("恢复中")


def test_an_agent_works_the_days_queue(live_server, page, shot, day_queue):
    first, second, third = day_queue
    url = live_server.url
    page.goto(f"{url}/accounts/login/?next=/followups/")
    page.fill("#id_username", "xiaowang")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{url}/followups/")
    expect(page.locator("#fig-left")).to_have_text("3")
    expect(page.locator("#queue tbody tr")).to_have_count(3)
    expect(page.locator("#queue")).not_to_contain_text("张三")  # names are masked
    shot(page, "followups-01-queue")

    # first call: nobody answers → retried tomorrow, gone from today's list
    page.click(f'tr[data-task="{first.pk}"] a')
    expect(page.locator("h1")).to_contain_text("回访")
    expect(page.locator(".script")).to_contain_text("出院")
    shot(page, "followups-02-call-screen")
    page.click("button[value=no_answer]")
    page.wait_for_url(f"{url}/followups/")
    expect(page.locator(".messages")).to_contain_text("无人接听")
    expect(page.locator("#fig-left")).to_have_text("2")

    # second call: reached → the follow-up record with the department's questions
    page.click(f'tr[data-task="{second.pk}"] a')
    page.click("#dial button")
    expect(page.locator("#dial a")).to_have_attribute("href", "tel:13800138001")
    page.click("button[value=reached]")
    expect(page.locator("#record")).to_be_visible()
    _fill_required(page)
    page.select_option("#id_satisfaction", "5")
    page.fill("#id_problem_words_0", "出院带的药说明书看不懂")
    shot(page, "followups-03-record-form")
    page.click("#record button[type=submit]")
    page.wait_for_url(f"{url}/followups/")
    expect(page.locator(".messages")).to_contain_text("回访记录已保存")
    expect(page.locator("#fig-left")).to_have_text("1")
    expect(page.locator("#fig-done")).to_have_text("1")
    expect(page.locator(f'tr[data-task="{third.pk}"]')).to_be_visible()
    shot(page, "followups-04-left-today")

    from caredesk.followups.models import FollowupTask

    second_task = FollowupTask.objects.get(pk=second.pk)
    assert second_task.status == "done" and second_task.satisfaction == 5
    assert second_task.record.response_id is not None
    assert second_task.record.problems.get().words == "出院带的药说明书看不懂"
    assert FollowupTask.objects.get(pk=first.pk).attempts == 1
