"""Plans started by a closed complaint or a negative survey answer (not by a visit)."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone

from caredesk.followups.models import FollowupPlan, FollowupTask, PlanTemplate

pytestmark = pytest.mark.django_db


def _template(trigger: str) -> PlanTemplate:
    t = PlanTemplate.objects.create(code=f"t-{trigger}", name=f"{trigger} 回访", trigger=trigger)
    t.steps.create(order=1, label="三个工作日内", offset=3, unit="working_days")
    return t


def test_archiving_a_patients_complaint_starts_the_complaint_closed_plan_once(org: Any, agent: Any, dept_head: Any,
                                                                               supervisor: Any) -> None:
    from caredesk.complaints import actions
    from caredesk.complaints.tests.factories import make_complaint, walk_to
    from caredesk.patients import actions as patients
    from caredesk.patients.data import PatientData

    template = _template("complaint_closed")
    patients.upsert_patient(PatientData(name="张三", mobile="13812345678"), source="test")
    c = make_complaint(agent, department_id=org["gk"].pk)
    c = walk_to(c, "archived", agent=agent, head=dept_head, supervisor=supervisor)
    plan = FollowupPlan.objects.get(template=template)
    assert (plan.patient_id, plan.source_key, plan.department_id) == (c.patient_id, f"complaint:{c.pk}", org["gk"].pk)
    task = FollowupTask.objects.get(plan=plan)
    assert task.step_key == "1" and task.due_date > timezone.localdate()
    from caredesk.followups.generate import generate_for_event

    generate_for_event("complaint_closed", patient=c.patient, source_key=f"complaint:{c.pk}",
                       day=plan.trigger_date, department_id=c.department_id)
    assert FollowupTask.objects.filter(plan__template=template).count() == 1  # idempotent
    actions.analyse(c, acting_user=supervisor, root_cause="门诊高峰时段沟通不足", suggestion="加强培训")
    assert FollowupPlan.objects.filter(template=template).count() == 1


def test_a_negative_answer_starts_the_negative_survey_plan(org: Any) -> None:
    from caredesk.patients.tests.factories import make_patient
    from caredesk.questionnaires import actions as q
    from caredesk.questionnaires.models import Questionnaire
    from caredesk.surveys.actions import review_response

    template = _template("negative_survey")
    patient = make_patient("李四", mobile="13900001111")
    version = Questionnaire.objects.get(code="survey-outpatient").published_version()
    recommend = version.items.get(link_id="recommend")
    response = q.save_response(version, {}, submit=False, patient=patient, department=org["gk"])
    response.recommend = 2  # far below the threshold
    response.save(update_fields=["recommend"])
    assert recommend.kind == "recommend"
    item = review_response(response)
    assert item is not None
    plan = FollowupPlan.objects.get(template=template)
    assert (plan.patient_id, plan.source_key) == (patient.pk, f"response:{response.pk}")
    assert FollowupTask.objects.filter(plan=plan).count() == 1
    patient.is_deceased = True
    patient.save(update_fields=["is_deceased"])
    from caredesk.followups.generate import generate_for_event

    assert generate_for_event("negative_survey", patient=patient, source_key="response:0", day=plan.trigger_date).plans_offered == 0
