"""FHIR R4 Questionnaire / QuestionnaireResponse: valid per R4B, mapping, scope, masking, audit,
and the import/export commands with a round trip."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from fhir.resources.R4B import get_fhir_model_class

from caredesk.accounts.actions import issue_api_token
from caredesk.core.models import AuditEvent
from caredesk.patients.actions import record_encounter
from caredesk.patients.data import EncounterData
from caredesk.patients.tests.factories import make_id_number, make_patient
from caredesk.questionnaires import actions, fhirmap
from caredesk.questionnaires.defaults import DEFAULTS
from caredesk.questionnaires.models import Questionnaire, QuestionnaireVersion

pytestmark = pytest.mark.django_db

SPEC: dict[str, Any] = {
    "code": "fhir-form", "title": "FHIR 测试", "purpose": "survey", "description": "说明",
    "introduction": "您好", "thanks": "谢谢",
    "sections": [
        {"title": "甲", "description": "第一部分", "items": [
            {"link_id": "kind", "text": "就诊类型", "kind": "single", "required": True, "help_text": "选一个",
             "choices": [{"code": "op", "label": "门诊", "score": 5}, {"code": "ip", "label": "住院", "score": 2.5}],
             "red_flag": {"choices": ["ip"]}},
            {"link_id": "topics", "text": "关注", "kind": "multiple", "dimension": "fees",
             "choices": [{"code": "a", "label": "甲"}, {"code": "b", "label": "乙"}],
             "enable_when": [{"item": "kind", "op": "in", "value": ["op", "ip"]}]},
            {"link_id": "stars", "text": "评分", "kind": "rating", "dimension": "attitude", "red_flag": {"max": 2}},
            {"link_id": "why", "text": "原因", "kind": "textarea",
             "enable_when": [{"item": "stars", "op": "<=", "value": 2}, {"item": "kind", "op": "answered"}],
             "enable_behavior": "any"},
        ]},
        {"title": "乙", "items": [
            {"link_id": "nps", "text": "推荐", "kind": "recommend", "red_flag": {"max": 3}},
            {"link_id": "temp", "text": "体温", "kind": "number", "min_value": 35, "max_value": 42.5,
             "enable_when": [{"item": "kind", "op": "in", "value": ["ip"]}, {"item": "nps", "op": ">", "value": 5}]},
            {"link_id": "when", "text": "日期", "kind": "date", "enable_when": [{"item": "nps", "op": "unanswered"}]},
            {"link_id": "note", "text": "备注", "kind": "text"},
        ]},
    ],
}


def parse(body: dict[str, Any]) -> Any:
    return get_fhir_model_class(body["resourceType"]).model_validate(body)


def bearer(user: Any) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {issue_api_token(user, name='fhir', acting_user=None)}"}


@pytest.fixture
def version(db: Any) -> QuestionnaireVersion:
    return actions.create_from_spec(SPEC)


def _items(resource: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found = {}
    for group in resource["item"]:
        found[group["linkId"]] = group
        for item in group.get("item", []):
            found[item["linkId"]] = item
    return found


def test_questionnaire_resource_maps_kinds_scores_conditions(version: QuestionnaireVersion) -> None:
    resource = fhirmap.questionnaire_resource(version)
    model = parse(resource)
    assert model.status == "active" and model.version == "1" and model.url == "urn:caredesk:questionnaire:fhir-form"
    items = _items(resource)
    assert items["section-1"]["type"] == "group" and items["section-1"]["text"] == "甲"
    assert [items[k]["type"] for k in ("kind", "topics", "stars", "why", "nps", "temp", "when", "note")] == [
        "choice", "choice", "integer", "text", "integer", "decimal", "date", "string"]
    assert items["topics"]["repeats"] is True and items["kind"]["required"] is True
    option = items["kind"]["answerOption"][1]["valueCoding"]
    assert option["code"] == "ip" and option["display"] == "住院"
    assert option["extension"] == [{"url": fhirmap.ORDINAL_VALUE, "valueDecimal": 2.5}]
    assert items["kind"]["item"][0]["type"] == "display" and items["kind"]["item"][0]["text"] == "选一个"
    assert items["stars"]["code"][0]["code"] == "attitude"
    # a lone "in" becomes "=" per value with behavior any
    assert items["topics"]["enableWhen"] == [{"question": "kind", "operator": "=", "answerCoding": {"code": "op"}},
                                             {"question": "kind", "operator": "=", "answerCoding": {"code": "ip"}}]
    assert items["topics"]["enableBehavior"] == "any"
    assert items["why"]["enableWhen"] == [{"question": "stars", "operator": "<=", "answerInteger": 2},
                                          {"question": "kind", "operator": "exists", "answerBoolean": True}]
    assert items["when"]["enableWhen"][0]["answerBoolean"] is False
    # "in" next to another condition under "all": only the rest in enableWhen, the whole rule in the extension
    assert items["temp"]["enableWhen"] == [{"question": "nps", "operator": ">", "answerInteger": 5}]
    assert any(e["url"] == fhirmap.EXT_ENABLE_WHEN for e in items["temp"]["extension"])


@pytest.mark.parametrize("spec", [SPEC, *DEFAULTS], ids=lambda s: s["code"])
def test_export_then_import_gives_the_same_spec(db: Any, spec: dict[str, Any]) -> None:
    version = actions.create_from_spec(spec) if spec is SPEC else Questionnaire.objects.get(code=spec["code"]).published_version()
    assert version is not None
    resource = json.loads(json.dumps(fhirmap.questionnaire_resource(version)))
    back, warnings = fhirmap.spec_from_resource(resource)
    assert warnings == []
    assert actions._same_content(back, actions.spec_of(version))
    assert back["code"] == spec["code"] and back["purpose"] == spec["purpose"]
    assert actions.create_from_spec(back) == version  # idempotent: nothing new


def test_commands_round_trip_and_idempotent_import(version: QuestionnaireVersion, tmp_path: Path, capsys: Any) -> None:
    out = tmp_path / "q.json"
    call_command("export_questionnaire", "fhir-form", "--out", str(out))
    data = json.loads(out.read_text(encoding="utf-8"))
    parse(data)
    call_command("import_questionnaire", str(out))
    assert "unchanged fhir-form v1" in capsys.readouterr().out
    data["title"] = "FHIR 测试（改）"
    data["identifier"] = []
    data["url"] = "http://example.org/Questionnaire/copy-form"
    out.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    call_command("import_questionnaire", str(out), "--draft")
    assert "created copy-form v1" in capsys.readouterr().out
    copy_version = Questionnaire.objects.get(code="copy-form").versions.get()
    assert copy_version.status == QuestionnaireVersion.Status.DRAFT
    assert actions.spec_of(copy_version)["sections"] == actions.spec_of(version)["sections"]
    call_command("import_questionnaire", str(out))  # same content: the draft is published, no new version
    copy_version.refresh_from_db()
    assert copy_version.status == QuestionnaireVersion.Status.PUBLISHED
    assert Questionnaire.objects.get(code="copy-form").versions.count() == 1


def test_import_lists_unsupported_items(db: Any, tmp_path: Path) -> None:
    resource = {
        "resourceType": "Questionnaire", "status": "active", "url": "http://example.org/Questionnaire/bad",
        "item": [
            {"linkId": "1", "text": "附件", "type": "attachment"},
            {"linkId": "2", "text": "科室", "type": "choice", "answerValueSet": "http://example.org/vs"},
            {"linkId": "3", "text": "分组", "type": "group", "item": [{"linkId": "3.1", "type": "group", "item": [
                {"linkId": "3.1.1", "type": "string", "text": "x"}]}]},
            {"linkId": "4", "text": "条件", "type": "string", "enableWhen": [
                {"question": "9", "operator": "=", "answerString": "x"}]},
        ],
    }
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(resource), encoding="utf-8")
    with pytest.raises(CommandError) as caught:
        call_command("import_questionnaire", str(path))
    message = str(caught.value)
    for expected in ("不支持的题型 attachment", "answerValueSet", "不支持嵌套分组", "题目 9 不在它前面"):
        assert expected in message
    assert not Questionnaire.objects.filter(code="bad").exists()
    path.write_text(json.dumps({"resourceType": "Questionnaire"}), encoding="utf-8")
    with pytest.raises(CommandError, match="有效的 FHIR R4"):
        call_command("import_questionnaire", str(path))


def test_import_of_a_foreign_questionnaire(db: Any) -> None:
    resource = {
        "resourceType": "Questionnaire", "status": "active", "name": "PHQ", "title": "外部问卷",
        "item": [
            {"linkId": "1.1", "text": "是否吸烟", "type": "boolean", "required": True},
            {"linkId": "1.2", "text": "每天几支", "type": "integer",
             "enableWhen": [{"question": "1.1", "operator": "=", "answerBoolean": True}]},
            {"linkId": "1.3", "text": "情绪", "type": "open-choice", "answerOption": [
                {"valueString": "好"}, {"valueCoding": {"code": "bad", "display": "差",
                                                      "extension": [{"url": fhirmap.ITEM_WEIGHT, "valueDecimal": 1}]}}]},
        ],
    }
    spec, warnings = fhirmap.spec_from_resource(resource, purpose="general")
    assert spec["code"] == "PHQ" and len(warnings) == 1 and "open-choice" in warnings[0]
    items = spec["sections"][0]["items"]
    assert [i["link_id"] for i in items] == ["1_1", "1_2", "1_3"]
    assert items[0]["kind"] == "single" and items[1]["kind"] == "number"
    assert items[1]["enable_when"] == [{"item": "1_1", "op": "=", "value": "true"}]
    assert items[2]["choices"] == [{"code": "1", "label": "好"}, {"code": "bad", "label": "差", "score": 1}]
    version = actions.create_from_spec(spec)
    assert version.items.count() == 3


# --- HTTP ------------------------------------------------------------------------------------------


@pytest.fixture
def answered(org: dict[str, Any], version: QuestionnaireVersion, agent: Any) -> dict[str, Any]:
    zhang = make_patient("张三丰", id_number=make_id_number(seq=31), mobile="13812345678")
    li = make_patient("李四", id_number=make_id_number(seq=32), mobile="13900000000")
    gk = record_encounter(zhang, EncounterData(kind="outpatient", source_system="HIS", source_id="V-1", department="骨科"))
    nk = record_encounter(li, EncounterData(kind="outpatient", source_system="HIS", source_id="V-2", department="内科"))
    enc_gk = gk[0] if isinstance(gk, tuple) else gk
    enc_nk = nk[0] if isinstance(nk, tuple) else nk
    r1 = actions.save_response(version, {"kind": "ip", "topics": ["a", "b"], "stars": "2", "why": "等太久", "nps": "8",
                                         "temp": "37.5", "note": "无"}, patient=zhang, encounter=enc_gk,
                               acting_user=agent)
    r2 = actions.save_response(version, {"kind": "op", "nps": "3"}, patient=li, encounter=enc_nk, submit=False)
    return {"zhang": zhang, "li": li, "r1": r1, "r2": r2}


def test_questionnaire_endpoints(client: Any, agent: Any, version: QuestionnaireVersion) -> None:
    assert client.get("/fhir/Questionnaire").status_code == 401
    body = client.get("/fhir/Questionnaire?url=urn:caredesk:questionnaire:fhir-form", **bearer(agent)).json()
    bundle = parse(body)
    assert bundle.total == 1 and body["entry"][0]["resource"]["id"] == str(version.pk)
    assert body["entry"][0]["fullUrl"].endswith(f"/fhir/Questionnaire/{version.pk}")
    by_code = client.get("/fhir/Questionnaire/fhir-form-v1", **bearer(agent)).json()
    assert by_code == client.get(f"/fhir/Questionnaire/{version.pk}", **bearer(agent)).json()
    assert client.get("/fhir/Questionnaire/fhir-form-v9", **bearer(agent)).status_code == 404
    surveys = client.get("/fhir/Questionnaire?status=active&_count=200", **bearer(agent)).json()
    codes = {e["resource"]["identifier"][0]["value"] for e in surveys["entry"]}
    assert {"survey-outpatient", "survey-inpatient", "fhir-form"} <= codes
    assert client.get("/fhir/Questionnaire?status=bogus", **bearer(agent)).status_code == 400
    assert client.get("/fhir/Questionnaire?foo=1", **bearer(agent)).status_code == 400


def test_questionnaire_search_query_count_is_flat(client: Any, agent: Any, django_assert_max_num_queries: Any) -> None:
    headers = bearer(agent)
    with django_assert_max_num_queries(8):
        body = client.get("/fhir/Questionnaire?_count=200", **headers).json()
    assert body["total"] >= 6


def test_response_search_is_valid_masked_scoped_and_audited(client: Any, supervisor: Any, dept_head: Any,
                                                           outsider: Any, answered: dict[str, Any]) -> None:
    r1, r2 = answered["r1"], answered["r2"]
    response = client.get("/fhir/QuestionnaireResponse?questionnaire=fhir-form-v1", **bearer(supervisor))
    assert response.status_code == 200
    body = response.json()
    parse(body)
    assert body["total"] == 2
    text = response.content.decode()
    assert "张三丰" not in text and "13812345678" not in text and answered["zhang"].id_number not in text
    one = next(e["resource"] for e in body["entry"] if e["resource"]["id"] == str(r1.pk))
    assert one["subject"] == {"reference": f"Patient/{answered['zhang'].pk}", "display": "张*丰"}
    assert one["questionnaire"] == "urn:caredesk:questionnaire:fhir-form|1" and one["status"] == "completed"
    groups = {g["linkId"]: g for g in one["item"]}
    answers = {i["linkId"]: i["answer"] for g in groups.values() for i in g["item"]}
    assert answers["topics"] == [{"valueCoding": {"code": "a", "display": "甲"}},
                                 {"valueCoding": {"code": "b", "display": "乙"}}]
    assert answers["stars"] == [{"valueInteger": 2}] and answers["temp"] == [{"valueDecimal": 37.5}]
    assert answers["why"] == [{"valueString": "等太久"}]
    assert AuditEvent.objects.filter(verb="fhir.read", details__resource="QuestionnaireResponse").count() == 2
    # the department head of 外科 sees the 骨科 answer only
    scoped = client.get("/fhir/QuestionnaireResponse?questionnaire=urn:caredesk:questionnaire:fhir-form",
                        **bearer(dept_head)).json()
    assert [e["resource"]["id"] for e in scoped["entry"]] == [str(r1.pk)]
    assert client.get(f"/fhir/QuestionnaireResponse/{r2.pk}", **bearer(dept_head)).status_code == 404
    read = client.get(f"/fhir/QuestionnaireResponse/{r1.pk}", **bearer(dept_head))
    assert read.status_code == 200 and parse(read.json()).id == str(r1.pk)
    partial = client.get(f"/fhir/QuestionnaireResponse/{r2.pk}", **bearer(supervisor)).json()
    assert partial["status"] == "in-progress"
    assert client.get("/fhir/QuestionnaireResponse?questionnaire=fhir-form", **bearer(outsider)).status_code == 403
    assert client.get("/fhir/QuestionnaireResponse", **bearer(supervisor)).status_code == 400
    by_patient = client.get(f"/fhir/QuestionnaireResponse?patient=Patient/{answered['li'].pk}&status=in-progress",
                            **bearer(supervisor)).json()
    assert by_patient["total"] == 1


def test_response_search_query_count_is_flat(client: Any, supervisor: Any, answered: dict[str, Any],
                                            version: QuestionnaireVersion) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    headers = bearer(supervisor)
    client.get("/fhir/QuestionnaireResponse?questionnaire=fhir-form", **headers)  # warm the token's last_used_at

    def reads() -> int:
        with CaptureQueriesContext(connection) as captured:
            client.get("/fhir/QuestionnaireResponse?questionnaire=fhir-form", **headers)
        # audit writes grow with the rows returned (one event per response); the reads must not
        return sum(1 for q in captured.captured_queries if "questionnaires_" in q["sql"])

    baseline = reads()
    for n in range(5):
        actions.save_response(version, {"kind": "op", "nps": str(n)}, patient=answered["zhang"])
    assert reads() == baseline == 5  # count, responses, answers, sections, items



def test_import_refuses_unknown_dimensions_and_export_writes_stdout(version: QuestionnaireVersion, tmp_path: Path,
                                                                   capsys: Any) -> None:
    call_command("export_questionnaire", "fhir-form", "--out", "-")
    data = json.loads(capsys.readouterr().out)
    assert data["resourceType"] == "Questionnaire" and data["version"] == "1"
    data["identifier"] = [{"system": fhirmap.QUESTIONNAIRE_SYSTEM, "value": "dim-form"}]
    data["item"][0]["item"][1]["code"][0]["code"] = "parking"
    path = tmp_path / "dim.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(CommandError, match="评分维度 parking 不存在"):
        call_command("import_questionnaire", str(path))
    assert not Questionnaire.objects.filter(code="dim-form").exists()
    with pytest.raises(CommandError, match="不存在"):
        call_command("export_questionnaire", "nope", "--out", "-")
