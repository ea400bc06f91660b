from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse

from caredesk.core.models import AuditEvent
from caredesk.patients import actions
from caredesk.patients.data import EncounterData, PatientData
from caredesk.patients.models import Consent, Patient, Tag
from caredesk.patients.tests.factories import make_id_number

pytestmark = pytest.mark.django_db

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
ID = make_id_number()


@pytest.fixture
def zhang(org):
    patient, _ = actions.upsert_patient(
        PatientData(
            name="张三",
            id_number=ID,
            mobile="13812345678",
            outpatient_no="MZ1001",
            inpatient_no="ZY2002",
            address="北京市东城区东华门大街1号",
        ),
        source="test",
    )
    actions.record_encounter(patient, EncounterData("outpatient", "HIS", "V1", department="WK-GK", visit_at=T0))
    return patient


@pytest.fixture
def li(org):
    patient, _ = actions.upsert_patient(PatientData(name="李四", mobile="13900005678"), source="test")
    actions.record_encounter(patient, EncounterData("outpatient", "HIS", "V2", department="NK", visit_at=T0))
    return patient


@pytest.mark.parametrize(
    "text",
    ["张", "张三", "zhangsan", "ZhangSan", "zs", "zhang", "13812345678", ID, ID.lower(), "MZ1001", "ZY2002"],
)
def test_search_finds_zhang_san_by(text, zhang, li):
    assert list(Patient.objects.search(text)) == [zhang]


def test_last_four_digits_find_every_patient_with_them(zhang, li):
    assert set(Patient.objects.search("5678")) == {zhang, li}


def test_pinyin_prefixes_ending_in_z_still_match(org):
    from caredesk.patients.tests.factories import make_patient

    zz = make_patient("张子", mobile="13700000001")
    assert list(Patient.objects.search("zz")) == [zz]
    assert list(Patient.objects.search("zhangz")) == [zz]
    assert not Patient.objects.search("zzz")


def test_a_search_for_nothing_finds_nothing(zhang):
    assert not Patient.objects.search("")
    assert not Patient.objects.search("wangwu")


def test_agents_see_every_patient_and_a_dept_head_only_their_departments(zhang, li, agent, dept_head, outsider):
    assert set(Patient.objects.visible_to(agent)) == {zhang, li}
    assert list(Patient.objects.visible_to(dept_head)) == [zhang]  # 骨科 is below 外科
    assert not Patient.objects.visible_to(outsider).filter(pk=zhang.pk).exists()
    assert list(Patient.objects.visible_to(outsider)) == [li]


def test_the_list_page_shows_masked_results(zhang, li, agent, login):
    response = login(agent).get(reverse("patients:list"), {"q": "zs"})
    html = response.content.decode()
    assert response.status_code == 200
    assert "张*" in html and "138****5678" in html and "1101**********" + ID[-4:] in html
    assert "张三" not in html and "13812345678" not in html and ID not in html
    assert "李*" not in html


