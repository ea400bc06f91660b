from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from caredesk.complaints import actions
from caredesk.complaints.models import Attachment, Complaint, Status
from caredesk.core.models import AuditEvent

from .factories import local, make_complaint

pytestmark = pytest.mark.django_db

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def test_list_masks_identity_and_has_a_constant_query_count(org, agent, login):
    from django.db import connection

    filters = {"status": "registered", "category": "service_attitude", "department": org["gk"].pk,
               "start": "2026-01-01", "end": "2026-12-31", "q": "态度", "channel": "phone"}
    for _ in range(3):
        make_complaint(agent, department_id=org["gk"].pk)
    client = login(agent)
    url = reverse("complaints:list")
    with CaptureQueriesContext(connection) as few:
        response = client.get(url)
    with CaptureQueriesContext(connection) as few_filtered:
        assert client.get(url, filters).status_code == 200
    assert response.status_code == 200
    body = response.content.decode()
    assert "张*" in body and "张三" not in body and "13812345678" not in body
    for _ in range(30):
        make_complaint(agent, department_id=org["gk"].pk)
    with CaptureQueriesContext(connection) as many:
        assert client.get(url).status_code == 200
    with CaptureQueriesContext(connection) as many_filtered:
        body = client.get(url, filters).content.decode()
    assert body.count("/complaints/TS") == 25  # a full page of matches
    assert len(many) == len(few)
    assert len(many_filtered) == len(few_filtered)


def test_list_filters_and_department_scope(org, agent, dept_head, login):
    mine = make_complaint(agent, department_id=org["gk"].pk)
    other = make_complaint(agent, department_id=org["nk"].pk, category="fees", content="门诊收费多收了一次挂号费。")
    client = login(dept_head)
    body = client.get(reverse("complaints:list")).content.decode()
    assert mine.case_no in body and other.case_no not in body
    assert client.get(reverse("complaints:detail", args=[other.case_no])).status_code == 404
    client = login(agent)
    body = client.get(reverse("complaints:list"), {"category": "fees"}).content.decode()
    assert other.case_no in body and mine.case_no not in body
    body = client.get(reverse("complaints:list"), {"q": mine.case_no}).content.decode()
    assert mine.case_no in body and other.case_no not in body


def test_intake_form_registers_and_redirects(org, agent, login):
    client = login(agent)
    assert client.get(reverse("complaints:new") + "?source_type=followups.record&source_id=9&channel=followup").status_code == 200
    response = client.post(reverse("complaints:new"), {
        "channel": "walk_in", "received_at": "2026-11-02T09:00", "complainant_name": "李四",
        "complainant_phone": "13900001111", "relation": "self", "department": org["gk"].pk,
        "content": "骨科病房护士夜间呼叫不应答，家属多次去护士站找人。", "category": "service_attitude", "severity": "general",
    })
    c = Complaint.objects.get()
    assert response.status_code == 302 and response["Location"].endswith(f"/complaints/{c.case_no}/")
    assert c.suggested_category  # a suggestion was recorded alongside the person's choice
    errors = client.post(reverse("complaints:new"), {"channel": "phone", "received_at": "2026-11-02T09:00", "content": "短"})
    assert errors.status_code == 200 and "投诉内容至少5个字" in errors.content.decode()


def test_detail_shows_only_the_legal_actions_for_the_role(org, agent, dept_head, supervisor, login):
    c = make_complaint(agent, department_id=org["gk"].pk)
    page = login(agent).get(reverse("complaints:detail", args=[c.case_no])).content.decode()
    assert 'id="action-accept"' in page and 'id="action-classify"' not in page and 'id="action-archive"' not in page
    actions.accept(c, acting_user=agent)
    page = login(dept_head).get(reverse("complaints:detail", args=[c.case_no])).content.decode()
    assert 'id="action-request_statement"' in page and 'id="action-classify"' in page
    assert 'id="action-accept"' not in page and 'id="action-merge"' not in page
    # an agent posting a step that is not theirs is refused
    response = login(agent).post(reverse("complaints:action", args=[c.case_no, "classify"]),
                                 {"classify-finding": "partly", "classify-note": "部分属实"})
    assert response.status_code == 403


def test_action_post_runs_the_transition_and_reports_errors(org, agent, dept_head, login):
    c = make_complaint(agent, department_id=org["gk"].pk)
    client = login(agent)
    client.post(reverse("complaints:action", args=[c.case_no, "accept"]), {"accept-note": "已电话联系投诉人"})
    c.refresh_from_db()
    assert c.status == Status.ACCEPTED
    client = login(dept_head)
    response = client.post(reverse("complaints:action", args=[c.case_no, "propose_plan"]),
                           {"propose_plan-kind": "apology", "propose_plan-description": "当面致歉并解释。"}, follow=True)
    assert "当前状态为“已受理”" in response.content.decode()


