from __future__ import annotations

import pytest

from caredesk.core.models import AuditEvent

pytestmark = pytest.mark.django_db

BODY = {
    "received_at": "2026-09-30T16:00:00+08:00",
    "channel": "hotline_12345",
    "category": "service_attitude",
    "severity": "general",
    "content": "市民反映骨科门诊护士分诊时态度生硬，拒绝解释候诊顺序。",
    "complainant_name": "王五",
    "complainant_phone": "13700001234",
    "department": "WK-GK",
    "external_ref": "12345-20260930-0088",
}


def test_post_returns_case_number_and_calendar_deadlines(client, org, agent):
    client.force_login(agent)
    response = client.post("/api/v1/complaints", BODY, content_type="application/json")
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["case_no"] == "TS2026090001"
    assert data["first_response_due"] == "2026-10-10T16:00:00+08:00"
    assert data["statement_due"] == "2026-10-10T17:30:00+08:00"
    assert data["reply_due"] == "2026-10-13T17:30:00+08:00"
    assert data["complainant_phone"] == "137****1234" and data["complainant_name"] == "王*"
    assert "13700001234" not in response.content.decode()
    # the same hotline ticket again: the same case
    again = client.post("/api/v1/complaints", BODY, content_type="application/json")
    assert again.json()["case_no"] == "TS2026090001"
    assert AuditEvent.objects.filter(verb="complaints.register").count() == 1


def test_post_validation_errors_are_422_with_fields(client, org, agent):
    client.force_login(agent)
    bad = dict(BODY, channel="fax", received_at="yesterday", content="短")
    response = client.post("/api/v1/complaints", bad, content_type="application/json")
    assert response.status_code == 422
    fields = {d["field"] for d in response.json()["error"]["details"]}
    assert {"channel", "received_at", "content"} <= fields
    unknown = client.post("/api/v1/complaints", dict(BODY, department="NOPE"), content_type="application/json")
    assert unknown.status_code == 422 and unknown.json()["error"]["details"][0]["field"] == "department"
    naive = client.post("/api/v1/complaints", dict(BODY, received_at="2026-09-30T16:00:00"), content_type="application/json")
    assert naive.status_code == 422 and naive.json()["error"]["details"][0]["field"] == "received_at"
    phone = client.post("/api/v1/complaints", dict(BODY, complainant_phone="12ab"), content_type="application/json")
    assert phone.status_code == 422 and phone.json()["error"]["details"][0]["field"] == "complainant_phone"


def test_permissions_and_scope(client, org, agent, dept_head, outsider):
    client.force_login(outsider)
    assert client.post("/api/v1/complaints", BODY, content_type="application/json").status_code == 403
    client.force_login(agent)
    case_no = client.post("/api/v1/complaints", BODY, content_type="application/json").json()["case_no"]
    other = client.post("/api/v1/complaints", dict(BODY, department="NK", external_ref="x2"), content_type="application/json").json()
    client.force_login(dept_head)
    listed = client.get("/api/v1/complaints").json()
    assert [i["case_no"] for i in listed["items"]] == [case_no]
    assert client.get(f"/api/v1/complaints/{other['case_no']}").status_code == 404
    client.force_login(outsider)
    assert client.get("/api/v1/complaints").json()["count"] == 0


def test_six_steps_through_the_api(client, org, agent, dept_head, supervisor):
    client.force_login(agent)
    case_no = client.post("/api/v1/complaints", BODY, content_type="application/json").json()["case_no"]

    def step(user, action, **body):
        client.force_login(user)
        return client.post(f"/api/v1/complaints/{case_no}/{action}", body, content_type="application/json")

    assert step(agent, "accept").json()["status"] == "accepted"
    assert step(agent, "archive").status_code == 403
    assert step(dept_head, "request_statement", staff_name="分诊护士").status_code == 200
    assert step(dept_head, "record_statement", content="当时候诊人数多，解释不够耐心。").status_code == 200
    missing = step(dept_head, "classify", note="态度问题属实")
    assert missing.status_code == 422 and missing.json()["error"]["details"][0]["field"] == "finding"
    assert step(dept_head, "classify", finding="substantiated", note="态度问题属实").status_code == 200
    assert step(dept_head, "propose_plan", kind="apology", description="护士长当面致歉并说明候诊规则。").status_code == 200
    conflict = step(supervisor, "archive")
    assert conflict.status_code == 409 and conflict.json()["error"]["code"] == "invalid_transition"
    assert step(supervisor, "resolve", summary="已致歉，候诊顺序已解释清楚。").json()["status"] == "feedback"
    no_days = step(supervisor, "extend_deadline", kind="reply", reason="需要调取监控核实")
    assert no_days.status_code == 422 and no_days.json()["error"]["details"][0]["field"] == "working_days"
    assert step(supervisor, "give_feedback", rating=5).status_code == 200
    assert step(supervisor, "archive").json()["status"] == "archived"
    done = step(supervisor, "analyse", root_cause="分诊台高峰时段人手不足。")
    data = done.json()
    assert data["status"] == "analysed" and data["available_actions"] == []
    assert [e["verb"] for e in data["events"]][:3] == ["register", "accept", "request_statement"]
    client.force_login(supervisor)
    filtered = client.get("/api/v1/complaints", {"status": "analysed", "department": "WK-GK", "channel": "hotline_12345"}).json()
    assert filtered["count"] == 1


def test_list_query_count_is_constant(client, org, agent, django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(agent)
    for i in range(2):
        client.post("/api/v1/complaints", dict(BODY, external_ref=f"a{i}"), content_type="application/json")
    with CaptureQueriesContext(connection) as few:
        client.get("/api/v1/complaints")
    for i in range(10):
        client.post("/api/v1/complaints", dict(BODY, external_ref=f"b{i}"), content_type="application/json")
    with CaptureQueriesContext(connection) as many:
        assert client.get("/api/v1/complaints").json()["count"] == 12
    assert len(many) == len(few)
