from __future__ import annotations

import io
from datetime import date, timedelta

import pypdf
import pytest
from django.urls import reverse
from openpyxl import load_workbook

from caredesk.complaints import bulletin
from caredesk.complaints.models import Complaint, ComplaintDeadline, Subcategory
from caredesk.complaints.praise import register_praise

from .factories import local, make_complaint

pytestmark = pytest.mark.django_db

OCT = date(2026, 10, 1)


@pytest.fixture
def month(org, agent):
    """October 2026: three 骨科 waiting-time complaints (a repeat problem), one 内科 fee complaint,
    one in September; one answered; deadlines met in time, late and missed."""
    wait = Subcategory.objects.filter(category="process").first() or Subcategory.objects.create(category="process", name="等候时间长")
    fee = Subcategory.objects.filter(category="fees").first() or Subcategory.objects.create(category="fees", name="收费不透明")
    cases = []
    for day in (9, 12, 20):
        cases.append(make_complaint(agent, received_at=local(2026, 10, day, 9), department_id=org["gk"].pk, category="process",
                                    subcategory_id=wait.pk, content="骨科门诊候诊时间太长，叫号系统混乱，排队两个小时。"))
    cases.append(make_complaint(agent, received_at=local(2026, 10, 15, 14), department_id=org["nk"].pk, category="fees",
                                subcategory_id=fee.pk, channel="online", severity="serious",
                                content="内科住院收费清单看不懂，多收了检查费。", complainant_phone="13900000001"))
    make_complaint(agent, received_at=local(2026, 9, 28, 9), department_id=org["gk"].pk, content="九月的投诉不应计入十月简报。",
                   complainant_phone="13900000002")
    first = cases[0]
    Complaint.objects.filter(pk=first.pk).update(feedback_at=local(2026, 10, 14, 9), satisfaction=4)
    # first response of case 0 met in time; of case 1 met late; of case 2 missed (open, past due)
    fr = {c.pk: ComplaintDeadline.objects.get(complaint=c, kind="first_response") for c in cases}
    ComplaintDeadline.objects.filter(pk=fr[cases[0].pk].pk).update(met_at=fr[cases[0].pk].due_at - timedelta(hours=1))
    ComplaintDeadline.objects.filter(pk=fr[cases[1].pk].pk).update(met_at=fr[cases[1].pk].due_at + timedelta(hours=3))
    ComplaintDeadline.objects.filter(pk=fr[cases[3].pk].pk).update(met_at=fr[cases[3].pk].due_at)
    register_praise(channel="letter", kind="banner", department=org["gk"], staff_name="王医生", content="锦旗",
                    received_at=local(2026, 10, 3, 10), acting_user=agent)
    return cases


def test_counts_by_dimension(month, org):
    b = bulletin.build(OCT, now=local(2026, 11, 2, 9))
    assert b.total == 4
    assert [(r.label, r.count) for r in b.by_department] == [("骨科", 3), ("内科", 1)]
    assert b.by_department[0].share == 75.0
    assert {r.label: r.count for r in b.by_category} == {"流程效率": 3, "费用": 1}
    assert {r.label: r.count for r in b.by_channel} == {"电话": 3, "网上投诉": 1}
    assert {r.label: r.count for r in b.by_severity} == {"一般": 3, "较重": 1}


def test_on_time_rate_per_step(month):
    b = bulletin.build(OCT, now=local(2026, 11, 2, 9))
    first = next(s for s in b.steps if s.kind == "first_response")
    # in time twice (one exactly at the due time); late once; missed twice: case 2, and the September
    # case whose first response fell due on 8 October, after the National Day holiday
    assert (first.on_time, first.late) == (2, 3)
    assert first.rate == 40.0


