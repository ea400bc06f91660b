"""Rectification items show the department's later survey scores on their topic."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from caredesk.complaints.rectification import TopicScore, later_scores
from caredesk.questionnaires.models import Dimension, Questionnaire
from caredesk.surveys.models_stats import DailyDimensionStat, Grain

pytestmark = pytest.mark.django_db
SH = ZoneInfo("Asia/Shanghai")


def _day_row(org: dict[str, Any], day: dt.date, dimension: Dimension, total: float, count: int) -> None:
    DailyDimensionStat.objects.create(
        grain=Grain.DAY, day=day, week=day - dt.timedelta(days=day.weekday()), month=day.replace(day=1),
        questionnaire=Questionnaire.objects.get(code="survey-outpatient"), department=org["gk"],
        dimension=dimension, score_sum=total, score_count=count,
    )


def test_later_scores_are_the_monthly_means_after_the_evidence(org: dict[str, Any]) -> None:
    attitude = Dimension.objects.get(code="attitude")
    _day_row(org, dt.date(2026, 9, 30), attitude, 20, 10)  # before: not shown
    _day_row(org, dt.date(2026, 10, 8), attitude, 30, 10)
    _day_row(org, dt.date(2026, 10, 20), attitude, 40, 10)
    _day_row(org, dt.date(2026, 11, 2), attitude, 45, 10)
    _day_row(org, dt.date(2026, 11, 3), Dimension.objects.get(code="fees"), 10, 10)  # other topic
    item = SimpleNamespace(topic="服务态度", department_id=org["gk"].pk, due_date=dt.date(2026, 10, 31),
                           evidence_at=dt.datetime(2026, 10, 1, 9, tzinfo=SH))
    assert later_scores(item) == [  # type: ignore[arg-type]
        TopicScore(period="2026-10", score=3.5, scale=5.0, responses=20),
        TopicScore(period="2026-11", score=4.5, scale=5.0, responses=10),
    ]
    item.topic = "候诊时间"  # not a dimension: nothing to compare
    assert later_scores(item) == []  # type: ignore[arg-type]
