"""Fixtures for survey tests: a small two-page satisfaction questionnaire, rules, visits."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from .specs import SPEC

TZ = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def questionnaire(db: Any) -> Any:
    from caredesk.questionnaires.actions import create_from_spec

    return create_from_spec(SPEC).questionnaire


@pytest.fixture
def outpatient_rule(questionnaire: Any) -> Any:
    from caredesk.surveys.models import SurveyRule

    return SurveyRule.objects.create(name="门诊次日", trigger="outpatient_visit", offset_days=1, questionnaire=questionnaire)


@pytest.fixture
def discharge_rule(questionnaire: Any) -> Any:
    from caredesk.surveys.models import SurveyRule

    return SurveyRule.objects.create(name="出院三天", trigger="discharge", offset_days=3, questionnaire=questionnaire)


def recent(days_ago: float = 0.5) -> datetime:
    return datetime.now(TZ) - timedelta(days=days_ago)


_seq = iter(range(1, 10**6))


def make_patient(name: str = "张三", mobile: str = "13800138000", **fields: Any) -> Any:
    from caredesk.patients.tests.factories import make_patient as _make

    return _make(name=name, mobile=mobile, **fields)


def visit(patient: Any, *, kind: str = "outpatient", department: str = "WK", at: datetime | None = None,
          discharged_at: datetime | None = None) -> Any:
    from caredesk.patients.actions import record_encounter
    from caredesk.patients.data import EncounterData

    n = next(_seq)
    data = EncounterData(kind=kind, source_system="HIS", source_id=f"V{n}", department=department,
                         visit_at=at or recent(), admitted_at=(at or recent()) if kind == "inpatient" else None,
                         discharged_at=discharged_at)
    encounter, _status = record_encounter(patient, data)
    return encounter