def test_handling_time_repeats_keywords_and_praise(month):
    b = bulletin.build(OCT, now=local(2026, 11, 2, 9))
    assert b.answered == 1 and b.avg_days == 5.0  # 9 Oct 09:00 → 14 Oct 09:00
    # working hours: 9 Oct 09:00–17:30 (7 h), Saturday 10 Oct (a 调休 working day, 8 h), 12 and 13 Oct
    # (8 h each), 14 Oct 08:00–09:00 (1 h)
    assert b.avg_working_hours == 32.0
    assert b.avg_rating == 4.0
    assert len(b.repeats) == 1 and b.repeats[0].department == "骨科" and b.repeats[0].count == 3
    words = dict(b.keywords)
    assert any(w in words for w in ("候诊", "叫号", "排队")) and "九月" not in "".join(words)
    assert b.praise is not None and b.praise.total == 1


def test_department_scope_counts_only_those_departments(month, org):
    b = bulletin.build(OCT, departments={org["nk"].pk}, scope_label="内科", now=local(2026, 11, 2, 9))
    assert b.total == 1 and b.repeats == [] and b.praise.total == 0


def test_bulletin_query_count_does_not_depend_on_the_number_of_complaints(month, org, agent, django_assert_max_num_queries):
    with django_assert_max_num_queries(20) as first:
        bulletin.build(OCT, now=local(2026, 11, 2, 9))
    for i in range(10):
        make_complaint(agent, received_at=local(2026, 10, 21, 9), department_id=org["nk"].pk, complainant_phone=f"1390000{i:04d}")
    with django_assert_max_num_queries(len(first.captured_queries)):
        bulletin.build(OCT, now=local(2026, 11, 2, 9))


def test_page_renders_for_the_supervisor_with_chart_data(month, login, supervisor):
    response = login(supervisor).get(reverse("complaints:bulletin") + "?month=2026-10")
    body = response.content.decode()
    assert response.status_code == 200
    assert 'id="bulletin-charts"' in body and "complaints-bulletin.js" in body and "<script>" not in body
    assert 'id="fig-total">4<' in body


def test_department_head_sees_only_their_departments(month, login, dept_head):
    body = login(dept_head).get(reverse("complaints:bulletin") + "?month=2026-10").content.decode()
    assert 'id="fig-total">3<' in body and "内科" not in body.split('id="by-department"')[1].split("</table>")[0]


def test_department_head_cannot_pick_another_department(month, login, dept_head, org):
    response = login(dept_head).get(reverse("complaints:bulletin") + f"?month=2026-10&department={org['nk'].pk}")
    assert "投诉统计简报 2026年10月" in response.content.decode()
    assert "请选择科室" in response.content.decode()
    assert 'id="fig-total">3<' in response.content.decode()  # falls back to their own departments


def test_an_older_month_is_kept_when_the_department_is_refused(month, login, dept_head, org):
    response = login(dept_head).get(reverse("complaints:bulletin") + f"?month=2026-09&department={org['nk'].pk}")
    assert "投诉统计简报 2026年9月" in response.content.decode() and 'id="fig-total">1<' in response.content.decode()


def test_agent_cannot_open_the_bulletin(login, agent):
    assert login(agent).get(reverse("complaints:bulletin")).status_code == 403


def test_excel_export_has_a_sheet_per_figure(month, login, supervisor):
    response = login(supervisor).get(reverse("complaints:bulletin_xlsx") + "?month=2026-10")
    wb = load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    assert {"概况", "按科室", "按类别", "时限达标", "重复问题", "关键词", "表扬（科室）"} <= set(wb.sheetnames)
    assert [c.value for c in wb["按科室"][2]] == ["骨科", 3, 75.0]
    assert wb["概况"]["B4"].value == 4


def test_pdf_export_has_the_chinese_figures(month, login, supervisor):
    response = login(supervisor).get(reverse("complaints:bulletin_pdf") + "?month=2026-10")
    assert response["Content-Type"] == "application/pdf"
    reader = pypdf.PdfReader(io.BytesIO(b"".join(response.streaming_content)))
    text = "".join(p.extract_text() for p in reader.pages)
    assert "投诉统计简报 2026年10月" in text and "骨科" in text and "各环节按时率" in text and "王医生" in text
