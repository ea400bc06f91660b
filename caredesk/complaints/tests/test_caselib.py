from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from caredesk.accounts.models import Doctor
from caredesk.complaints import caselib
from caredesk.complaints.models_extra import CaseStudy
from caredesk.core.models import AuditEvent

from .factories import make_complaint, walk_to

pytestmark = pytest.mark.django_db

TEXT = ("我父亲王小明（手机13812345678，身份证110105194912310021，门诊号MZ20261003）于2026年10月3日下午3点在骨科就诊，"
        "刘建国医生态度冷淡。我叫张丽华，打电话0755-83001234也没人接。李护士长10:30出面解释。")


def test_deidentify_replaces_known_names_numbers_dates_and_titles():
    text, n = caselib.deidentify(TEXT, {"投诉人": ["张丽华"], "患者": ["王小明"], "医务人员": ["刘建国"]})
    for secret in ["王小明", "小明", "13812345678", "110105194912310021", "MZ20261003", "2026年10月3日", "下午3点",
                   "刘建国", "张丽华", "83001234", "10:30", "李护士长"]:
        assert secret not in text, secret
    assert "[患者]" in text and "[投诉人]" in text and "[医务人员]" in text and "[电话]" in text and "[证件号]" in text
    assert "[编号]" in text and "[日期]" in text and "[时间]" in text and "某护士长" in text
    assert "骨科" in text and "态度冷淡" in text  # the story stays readable
    assert n >= 10


def test_deidentify_finds_names_it_was_not_told_with_jieba():
    text, _n = caselib.deidentify("当天陪同的还有朋友周杰伦和邻居。", {})
    assert "周杰伦" not in text and "[姓名]" in text


def test_residual_findings_catch_what_is_left():
    assert caselib.residual_findings("联系13900000000", {}) == ["手机号码"]
    assert caselib.residual_findings("张丽华投诉", {"投诉人": ["张丽华"]}) == ["当事人姓名"]
    assert caselib.residual_findings("[投诉人]投诉", {"投诉人": ["张丽华"]}) == []


@pytest.fixture
def archived(org, agent, dept_head, supervisor):
    doctor = Doctor.objects.create(name="刘建国", department=org["gk"], staff_no="D100")
    c = make_complaint(agent, department_id=org["gk"].pk, staff_doctor_id=doctor.pk, complainant_name="张丽华",
                       complainant_phone="13812345678", content=TEXT, demands="要求刘建国当面道歉")
    return walk_to(c, "archived", agent=agent, head=dept_head, supervisor=supervisor)


def test_draft_from_an_archived_case_is_deidentified(archived, quality):
    case = caselib.draft_case(archived, acting_user=quality)
    assert case.state == "draft" and case.replacements > 0
    everything = case.narrative + case.handling + case.lessons
    assert "刘建国" not in everything and "张丽华" not in everything and "13812345678" not in everything
    assert "[医务人员]当面道歉" in case.narrative
    assert "刘医生" not in case.handling  # the statement writer from the workflow
    assert AuditEvent.objects.filter(verb="casestudy.drafted", object_id=str(case.pk)).exists()
    with pytest.raises(ValidationError, match="已有案例"):
        caselib.draft_case(archived, acting_user=quality)


def test_open_cases_cannot_be_drafted(org, agent, quality):
    with pytest.raises(ValidationError, match="已归档"):
        caselib.draft_case(make_complaint(agent), acting_user=quality)


def test_publishing_refuses_text_that_still_names_people(archived, quality):
    case = caselib.draft_case(archived, acting_user=quality)
    with pytest.raises(ValidationError, match="当事人姓名"):
        caselib.publish_case(case, title="t", narrative=case.narrative + "刘建国", handling="", lessons="", tags=[],
                             acting_user=quality)
    caselib.publish_case(case, title="门诊沟通不足", narrative=case.narrative, handling=case.handling, lessons=case.lessons,
                         tags=["沟通", "门诊"], acting_user=quality)
    case.refresh_from_db()
    assert case.state == "published" and case.published_by == quality
    assert sorted(t.name for t in case.tags.all()) == ["沟通", "门诊"]


def test_reviewer_drafts_and_publishes_through_the_pages_and_staff_find_it(archived, login, quality, agent):
    client = login(quality)
    assert archived.case_no in client.get(reverse("complaints:case_review")).content.decode()
    response = client.post(reverse("complaints:case_draft", args=[archived.pk]))
    case = CaseStudy.objects.get()
    assert response.url == reverse("complaints:case_edit", args=[case.pk])
    page = client.get(response.url).content.decode()
    assert "自动替换" in page
    response = client.post(response.url, {"title": "门诊沟通不足案例", "narrative": case.narrative, "handling": case.handling,
                                          "lessons": "高峰时段加强解释", "tags": "沟通，门诊"})
    assert response.status_code == 302
    client.force_login(agent)
    page = client.get(reverse("complaints:case_library") + "?q=沟通").content.decode()
    assert "门诊沟通不足案例" in page
    assert "门诊沟通不足案例" not in client.get(reverse("complaints:case_library") + "?q=不存在的词").content.decode()
    assert client.get(reverse("complaints:case_library") + "?tag=门诊").content.decode().count("门诊沟通不足案例") == 1
    assert client.get(reverse("complaints:case_detail", args=[case.pk])).status_code == 200


def test_drafts_are_hidden_from_readers(archived, login, quality, agent):
    case = caselib.draft_case(archived, acting_user=quality)
    client = login(agent)
    assert client.get(reverse("complaints:case_detail", args=[case.pk])).status_code == 404
    assert client.get(reverse("complaints:case_review")).status_code == 403
    assert case.title not in client.get(reverse("complaints:case_library")).content.decode()


def test_publish_page_shows_the_refusal_in_chinese(archived, login, quality):
    case = caselib.draft_case(archived, acting_user=quality)
    response = login(quality).post(reverse("complaints:case_edit", args=[case.pk]), {
        "title": "x", "narrative": "投诉人电话13812345678", "tags": ""})
    assert response.status_code == 422 and "仍含疑似个人信息" in response.content.decode()


def test_withdrawn_cases_leave_the_library(archived, login, quality):
    case = caselib.draft_case(archived, acting_user=quality)
    caselib.publish_case(case, title="标题", narrative=case.narrative, handling="", lessons="", tags=[], acting_user=quality)
    client = login(quality)
    client.post(reverse("complaints:case_withdraw", args=[case.pk]))
    case.refresh_from_db()
    assert case.state == "withdrawn"
    assert "标题" not in client.get(reverse("complaints:case_library")).content.decode().split('id="case-results"')[1]
