"""FHIR Task: search by patient and read, R4B-valid, scoped and audited."""

from __future__ import annotations

import pytest

from caredesk.core.models import AuditEvent
from caredesk.followups import actions
from caredesk.followups.models import FollowupTask

pytestmark = pytest.mark.django_db


def test_task_search_and_read_with_a_token(due_tasks, agent, client):
    from caredesk.accounts.actions import issue_api_token

    task = due_tasks(1)[0]
    actions.log_attempt(task, outcome="reached", agent=agent)
    actions.save_record(task, agent=agent, satisfaction=5, problems=[])
    raw = issue_api_token(agent, name="his", acting_user=None)
    auth = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
    r = client.get(f"/fhir/Task?patient=Patient/{task.patient_id}", **auth)
    assert r.status_code == 200 and r["Content-Type"].startswith("application/fhir+json")
    bundle = r.json()
    assert bundle["total"] == 7 and bundle["type"] == "searchset"
    first = bundle["entry"][0]["resource"]
    assert first["resourceType"] == "Task" and first["status"] == "completed" and first["intent"] == "plan"
    assert first["for"] == {"reference": f"Patient/{task.patient_id}"}
    assert first["executionPeriod"]["start"] == "2026-11-23"
    assert {"type": {"text": "satisfaction"}, "valueInteger": 5} in first["output"]
    assert first["code"]["coding"][0]["code"] == "discharge"
    assert "患者" not in r.content.decode()  # no patient name in a Task
    only_open = client.get(f"/fhir/Task?patient={task.patient_id}&status=requested", **auth).json()
    assert only_open["total"] == 6
    one = client.get(f"/fhir/Task/{task.pk}", **auth)
    assert one.status_code == 200 and one.json()["id"] == str(task.pk)
    assert AuditEvent.objects.filter(verb="fhir.read", patient_id=task.patient_id, details__resource="Task").count() >= 2
    assert client.get("/fhir/Task?patient=abc", **auth).status_code == 400
    assert client.get("/fhir/Task/999999", **auth).status_code == 404
    assert client.get(f"/fhir/Task/{task.pk}").status_code == 401


def test_a_department_head_sees_only_their_departments_tasks(due_tasks, dept_head, outsider, client):
    task = due_tasks(1)[0]  # 骨科, under 外科
    client.force_login(dept_head)
    assert client.get(f"/fhir/Task/{task.pk}").status_code == 200
    client.force_login(outsider)  # 内科
    assert client.get(f"/fhir/Task/{task.pk}").status_code == 404
    assert client.get(f"/fhir/Task?patient={task.patient_id}").json()["total"] == 0
    assert FollowupTask.objects.count() == 7
