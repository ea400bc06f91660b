"""Reading FHIR files: NDJSON and Bundles, R4B validation, reasons without values, and mapping."""

from __future__ import annotations

import json
from pathlib import Path

from caredesk.api.fhir import mapping, reader

PATIENT = {
    "resourceType": "Patient",
    "id": "p1",
    "identifier": [
        {"system": mapping.ID_NUMBER_SYSTEM, "value": "11010519491231002X"},
        {"system": mapping.OUTPATIENT_SYSTEM, "value": "MZ001"},
        {"system": "https://his.example/mrn", "value": "A-9"},
    ],
    "name": [{"family": "张", "given": ["三丰"]}],
    "gender": "male",
    "birthDate": "1949-12-31",
    "telecom": [{"system": "phone", "value": "010-6666", "use": "home"}, {"system": "phone", "value": "13800138000", "use": "mobile"}],
    "address": [{"state": "北京市", "city": "北京市", "district": "西城区", "line": ["某街1号"]}],
}
ENCOUNTER = {
    "resourceType": "Encounter",
    "id": "e1",
    "status": "finished",
    "class": {"system": mapping.ACT_CODE, "code": "IMP"},
    "subject": {"reference": "Patient/p1"},
    "serviceType": {"text": "心内科"},
    "participant": [{"individual": {"display": "李医生"}}],
    "reasonCode": [{"coding": [{"system": "http://hl7.org/fhir/sid/icd-10", "code": "I21.9", "display": "急性心肌梗死"}]}],
    "period": {"start": "2026-01-02T08:00:00+08:00", "end": "2026-01-09T10:00:00+08:00"},
    "hospitalization": {"dischargeDisposition": {"coding": [{"system": mapping.DISCHARGE_DISPOSITION, "code": "exp"}]}},
}


def test_an_ndjson_file_yields_good_resources_and_reports_a_broken_line_by_number(tmp_path: Path) -> None:
    bad = dict(PATIENT, id="p2", birthDate="13800138000")
    lines = [json.dumps(PATIENT), "{not json", json.dumps(bad), "", json.dumps(ENCOUNTER)]
    path = tmp_path / "mixed.ndjson"
    path.write_text("\n".join(lines), encoding="utf-8")
    items = list(reader.read_path(path))
    assert [(i.line, bool(i.error)) for i in items] == [(1, False), (2, True), (3, True), (5, False)]
    assert "invalid JSON" in items[1].error
    assert "birthDate" in items[2].error
    assert "13800138000" not in items[2].error  # reasons never carry values
    assert items[0].control_id == "Patient/p1" and items[3].control_id == "Encounter/e1"


def test_a_bundle_yields_its_entries_and_uses_the_full_url_when_the_id_is_absent(tmp_path: Path) -> None:
    patient = {k: v for k, v in PATIENT.items() if k != "id"}
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"fullUrl": "urn:uuid:abc-1", "resource": patient, "request": {"method": "POST", "url": "Patient"}},
            {"fullUrl": "urn:uuid:abc-2", "resource": dict(ENCOUNTER, subject={"reference": "urn:uuid:abc-1"})},
            {"resource": {"resourceType": "Observation", "id": "o1", "status": "final", "code": {"text": "x"}}},
        ],
    }
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(bundle), encoding="utf-8")
    items = list(reader.read_path(path))
    assert [i.control_id for i in items] == ["Patient/abc-1", "Encounter/e1"]
    assert all(not i.error for i in items)


def test_invalid_and_unknown_resources_get_a_reason() -> None:
    assert reader.validate({"resourceType": "Patient", "gender": 5})
    assert reader.validate({"resourceType": "Nope"}) == "unknown resourceType Nope"


def test_a_directory_skips_files_of_other_resource_types(tmp_path: Path) -> None:
    (tmp_path / "Condition.000.ndjson").write_text("{broken", encoding="utf-8")
    (tmp_path / "Patient.000.ndjson").write_text(json.dumps(PATIENT) + "\n", encoding="utf-8")
    items = list(reader.read_path(tmp_path))
    assert [i.control_id for i in items] == ["Patient/p1"]


def test_a_patient_maps_identifiers_chinese_name_phones_and_address() -> None:
    fields = mapping.patient_fields(PATIENT, source="his")
    assert fields["name"] == "张三丰"
    assert fields["sex"] == "M" and str(fields["birth_date"]) == "1949-12-31"
    assert fields["id_number"] == "11010519491231002X" and fields["outpatient_no"] == "MZ001"
    assert fields["identifiers"] == {"FHIR:his": "p1", "FHIR:https://his.example/mrn": "A-9"}
    assert fields["mobile"] == "13800138000" and fields["other_phones"] == ["010-6666"]
    assert fields["address"] == "北京市北京市西城区某街1号"


def test_an_encounter_maps_class_period_department_doctor_diagnosis_and_outcome() -> None:
    fields = mapping.encounter_fields(ENCOUNTER, source="his")
    assert fields["kind"] == "inpatient" and fields["status"] == "discharged"
    assert (fields["source_system"], fields["source_id"]) == ("FHIR:his", "e1")
    assert fields["department"] == "心内科" and fields["doctor"] == "李医生"
    assert (fields["diagnosis_text"], fields["diagnosis_code"]) == ("急性心肌梗死", "I21.9")
    assert fields["outcome"] == "died"
    assert fields["admitted_at"] is not None and fields["discharged_at"] is not None


def test_patient_references_resolve_relative_urn_and_absolute_forms() -> None:
    assert mapping.patient_reference("Patient/p1") == "p1"
    assert mapping.patient_reference("urn:uuid:abc") == "abc"
    assert mapping.patient_reference("https://x.example/fhir/Patient/p9/_history/2") == "p9"
    assert mapping.patient_reference("Group/1") == ""
