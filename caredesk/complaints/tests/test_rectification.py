from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from caredesk.complaints import rectification
from caredesk.complaints.models_extra import RectificationItem, RectificationNotice
from caredesk.complaints.rectification import TopicScore
from caredesk.core.models import AuditEvent

from .factories import make_complaint

pytestmark = pytest.mark.django_db

TODAY = date(2026, 11, 2)


@pytest.fixture
def complaint(org, agent):
    return make_complaint(agent, department_id=org["gk"].pk)


def _item(org, owner, creator, complaint=None, due=TODAY, **kw):
    return rectification.create_item(
        title="门诊高峰期增加导医解释", measures="高峰时段安排一名导医专门解释检查结果", department=org["gk"], owner=owner,
        due_date=due, topic="服务态度", complaint=complaint, acting_user=creator, **kw,
    )


def test_create_item_links_the_complaint_and_audits(org, dept_head, supervisor, complaint):
    item = _item(org, dept_head, supervisor, complaint)
    assert item.source_type == "complaints.complaint" and item.source_id == str(complaint.pk)
    assert item.status == "open"
    assert AuditEvent.objects.filter(verb="rectification.created", object_id=str(item.pk)).exists()


def test_item_can_come_from_another_source(org, dept_head, supervisor):
    item = _item(org, dept_head, supervisor, source_type="surveys.response", source_id="77")
    assert (item.complaint, item.source_type, item.source_id) == (None, "surveys.response", "77")


def test_evidence_then_verification_closes_the_item(org, dept_head, quality):
    item = _item(org, dept_head, quality)
    rectification.submit_evidence(item, text="已排班，每天 9-11 点增加一名导医。", acting_user=dept_head)
    item.refresh_from_db()
    assert item.status == "submitted" and item.evidence_at
    with pytest.raises(ValidationError, match="已提交"):
        rectification.submit_evidence(item, text="again", acting_user=dept_head)
    rectification.verify_item(item, result="effective", note="现场查看属实", acting_user=quality)
    item.refresh_from_db()
    assert item.status == "verified" and item.verified_by == quality


def test_ineffective_verification_sends_the_item_back_to_the_owner(org, dept_head, quality):
    item = _item(org, dept_head, quality)
    rectification.submit_evidence(item, text="已开会强调", acting_user=dept_head)
    rectification.verify_item(item, result="ineffective", note="抽查仍有投诉", acting_user=quality)
    item.refresh_from_db()
    assert item.status == "open" and item.result == "ineffective"
    event = AuditEvent.objects.get(verb="rectification.verified", object_id=str(item.pk))
    assert event.result == "ok" and event.details["verification"] == "ineffective"


def test_the_owner_cannot_verify_their_own_item(org, supervisor):
    item = _item(org, supervisor, supervisor)
    rectification.submit_evidence(item, text="done", acting_user=supervisor)
    with pytest.raises(ValidationError, match="不能验证自己"):
        rectification.verify_item(item, result="effective", note="ok", acting_user=supervisor)


def test_overdue_items_escalate_once_per_level(org, dept_head, supervisor, agent):
    item = _item(org, agent, supervisor, due=TODAY - timedelta(days=1))
    not_due = _item(org, agent, supervisor, due=TODAY)
    counts = rectification.escalate_overdue(today=TODAY)
    assert counts == {"level1": 1, "level2": 0}
    item.refresh_from_db()
    assert item.escalation_level == 1
    level1 = set(RectificationNotice.objects.filter(item=item, level=1).values_list("recipient_id", flat=True))
    assert level1 == {agent.pk, dept_head.pk}  # owner and the head of 外科 (above 骨科)
    assert rectification.escalate_overdue(today=TODAY) == {"level1": 0, "level2": 0}  # idempotent
    later = TODAY + timedelta(days=rectification.escalate_days())
    assert rectification.escalate_overdue(today=later) == {"level1": 1, "level2": 1}  # not_due is now late too
    level2 = set(RectificationNotice.objects.filter(item=item, level=2).values_list("recipient_id", flat=True))
    assert supervisor.pk in level2
    assert rectification.escalate_overdue(today=later) == {"level1": 0, "level2": 0}
    not_due.refresh_from_db()
    assert not_due.escalation_level == 1
    assert AuditEvent.objects.filter(verb="rectification.escalated").count() == 3


def test_submitted_or_verified_items_do_not_escalate(org, agent, supervisor):
    item = _item(org, agent, supervisor, due=TODAY - timedelta(days=3))
    rectification.submit_evidence(item, text="done", acting_user=agent)
    assert rectification.escalate_overdue(today=TODAY) == {"level1": 0, "level2": 0}


def test_later_scores_is_empty_until_the_surveys_module_is_connected(org, agent, supervisor, settings):
    item = _item(org, agent, supervisor)
    settings.RECTIFICATION_SCORES_PROVIDER = ""
    assert rectification.later_scores(item) == []


