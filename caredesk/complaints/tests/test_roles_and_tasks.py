import pytest
from django.conf import settings
from django.urls import reverse

from caredesk.complaints.links import new_complaint_url
from caredesk.complaints.roles import can
from caredesk.complaints.tasks import sweep_deadlines

from .factories import make_complaint

pytestmark = pytest.mark.django_db


def test_role_rules(org, agent, dept_head, quality, supervisor, outsider):
    service = make_complaint(agent, department_id=org["gk"].pk)
    medical = make_complaint(agent, department_id=org["nk"].pk, category="medical_quality")
    assert can(agent, "accept", service) and not can(agent, "classify", service)
    assert can(dept_head, "classify", service) and not can(dept_head, "classify", medical)  # 内科 is not theirs
    assert not can(dept_head, "archive", service) and not can(dept_head, "accept", service)
    assert can(quality, "classify", medical) and not can(quality, "classify", service)
    assert can(quality, "approve_plan", medical) and not can(quality, "archive", medical)
    assert all(can(supervisor, a, service) for a in ("accept", "classify", "resolve", "archive", "merge", "extend_deadline"))
    assert not any(can(outsider, a, service) for a in ("accept", "classify", "attach"))


def test_beat_runs_the_sweep_every_minute(org):
    entry = settings.CELERY_BEAT_SCHEDULE["complaints-deadline-sweep"]
    assert entry == {"task": "caredesk.complaints.tasks.sweep_deadlines", "schedule": 60.0}
    assert sweep_deadlines.delay().get() == {"reminded": 0, "breached": 0, "notifications": 0}


def test_one_click_link_prefills_the_intake_form(org, agent, login):
    source = make_complaint(agent)  # any model instance works as a source
    url = new_complaint_url(source, channel="followup", content="回访时患者反映病房夜间太吵", department_code="WK-GK")
    assert url.startswith(reverse("complaints:new")) and "source_type=complaints.complaint" in url
    body = login(agent).get(url).content.decode()
    assert "回访时患者反映病房夜间太吵" in body and 'value="followup" selected' in body
