"""The questionnaire engine: conditions, validation, scoring, red flags, versions and storage."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError

from caredesk.questionnaires import actions, engine
from caredesk.questionnaires.defaults import FOLLOWUP_SURGERY
from caredesk.questionnaires.forms import fields_for
from caredesk.questionnaires.models import Answer, Item, Questionnaire, QuestionnaireVersion, Response

SPEC: dict[str, Any] = {
    "code": "test-form",
    "title": "测试问卷",
    "purpose": "survey",
    "sections": [{"title": "甲", "items": [
        {"link_id": "visited", "text": "是否做过手术", "kind": "single", "required": True,
         "choices": [{"code": "yes", "label": "是"}, {"code": "no", "label": "否"}]},
        {"link_id": "pain", "text": "疼痛", "kind": "single", "required": True, "dimension": "recovery",
         "choices": [{"code": "none", "label": "无", "score": 5}, {"code": "severe", "label": "剧烈", "score": 1}],
         "enable_when": [{"item": "visited", "op": "=", "value": "yes"}], "red_flag": {"choices": ["severe"]}},
        {"link_id": "pain_note", "text": "描述", "kind": "textarea", "required": True,
         "enable_when": [{"item": "pain", "op": "=", "value": "severe"}]},
        {"link_id": "attitude", "text": "态度", "kind": "rating", "required": True, "dimension": "attitude",
         "red_flag": {"max": 1}},
        {"link_id": "staff", "text": "窗口", "kind": "rating", "dimension": "attitude"},
        {"link_id": "nps", "text": "推荐", "kind": "recommend"},
        {"link_id": "topics", "text": "关注", "kind": "multiple",
         "choices": [{"code": "wait", "label": "等候", "score": 2}, {"code": "fee", "label": "费用", "score": 4}]},
        {"link_id": "when", "text": "日期", "kind": "date"},
    ]}],
}


@pytest.fixture
def version(db: Any) -> QuestionnaireVersion:
    return actions.create_from_spec(SPEC)


def test_conditions_hide_and_drop_answers(version: QuestionnaireVersion) -> None:
    spec = engine.VersionSpec.load(version)
    result = engine.evaluate(spec, {"visited": "no", "pain": "severe", "pain_note": "x", "attitude": "4"})
    assert result.ok, result.errors
    assert "pain" not in result.values and "pain_note" not in result.values  # hidden: dropped
    assert result.red_flags == []


def test_chained_condition_requires_detail(version: QuestionnaireVersion) -> None:
    spec = engine.VersionSpec.load(version)
    result = engine.evaluate(spec, {"visited": "yes", "pain": "severe", "attitude": "3"})
    assert result.errors == {"pain_note": "此题为必答题。"}
    result = engine.evaluate(spec, {"visited": "yes", "pain": "severe", "pain_note": "夜里痛", "attitude": "3"})
    assert result.ok and result.red_flags == ["pain"]


@pytest.mark.parametrize(("raw", "link", "message"), [
    ({"attitude": "6"}, "attitude", "请输入 1 到 5 之间的数值。"),
    ({"attitude": "abc"}, "attitude", "请输入数字。"),
    ({"attitude": "3.5"}, "attitude", "请选择一个整数分值。"),
    ({"nps": "11"}, "nps", "请输入 0 到 10 之间的数值。"),
    ({"visited": "maybe"}, "visited", "请选择列表中的选项。"),
    ({"topics": ["wait", "zzz"]}, "topics", "请选择列表中的选项。"),
    ({"when": "2026-02-30"}, "when", "日期格式应为 年-月-日，例如 2026-11-23。"),
])
def test_bad_values_get_chinese_messages(version: QuestionnaireVersion, raw: dict, link: str, message: str) -> None:
    spec = engine.VersionSpec.load(version)
    result = engine.evaluate(spec, {"visited": "no", "attitude": "4", **raw}, partial=True)
    assert result.errors[link] == message


def test_scores_dimensions_recommend(version: QuestionnaireVersion) -> None:
    spec = engine.VersionSpec.load(version)
    result = engine.evaluate(spec, {"visited": "yes", "pain": "none", "attitude": "4", "staff": "2",
                                    "nps": "9", "topics": ["fee", "wait"]})
    assert result.ok
    assert result.values["topics"] == ["wait", "fee"]  # choice order, not input order
    assert result.scores == {"pain": Decimal(5), "attitude": Decimal(4), "staff": Decimal(2), "topics": Decimal(3)}
    assert result.dimensions == {"recovery": 5.0, "attitude": 3.0}
    assert result.recommend == 9 and result.total == Decimal(14)
    low = engine.evaluate(spec, {"visited": "no", "attitude": "1"})
    assert low.red_flags == ["attitude"]


def test_save_partial_then_submit_and_freeze(version: QuestionnaireVersion, agent: Any) -> None:
    response = actions.save_response(version, {"visited": "yes"}, submit=False, acting_user=agent,
                                     channel=Response.Channel.PHONE)
    assert response.status == Response.Status.IN_PROGRESS and response.answers.count() == 1
    with pytest.raises(actions.ResponseInvalid) as caught:
        actions.save_response(version, {"visited": "yes"}, response=response)
    assert set(caught.value.errors) == {"pain", "attitude"}
    response = actions.save_response(version, {"visited": "no", "attitude": "5", "nps": "10"}, response=response)
    assert response.status == Response.Status.COMPLETED and response.submitted_at
    assert actions.values_of(response) == {"visited": "no", "attitude": Decimal(5), "nps": Decimal(10)}
    assert response.recommend == 10 and response.dimension_scores == {"attitude": 5.0}
    assert Answer.objects.filter(response=response).count() == 3
    with pytest.raises(ValidationError):
        actions.save_response(version, {"visited": "yes"}, response=response)


def test_versions_are_idempotent_and_published_ones_frozen(version: QuestionnaireVersion, supervisor: Any) -> None:
    assert actions.create_from_spec(SPEC) == version  # same content: nothing new
    changed = {**SPEC, "title": "测试问卷（修订）"}
    v2 = actions.create_from_spec(changed, acting_user=supervisor)
    version.refresh_from_db()
    assert v2.number == 2 and v2.status == QuestionnaireVersion.Status.PUBLISHED
    assert version.status == QuestionnaireVersion.Status.RETIRED
    assert Questionnaire.objects.get(code="test-form").published_version() == v2
    with pytest.raises(ValidationError):
        actions.publish_version(v2)
    draft = actions.new_draft(v2.questionnaire, acting_user=supervisor)
    assert draft.number == 3 and draft.items.count() == v2.items.count()
    assert actions.new_draft(v2.questionnaire) == draft
    assert actions.spec_of(draft)["sections"] == actions.spec_of(v2)["sections"]


@pytest.mark.parametrize(("mutate", "message"), [
    (lambda s: s["sections"][0]["items"].append({"link_id": "visited", "text": "重复", "kind": "text"}), "重复"),
    (lambda s: s["sections"][0]["items"].append({"link_id": "x", "text": "x", "kind": "single"}), "至少需要一个选项"),
    (lambda s: s["sections"][0]["items"].insert(0, {"link_id": "y", "text": "y", "kind": "text",
                                                   "enable_when": [{"item": "visited", "op": "answered"}]}), "前面"),
    (lambda s: s["sections"][0]["items"].append({"link_id": "z", "text": "z", "kind": "essay"}), "题型无效"),
])
def test_bad_specs_are_refused(db: Any, mutate: Any, message: str) -> None:
    import copy

    spec = copy.deepcopy(SPEC)
    spec["code"] = "bad-form"
    mutate(spec)
    with pytest.raises(ValidationError, match=message):
        actions.create_from_spec(spec)
    assert not Questionnaire.objects.filter(code="bad-form").exists()


def test_defaults_exist_after_migrate(db: Any) -> None:
    codes = set(Questionnaire.objects.values_list("code", flat=True))
    assert {"followup-discharge", "followup-surgery", "followup-internal", "followup-outpatient"} <= codes
    surgery = Questionnaire.objects.get(code=FOLLOWUP_SURGERY["code"]).published_version()
    assert surgery is not None
    flagged = set(surgery.items.exclude(red_flag={}).values_list("link_id", flat=True))
    assert {"recovery", "warning_signs", "wound_pain", "wound_state"} <= flagged


def test_fields_for_initial_visibility(version: QuestionnaireVersion) -> None:
    spec = engine.VersionSpec.load(version)
    fields = {f.item.link_id: f for f in fields_for(spec, {"visited": "yes"}, {"pain": "此题为必答题。"})}
    assert fields["pain"].shown and not fields["pain_note"].shown
    assert fields["pain"].error == "此题为必答题。"
    assert fields["visited"].selected == ["yes"]
    assert fields["attitude"].scale == [1, 2, 3, 4, 5] and fields["nps"].scale == list(range(11))
    assert '"item": "visited"' in fields["pain"].conditions


def test_detail_page_trial_does_not_store(client: Any, login: Any, agent: Any, outsider: Any,
                                          version: QuestionnaireVersion) -> None:
    login(outsider)
    assert client.get(f"/questionnaires/{version.questionnaire_id}/").status_code == 403
    login(agent)
    page = client.get("/questionnaires/")
    assert "测试问卷" in page.content.decode()
    url = f"/questionnaires/{version.questionnaire_id}/"
    body = client.post(url, {"visited": "yes", "pain": "severe", "attitude": "2"}).content.decode()
    assert "此题为必答题。" in body and "有题目需要修改" in body
    body = client.post(url, {"visited": "yes", "pain": "severe", "pain_note": "痛", "attitude": "2"}).content.decode()
    assert "试填通过" in body and "pain" in body
    assert Response.objects.count() == 0
    assert Item.objects.filter(version=version).count() == 8


def test_stored_scale_answers_show_as_selected(version: QuestionnaireVersion) -> None:
    response = actions.save_response(version, {"visited": "no", "attitude": "5", "nps": "10"}, submit=False)
    spec = engine.VersionSpec.load(version)
    fields = {f.item.link_id: f for f in fields_for(spec, actions.values_of(response))}
    assert fields["attitude"].selected == ["5"] and fields["nps"].selected == ["10"]
    assert engine.display_value(spec.by_link["nps"], Decimal("10.00")) == "10"
