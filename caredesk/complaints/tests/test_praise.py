import io
from datetime import datetime, timedelta

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from caredesk.accounts.models import Doctor
from caredesk.complaints.models_extra import Praise
from caredesk.complaints.praise import praise_counts, register_praise
from caredesk.core.models import AuditEvent

pytestmark = pytest.mark.django_db

TZ = timezone.get_default_timezone()


def at(day: int, hour: int = 10) -> datetime:
    return datetime(2026, 10, day, hour, tzinfo=TZ)


@pytest.fixture
def doctor(org):
    return Doctor.objects.create(name="王医生", department=org["gk"], staff_no="D001")


def _praise(org, agent, **kw):
    defaults = {"channel": "letter", "kind": "letter", "department": org["gk"], "content": "感谢骨科医护人员的悉心照顾",
                "received_at": at(8), "acting_user": agent}
    return register_praise(**{**defaults, **kw})


def test_register_praise_numbers_it_per_month_and_audits(org, agent, doctor):
    first = _praise(org, agent, staff_doctor=doctor)
    second = _praise(org, agent, kind="banner", staff_name="李护士")
    assert first.ref_no == "BY2026100001" and second.ref_no == "BY2026100002"
    assert first.staff_name == "王医生"  # filled from the doctor so per-person counts work
    event = AuditEvent.objects.get(verb="praise.registered", object_id=str(first.pk))
    assert event.actor_id == agent.pk and event.details["kind"] == "letter"


def test_praiser_phone_is_encrypted_and_indexed(org, agent):
    praise = _praise(org, agent, praiser_name="张三", praiser_phone="13800138000")
    with connection.cursor() as cur:
        cur.execute("SELECT praiser_phone FROM complaints_praise WHERE id = %s", [praise.pk])
        raw = cur.fetchone()[0]
    assert "13800138000" not in raw
    assert praise.praiser_phone_bidx
    assert praise.masked_praiser != "张三"


def test_praise_counts_per_person_and_department_in_the_period(org, agent, doctor):
    _praise(org, agent, staff_doctor=doctor, kind="banner")
    _praise(org, agent, staff_doctor=doctor, staff_name="王医生（骨科）")  # same doctor, name written differently
    _praise(org, agent, staff_name="李护士")
    _praise(org, agent, department=org["nk"], staff_name="陈医生")
    _praise(org, agent, department=org["nk"])  # the department only
    _praise(org, agent, staff_doctor=doctor, received_at=at(1) - timedelta(days=2))  # September: outside
    counts = praise_counts(at(1, 0), at(31, 23))
    assert counts.total == 5
    top = counts.by_person[0]
    assert (top.doctor_id, top.count, top.banners) == (doctor.pk, 2, 1)
    assert {p.name for p in counts.by_person} == {"王医生", "李护士", "陈医生"}
    assert [(d.department_name, d.count) for d in counts.by_department] == [("骨科", 3), ("内科", 2)]
    outer = praise_counts(at(1, 0), at(31, 23), department=org["wk"])  # 外科 includes 骨科
    assert outer.total == 3 and {d.department_name for d in outer.by_department} == {"骨科"}


def test_praise_counts_takes_two_queries(org, agent, doctor, django_assert_num_queries):
    for _ in range(5):
        _praise(org, agent, staff_doctor=doctor)
    with django_assert_num_queries(2):
        praise_counts(at(1, 0), at(31, 23))


def test_agent_registers_praise_through_the_page(login, org, agent, doctor):
    client = login(agent)
    response = client.post(reverse("complaints:praise_create"), {
        "channel": "walk_in", "kind": "banner", "department": org["gk"].pk, "staff_doctor": doctor.pk,
        "received_at": "2026-10-08T09:30", "content": "送锦旗：医术精湛",
    })
    assert response.status_code == 302
    praise = Praise.objects.get()
    assert praise.kind == "banner" and praise.staff_doctor == doctor and praise.registered_by == agent


def test_praise_form_refuses_a_doctor_of_another_department_in_chinese(login, org, agent, doctor):
    response = login(agent).post(reverse("complaints:praise_create"), {
        "channel": "letter", "kind": "letter", "department": org["nk"].pk, "staff_doctor": doctor.pk,
        "received_at": "2026-10-08T09:30", "content": "谢谢",
    })
    assert response.status_code == 422
    assert "该医生不属于所选科室" in response.content.decode()
    assert not Praise.objects.exists()


def test_department_head_sees_only_their_departments_praise(login, org, agent, dept_head):
    _praise(org, agent, received_at=timezone.now(), staff_name="骨科护士甲")
    _praise(org, agent, received_at=timezone.now(), department=org["nk"], staff_name="内科护士乙")
    page = login(dept_head).get(reverse("complaints:praise_list")).content.decode()
    assert "骨科护士甲" in page and "内科护士乙" not in page


def test_outsider_cannot_open_the_praise_pages(login, outsider):
    client = login(outsider)
    assert client.get(reverse("complaints:praise_list")).status_code == 403
    assert client.get(reverse("complaints:praise_create")).status_code == 403


def test_praise_list_query_count_does_not_grow_with_rows(login, org, agent, supervisor, doctor, django_assert_max_num_queries):
    client = login(supervisor)
    _praise(org, agent, received_at=timezone.now(), staff_doctor=doctor)
    client.get(reverse("complaints:praise_list"))
    with django_assert_max_num_queries(30) as few:
        client.get(reverse("complaints:praise_list"))
    for i in range(20):
        _praise(org, agent, received_at=timezone.now(), staff_name=f"护士{i}")
    with django_assert_max_num_queries(len(few.captured_queries)):
        client.get(reverse("complaints:praise_list"))


def test_praise_export_is_an_excel_sheet_of_the_visible_rows(login, org, agent, dept_head):
    _praise(org, agent, received_at=timezone.now(), staff_name="骨科护士甲")
    _praise(org, agent, received_at=timezone.now(), department=org["nk"], staff_name="内科护士乙")
    response = login(dept_head).get(reverse("complaints:praise_export"))
    wb = load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    ws = wb.active
    assert ws["A1"].value == "表扬编号"
    assert [row[5].value for row in ws.iter_rows(min_row=2)] == ["骨科护士甲"]