def test_the_htmx_search_returns_only_the_results_partial(zhang, agent, login):
    response = login(agent).get(reverse("patients:list"), {"q": "zhangsan"}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert 'id="patient-results"' in html and "<header" not in html and "张*" in html


def test_a_dept_head_searching_does_not_find_other_departments_patients(li, dept_head, login):
    html = login(dept_head).get(reverse("patients:list"), {"q": "lisi"}).content.decode()
    assert "李*" not in html


def test_anonymous_users_are_sent_to_login(client):
    response = client.get(reverse("patients:list"))
    assert response.status_code == 302 and "login" in response["Location"]


def _count(client, url, params=None):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        assert client.get(url, params or {}).status_code == 200
    return len(ctx)


def test_the_list_page_query_count_does_not_grow_with_patients(agent, login, django_assert_max_num_queries, org):
    client = login(agent)
    url = reverse("patients:list")
    actions.upsert_patient(PatientData(name="王一", mobile="13700000000"), source="test")
    client.get(url)
    few, few_search = _count(client, url), _count(client, url, {"q": "w"})
    for i in range(30):
        actions.upsert_patient(PatientData(name=f"王{i}", mobile=f"1370000{i:04d}"), source="test")
    with django_assert_max_num_queries(few):
        client.get(url)
    with django_assert_max_num_queries(few_search):
        client.get(url, {"q": "w"})
    assert few <= 16


def test_the_patient_page_is_masked_audited_and_shows_the_timeline(zhang, agent, login):
    zhang.tags.add(Tag.objects.create(name="慢病管理"))
    Consent.objects.create(patient=zhang, channel="sms", purpose="survey", granted=False)
    response = login(agent).get(reverse("patients:detail", args=[zhang.pk]))
    html = response.content.decode()
    assert response.status_code == 200
    assert "138****5678" in html and "13812345678" not in html and ID not in html and "东华门" not in html
    assert "慢病管理" in html and "骨科" in html and "短信" in html
    assert reverse("core:reveal", args=["patients.patient", zhang.pk, "mobile"]) in html
    event = AuditEvent.objects.get(verb="patient.viewed")
    assert event.patient_id == zhang.pk and event.actor == agent and "138" not in str(event.details)


def test_the_patient_page_query_count_does_not_depend_on_history(zhang, agent, login, django_assert_max_num_queries):
    client = login(agent)
    url = reverse("patients:detail", args=[zhang.pk])
    client.get(url)
    few = _count(client, url)
    for i in range(40):
        actions.record_encounter(zhang, EncounterData("outpatient", "HIS", f"H{i}", department="NK", visit_at=T0 + timedelta(days=i)))
    with django_assert_max_num_queries(few):
        response = client.get(url)
    assert few <= 24
    timeline = response.content.decode().split('id="timeline"')[1]
    assert timeline.count('class="timeline-item') == 20
    assert (T0 + timedelta(days=39)).strftime("%Y-%m-%d") in timeline  # newest first
    assert T0.strftime("%Y-%m-%d") not in timeline  # the oldest is on a later page


def test_a_dept_head_cannot_open_another_departments_patient(li, dept_head, login):
    assert login(dept_head).get(reverse("patients:detail", args=[li.pk])).status_code == 404


def test_the_reveal_view_shows_the_clear_mobile_to_a_supervisor(zhang, supervisor, login):
    url = reverse("core:reveal", args=["patients.patient", zhang.pk, "mobile"])
    response = login(supervisor).post(url, {"purpose": "电话回访核对身份"})
    assert "13812345678" in response.content.decode()
    assert AuditEvent.objects.filter(verb="pii.reveal", patient_id=zhang.pk).exists()


def test_a_merged_record_page_redirects_to_the_survivor(zhang, agent, admin_user, login, org):
    other, _ = actions.upsert_patient(PatientData(name="张三", outpatient_no="MZ77"), source="test")
    actions.merge_patients(zhang, other, acting_user=admin_user)
    response = login(agent).get(reverse("patients:detail", args=[other.pk]))
    assert response.status_code == 302 and response["Location"] == reverse("patients:detail", args=[zhang.pk])


def test_the_patient_page_shows_follow_ups_complaints_and_answers(zhang, supervisor, login, org, django_assert_max_num_queries):
    from django.utils import timezone

    from caredesk.complaints.actions import ComplaintData, register_complaint
    from caredesk.followups.models import FollowupTask
    from caredesk.questionnaires import actions as q
    from caredesk.questionnaires.models import Questionnaire

    actions.record_encounter(zhang, EncounterData("outpatient", "HIS", "S1", department="NK", visit_at=timezone.now()))
    assert FollowupTask.objects.filter(patient=zhang).exists()  # 次日回访 from the visit
    complaint = register_complaint(ComplaintData(channel="phone", content="候诊时间太长，没有人解释原因。",
                                                 patient_id=zhang.pk, department_id=org["nk"].pk), acting_user=supervisor)
    version = Questionnaire.objects.get(code="followup-outpatient").published_version()
    q.save_response(version, {"overall": "5", "waiting": "ok", "doctor_explained": "yes"}, patient=zhang)
    client = login(supervisor)
    url = reverse("patients:detail", args=[zhang.pk])
    client.get(url)
    few = _count(client, url)
    page = client.get(url).content.decode()
    assert "回访、投诉与调查" in page and complaint.case_no in page and "门诊回访记录" in page
    assert "次日回访" in page
    for i in range(6):
        register_complaint(ComplaintData(channel="phone", content=f"第{i}次反映挂号窗口排队问题。", patient_id=zhang.pk,
                                         department_id=org["nk"].pk), acting_user=supervisor)
    with django_assert_max_num_queries(few):
        client.get(url)
