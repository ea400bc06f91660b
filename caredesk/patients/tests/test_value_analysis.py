"""Value analysis (价值分析): RFM bands, the 80/20 key group, drifting patients, segments, scoping."""

from __future__ import annotations

import pytest
from django.urls import reverse

from caredesk.core.models import AuditEvent
from caredesk.patients import value
from caredesk.patients.models import Patient, Segment

from .factories_value import make_patient

pytestmark = pytest.mark.django_db


@pytest.fixture
def ward(org):
    """Two loyal surgery patients bring 80 of 100 visits; twenty one-visit patients in 内科;
    one surgery patient has drifted away (3 visits, last one a year ago)."""
    loyal = [make_patient(f"王{i}", department=org["gk"], visits=40, inpatient=5, last_days_ago=5) for i in range(2)]
    casual = [make_patient(f"李{i}", department=org["nk"], visits=1, last_days_ago=20) for i in range(17)]
    drifted = make_patient("赵六", department=org["wk"], visits=3, last_days_ago=365)
    return {"loyal": loyal, "casual": casual, "drifted": drifted}


def test_the_key_group_is_the_two_loyal_patients(ward):
    curve = value.pareto_of(Patient.objects.active())
    assert curve["total_visits"] == 100
    assert curve["threshold"] == 40
    assert curve["key_patients"] == 2
    keyed = value.apply_filters(Patient.objects.active(), {"key_group": True})
    assert set(keyed.values_list("pk", flat=True)) == {p.pk for p in ward["loyal"]}


def test_drifting_patients_had_two_visits_and_none_for_n_months(ward):
    population = Patient.objects.active()
    assert list(value.apply_filters(population, {"drifting": True, "months": 6})) == [ward["drifted"]]
    assert not value.apply_filters(population, {"drifting": True, "months": 13}).exists()


def test_inpatient_stays_weigh_more_in_the_value_score(org):
    outpatient_only = make_patient("甲", department=org["nk"], visits=3)
    with_stays = make_patient("乙", department=org["nk"], visits=3, inpatient=2)
    scores = dict(value.with_value(Patient.objects.all()).values_list("pk", "value_score"))
    assert scores[outpatient_only.pk] == 3
    assert scores[with_stays.pk] == 3 + 2 * (value.INPATIENT_WEIGHT - 1)


def test_loyal_recent_patients_are_in_the_key_value_band(ward):
    population = Patient.objects.active()
    banded = value.Scoring.of(population).annotate(population)
    bands = dict(banded.values_list("pk", "band"))
    assert all(bands[p.pk] == "key_value" for p in ward["loyal"])
    assert bands[ward["drifted"].pk] in ("key_retain", "general")
    selected = value.apply_filters(population, {"band": "key_value"})
    assert {p.pk for p in ward["loyal"]} <= set(selected.values_list("pk", flat=True))


def test_the_supervisor_sees_every_figure_on_the_value_page(ward, supervisor, login):
    response = login(supervisor).get(reverse("patients:value"))
    assert response.status_code == 200
    figures = response.context["figures"]
    assert figures["totals"]["patients"] == 20
    assert figures["totals"]["visits"] == 100
    assert figures["totals"]["drifting"] == 1
    assert figures["pareto"]["key_patients"] == 2
    html = response.content.decode()
    assert 'id="chart-bands"' in html and 'id="value-pareto"' in html
    assert "王0" not in html  # names are masked


def test_the_department_head_sees_only_their_patients_figures(ward, dept_head, login):
    response = login(dept_head).get(reverse("patients:value"))
    assert response.status_code == 200
    totals = response.context["figures"]["totals"]
    assert totals["patients"] == 3  # the two loyal 骨科 patients and the drifted 外科 one, no 内科
    assert totals["visits"] == 83


def test_the_value_page_filters_and_reports_bad_input(ward, supervisor, login, org):
    client = login(supervisor)
    response = client.get(reverse("patients:value"), {"department": org["nk"].pk})
    assert response.context["figures"]["totals"]["patients"] == 17
    response = client.get(reverse("patients:value"), {"months": "abc"})
    assert response.status_code == 200
    assert "流失月数必须是" in response.content.decode()


def test_anonymous_users_are_sent_to_login():
    from django.test import Client

    response = Client().get(reverse("patients:value"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_the_value_page_makes_the_same_number_of_queries_for_more_patients(org, supervisor, login, django_assert_max_num_queries):
    client = login(supervisor)
    filtered = {"drifting": "1", "key_group": "1", "band": "key_value"}
    for i in range(3):
        make_patient(f"孙{i}", department=org["nk"], visits=i + 1)
    with django_assert_max_num_queries(40) as plain:
        client.get(reverse("patients:value"))
    with django_assert_max_num_queries(40) as narrowed:
        client.get(reverse("patients:value"), filtered)
    for i in range(40):
        make_patient(f"周{i}", department=org["nk"], visits=(i % 7) + 1, inpatient=i % 2, last_days_ago=i * 9)
    with django_assert_max_num_queries(len(plain.captured_queries)):
        assert client.get(reverse("patients:value")).context["figures"]["totals"]["patients"] == 43
    with django_assert_max_num_queries(len(narrowed.captured_queries)):
        assert client.get(reverse("patients:value"), filtered).status_code == 200


def test_a_segment_saved_from_the_page_returns_the_same_patients(ward, supervisor, login):
    client = login(supervisor)
    response = client.post(reverse("patients:segment_create"), {"name": "重点外科", "key_group": "1", "months": "6"})
    assert response.status_code == 302
    segment = Segment.objects.get(name="重点外科")
    assert segment.criteria == {"key_group": True, "months": 6}
    assert set(value.segment_patients(segment).values_list("pk", flat=True)) == {p.pk for p in ward["loyal"]}
    assert AuditEvent.objects.filter(verb="segment.create", object_id=str(segment.pk)).exists()


def test_a_segment_is_scoped_to_the_user_who_reads_it(ward, dept_head):
    segment = Segment.objects.create(name="全部流失", criteria={"drifting": True, "months": 6})
    assert value.segment_patients(segment, dept_head).count() == 1
    assert value.segment_patients(segment).count() == 1
    all_one_visit = Segment.objects.create(name="内科", criteria={"customer_type": "", "months": 6})
    assert value.segment_patients(all_one_visit, dept_head).count() == 3


def test_a_segment_without_a_name_or_with_a_taken_name_is_refused_in_chinese(ward, supervisor, login):
    client = login(supervisor)
    response = client.post(reverse("patients:segment_create"), {"name": " ", "drifting": "1"}, follow=True)
    assert "请填写分群名称" in response.content.decode()
    assert not Segment.objects.exists()
    client.post(reverse("patients:segment_create"), {"name": "流失", "drifting": "1"})
    response = client.post(reverse("patients:segment_create"), {"name": "流失", "key_group": "1"}, follow=True)
    assert "已有同名分群" in response.content.decode()
    assert Segment.objects.get().criteria == {"drifting": True, "months": 6}
