"""The admin page for the hospital's own calendar overrides."""

from datetime import date
from unittest import mock

import pytest
from django.urls import reverse

from caredesk.core import workcalendar
from caredesk.core.models import AuditEvent, CalendarOverride

pytestmark = pytest.mark.django_db


def test_admin_adds_a_closure_and_it_changes_the_calendar(login, admin_user):
    client = login(admin_user)
    response = client.post(reverse("core:calendar"), {"day": "2026-11-23", "is_working_day": "0", "reason": "院内停电检修"})
    assert response.status_code == 302
    assert not workcalendar.is_working_day(date(2026, 11, 23))
    page = client.get(reverse("core:calendar"))
    assert "院内停电检修" in page.content.decode()


def test_admin_removes_an_override_and_the_removal_is_audited(login, admin_user):
    o = CalendarOverride.objects.create(date=date(2026, 12, 1), is_working_day=False, reason="停诊")
    response = login(admin_user).post(reverse("core:calendar"), {"remove": str(o.pk)})
    assert response.status_code == 302
    assert not CalendarOverride.objects.exists()
    assert AuditEvent.objects.filter(verb="calendar.override_removed", object_id=str(o.pk)).exists()


def test_a_bad_form_says_what_is_wrong_in_chinese(login, admin_user):
    response = login(admin_user).post(reverse("core:calendar"), {"day": "明天", "is_working_day": "0", "reason": ""})
    assert response.status_code == 422
    body = response.content.decode()
    assert "日期格式应为 年-月-日。" in body and "请填写原因。" in body
    assert not CalendarOverride.objects.exists()


def test_page_warns_while_next_year_is_not_in_the_package(login, admin_user):
    with mock.patch.object(workcalendar, "unknown_years", return_value=[2027]):
        body = login(admin_user).get(reverse("core:calendar")).content.decode()
    assert 'id="calendar-unknown-years"' in body and "2027" in body
    with mock.patch.object(workcalendar, "unknown_years", return_value=[]):
        body = login(admin_user).get(reverse("core:calendar")).content.decode()
    assert 'id="calendar-unknown-years"' not in body


def test_only_admins_may_see_or_change_the_calendar(login, agent, supervisor, client):
    assert client.get(reverse("core:calendar")).status_code == 302  # anonymous → login
    assert login(agent).get(reverse("core:calendar")).status_code == 403
    response = login(supervisor).post(reverse("core:calendar"), {"day": "2026-11-23", "is_working_day": "0", "reason": "xx"})
    assert response.status_code == 403
    assert not CalendarOverride.objects.exists()


def test_removing_an_unknown_override_is_404(login, admin_user):
    assert login(admin_user).post(reverse("core:calendar"), {"remove": "999"}).status_code == 404
    assert login(admin_user).post(reverse("core:calendar"), {"remove": "abc"}).status_code == 404


def test_calendar_page_query_count_does_not_grow_with_overrides(login, admin_user, django_assert_max_num_queries):
    client = login(admin_user)
    for day in range(1, 4):
        CalendarOverride.objects.create(date=date(2026, 12, day), is_working_day=False, reason="停诊")
    with django_assert_max_num_queries(12) as ctx:
        client.get(reverse("core:calendar"))
    few = len(ctx.captured_queries)
    for day in range(4, 30):
        CalendarOverride.objects.create(date=date(2026, 12, day), is_working_day=False, reason="停诊")
    with django_assert_max_num_queries(few):
        client.get(reverse("core:calendar"))


def test_the_menu_links_the_calendar_for_admins_only(login, admin_user, agent):
    url = reverse("core:calendar")
    assert f'href="{url}"' in login(admin_user).get(reverse("core:home")).content.decode()
    assert f'href="{url}"' not in login(agent).get(reverse("core:home")).content.decode()