def fake_scores(*, department_id: int, topic: str, since: datetime) -> list[TopicScore]:
    assert topic == "服务态度" and since.tzinfo is not None
    return [TopicScore(period="2026-12", score=4.4, scale=5, responses=31)]


def test_later_scores_asks_the_configured_provider(org, agent, supervisor, settings):
    item = _item(org, agent, supervisor)
    settings.RECTIFICATION_SCORES_PROVIDER = "caredesk.complaints.tests.test_rectification.fake_scores"
    assert rectification.later_scores(item) == [TopicScore("2026-12", 4.4, 5, 31)]


# --- pages --------------------------------------------------------------------------------------------


def test_department_head_creates_an_item_from_a_complaint(login, org, dept_head, complaint):
    client = login(dept_head)
    url = reverse("complaints:rectification_create") + f"?complaint={complaint.pk}"
    assert client.get(url).status_code == 200
    response = client.post(url, {
        "complaint": complaint.pk, "title": "加强沟通", "measures": "科室培训", "department": org["gk"].pk,
        "owner": dept_head.pk, "due_date": (timezone.localdate() + timedelta(days=14)).isoformat(), "topic": "服务态度",
    })
    assert response.status_code == 302
    assert RectificationItem.objects.get().complaint == complaint


def test_create_page_refuses_a_past_due_date_in_chinese(login, org, dept_head):
    response = login(dept_head).post(reverse("complaints:rectification_create"), {
        "title": "x", "measures": "y", "department": org["gk"].pk, "owner": dept_head.pk, "due_date": "2020-01-01",
    })
    assert response.status_code == 422
    assert "整改期限不能早于今天" in response.content.decode()


def test_owner_uploads_evidence_and_quality_verifies_through_the_pages(login, org, dept_head, quality, client):
    item = _item(org, dept_head, quality, due=timezone.localdate())
    client.force_login(dept_head)
    pdf = SimpleUploadedFile("培训签到表.pdf", b"%PDF-1.4 test", content_type="application/pdf")
    response = client.post(reverse("complaints:rectification_evidence", args=[item.pk]),
                           {"evidence_text": "已完成全科培训", "evidence_file": pdf})
    assert response.status_code == 302
    item.refresh_from_db()
    assert item.status == "submitted" and item.evidence_name == "培训签到表.pdf"
    download = client.get(reverse("complaints:rectification_file", args=[item.pk]))
    assert download.status_code == 200 and b"".join(download.streaming_content).startswith(b"%PDF")
    client.force_login(quality)
    response = client.post(reverse("complaints:rectification_verify", args=[item.pk]), {"result": "effective", "note": "属实"})
    assert response.status_code == 302
    item.refresh_from_db()
    assert item.status == "verified"
    item.evidence_file.delete(save=False)


def test_evidence_upload_refuses_a_file_whose_content_is_not_its_type(login, org, dept_head, quality):
    item = _item(org, dept_head, quality)
    fake = SimpleUploadedFile("x.pdf", b"MZ\x90\x00 not a pdf", content_type="application/pdf")
    response = login(dept_head).post(reverse("complaints:rectification_evidence", args=[item.pk]),
                                     {"evidence_text": "见附件", "evidence_file": fake})
    assert response.status_code == 422
    assert "文件内容与扩展名不符" in response.content.decode()


def test_list_views_and_department_scope(login, org, dept_head, supervisor, outsider):
    mine = _item(org, dept_head, supervisor, due=timezone.localdate() - timedelta(days=2))
    other = rectification.create_item(title="内科候诊秩序", measures="m", department=org["nk"], owner=outsider,
                                      due_date=timezone.localdate(), acting_user=supervisor)
    client = login(dept_head)
    page = client.get(reverse("complaints:rectification_list") + "?view=overdue").content.decode()
    assert mine.title in page and "超期" in page
    page = client.get(reverse("complaints:rectification_list") + "?view=department").content.decode()
    assert other.title not in page
    assert client.get(reverse("complaints:rectification_detail", args=[other.pk])).status_code == 404
    # the outsider (no role) owns the 内科 item: sees it, and only it
    client.force_login(outsider)
    page = client.get(reverse("complaints:rectification_list")).content.decode()
    assert other.title in page and mine.title not in page
    assert client.get(reverse("complaints:rectification_detail", args=[mine.pk])).status_code == 404


def test_list_query_count_is_constant(login, org, dept_head, supervisor, django_assert_max_num_queries):
    client = login(supervisor)
    _item(org, dept_head, supervisor)
    client.get(reverse("complaints:rectification_list") + "?view=department")
    with django_assert_max_num_queries(40) as first:
        client.get(reverse("complaints:rectification_list") + "?view=department")
    for _ in range(15):
        _item(org, dept_head, supervisor)
    with django_assert_max_num_queries(len(first.captured_queries)):
        client.get(reverse("complaints:rectification_list") + "?view=department")
