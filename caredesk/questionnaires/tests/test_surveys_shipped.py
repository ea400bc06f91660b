"""The shipped satisfaction surveys: six dimensions, recommend, comment, a conditional item."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from caredesk.questionnaires import actions, engine
from caredesk.questionnaires.defaults import SURVEY_INPATIENT, SURVEY_OUTPATIENT, SURVEYS
from caredesk.questionnaires.models import Questionnaire

SIX = {"attitude", "efficiency", "environment", "fees", "privacy", "communication"}


def _items(spec: dict[str, Any]) -> list[dict[str, Any]]:
    return [i for s in spec["sections"] for i in s["items"]]


@pytest.mark.parametrize("spec", SURVEYS, ids=lambda s: s["code"])
def test_survey_shape(spec: dict[str, Any]) -> None:
    items = _items(spec)
    assert spec["purpose"] == "survey" and 15 <= len(items) <= 20
    assert {i["dimension"] for i in items if i.get("dimension")} == SIX
    assert [i["kind"] for i in items].count("recommend") == 1
    assert any(i["kind"] == "textarea" for i in items)
    conditional = [i for i in items if i.get("enable_when")]
    assert conditional and conditional[0]["enable_when"] == [{"item": "overall", "op": "<=", "value": 2}]


@pytest.mark.django_db
@pytest.mark.parametrize("spec", SURVEYS, ids=lambda s: s["code"])
def test_survey_is_published_after_migrate_and_scores(spec: dict[str, Any]) -> None:
    version = Questionnaire.objects.get(code=spec["code"]).published_version()
    assert version is not None and version.title == spec["title"]
    loaded = engine.VersionSpec.load(version)
    items = _items(spec)
    raw: dict[str, Any] = {}
    for item in items:
        if item["kind"] == "rating":
            raw[item["link_id"]] = "4"
        elif item["kind"] == "single":
            raw[item["link_id"]] = item["choices"][0]["code"]
    raw["recommend"] = "9"
    happy = engine.evaluate(loaded, raw)
    assert happy.ok, happy.errors
    assert set(happy.dimensions) == SIX and happy.recommend == 9 and happy.red_flags == []
    # a low overall rating shows (and requires) "what went wrong", and raises a red flag
    unhappy = engine.evaluate(loaded, {**raw, "overall": "2"})
    assert unhappy.errors == {"what_went_wrong": "此题为必答题。"}
    unhappy = engine.evaluate(loaded, {**raw, "overall": "2", "what_went_wrong": ["efficiency", "fees"],
                                       "comment": "排队太久"})
    assert unhappy.ok and unhappy.red_flags == ["overall"] and unhappy.values["comment"] == "排队太久"
    assert actions.spec_of(version)["sections"][0]["title"] == "服务态度"


@pytest.mark.django_db
def test_outpatient_wait_choice_scores_into_efficiency() -> None:
    version = Questionnaire.objects.get(code=SURVEY_OUTPATIENT["code"]).published_version()
    assert version is not None
    result = engine.evaluate(engine.VersionSpec.load(version),
                             {"op_doctor": "5", "op_wait": "gt120", "op_queue": "2", "op_explained": "5",
                              "overall": "4", "recommend": "7"})
    assert result.ok and result.dimensions["efficiency"] == 1.5 and result.scores["op_wait"] == Decimal(1)
    assert SURVEY_INPATIENT["code"] == "survey-inpatient"