def test_attachments_checked_stored_privately_and_served_to_permitted_staff(org, agent, dept_head, outsider, login, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "private"
    c = make_complaint(agent, department_id=org["gk"].pk)
    client = login(agent)
    client.post(reverse("complaints:attachment_upload", args=[c.case_no]),
                {"kind": "evidence", "file": SimpleUploadedFile("发票.png", PNG, content_type="image/png")})
    att = Attachment.objects.get()
    assert str(tmp_path / "private" / "complaints") in att.file.path
    fake = client.post(reverse("complaints:attachment_upload", args=[c.case_no]),
                       {"kind": "evidence", "file": SimpleUploadedFile("x.pdf", b"MZ\x90\x00", content_type="application/pdf")},
                       follow=True)
    assert "文件内容与扩展名不符" in fake.content.decode()
    exe = client.post(reverse("complaints:attachment_upload", args=[c.case_no]),
                      {"kind": "evidence", "file": SimpleUploadedFile("a.exe", b"MZ", content_type="application/octet-stream")},
                      follow=True)
    assert "不支持的文件类型" in exe.content.decode()
    url = reverse("complaints:attachment", args=[c.case_no, att.pk])
    response = login(dept_head).get(url)
    assert response.status_code == 200 and b"".join(response.streaming_content) == PNG
    assert AuditEvent.objects.filter(verb="complaints.attachment_viewed").count() == 1
    assert login(outsider).get(url).status_code in (403, 404)


def test_attachment_size_limit(org, agent, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    settings.COMPLAINTS_ATTACHMENT_MAX_BYTES = 100
    c = make_complaint(agent)
    with pytest.raises(actions.TransitionError, match="文件过大"):
        actions.add_attachment(c, acting_user=agent, upload=SimpleUploadedFile("a.png", PNG + b"\x00" * 100))


def test_notices_page(org, agent, dept_head, login):
    from caredesk.complaints import sweep

    make_complaint(agent, department_id=org["gk"].pk, received_at=local(2026, 11, 2, 9, 0))
    sweep.sweep(now=local(2026, 11, 5, 10, 0))
    client = login(dept_head)
    body = client.get(reverse("complaints:notices")).content.decode()
    assert "超时升级" in body
    client.post(reverse("complaints:notices"))
    assert not dept_head.complaint_notifications.filter(read_at__isnull=True).exists()


def test_suggest_endpoint_returns_a_suggestion(org, agent, login):
    response = login(agent).post(reverse("complaints:suggest"), {"content": "骨科收费处多收了我两百元检查费，要求退费"})
    body = response.content.decode()
    assert "费用" in body and "骨科" in body


def test_settings_page_edits_policies_and_subcategories(org, agent, supervisor, login):
    from caredesk.complaints.models import DeadlinePolicy, Subcategory

    assert login(agent).get(reverse("complaints:settings")).status_code == 403
    client = login(supervisor)
    assert client.get(reverse("complaints:settings")).status_code == 200
    client.post(reverse("complaints:settings"), {"policy-category": "fees", "policy-severity": "", "policy-kind": "reply",
                                                  "policy-amount": 3, "policy-unit": "working_days",
                                                  "policy-remind_before_minutes": 120, "policy-is_active": "on"})
    assert DeadlinePolicy.objects.get(category="fees", kind="reply").amount == 3
    client.post(reverse("complaints:settings"), {"sub-category": "fees", "sub-name": "停车收费", "sub-is_active": "on"})
    assert Subcategory.objects.filter(category="fees", name="停车收费").exists()
    assert AuditEvent.objects.filter(verb="complaints.policy_saved").exists()
    c = make_complaint(agent, category="fees", received_at=local(2026, 9, 30, 16, 0))
    reply = c.deadlines.get(kind="reply")
    from django.utils import timezone
    assert timezone.localtime(reply.due_at) == local(2026, 10, 10, 17, 30)


def test_list_pages_and_caps_the_count(org, agent, login, monkeypatch):
    from caredesk.complaints import views

    monkeypatch.setattr(views, "PAGE_SIZE", 2)
    monkeypatch.setattr(views, "COUNT_CAP", 3)
    for _ in range(5):
        make_complaint(agent)
    client = login(agent)
    body = client.get(reverse("complaints:list")).content.decode()
    assert "超过 3 件" in body and "page=2" in body
    last = client.get(reverse("complaints:list"), {"page": 3}).content.decode()
    assert "第 3 页" in last and "page=4" not in last and last.count("TS2026") >= 1
    assert client.get(reverse("complaints:list"), {"page": "x"}).status_code == 200


def test_complainant_phone_is_revealed_only_with_a_purpose_and_audited(org, agent, supervisor, login):
    c = make_complaint(agent)
    url = reverse("core:reveal", args=["complaints.complaint", c.pk, "complainant_phone"])
    client = login(supervisor)
    assert client.get(url).status_code == 200
    response = client.post(url, {"purpose": "回电告知处理结果"})
    assert "13812345678" in response.content.decode()
    assert AuditEvent.objects.filter(verb="pii.reveal", object_id=str(c.pk)).exists()
    assert login(agent).post(url, {"purpose": "想看看"}).status_code in (403, 404)  # no reveal permission
    assert "13812345678" not in login(agent).get(reverse("complaints:detail", args=[c.case_no])).content.decode()


def test_department_filter_includes_sub_departments(org, agent, login):
    gk = make_complaint(agent, department_id=org["gk"].pk)
    nk = make_complaint(agent, department_id=org["nk"].pk)
    body = login(agent).get(reverse("complaints:list"), {"department": org["wk"].pk}).content.decode()
    assert gk.case_no in body and nk.case_no not in body
