"""manage.py import_fhir: Bundles and NDJSON into the archive, idempotent, rejects with line numbers."""

from __future__ import annotations

import json
import os
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command

from caredesk.api.fhir import mapping
from caredesk.api.fhir.importer import import_path
from caredesk.intake.models import IngestMessage
from caredesk.patients.actions import upsert_patient
from caredesk.patients.data import PatientData
from caredesk.patients.models import Encounter, Patient, PatientIdentifier
from caredesk.patients.tests.factories import make_id_number

pytestmark = pytest.mark.django_db


def shared_data() -> Path | None:
    candidates = [os.environ.get("CAREDESK_SHARED_DATA", ""), str(Path(settings.BASE_DIR).parent / "shared" / "data"), "/work/shared/data"]
    for candidate in candidates:
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    return None


def fhir_patient(pid: str, id_number: str, name: str = "王小明") -> dict:
    return {
        "resourceType": "Patient",
        "id": pid,
        "identifier": [{"system": mapping.ID_NUMBER_SYSTEM, "value": id_number}],
        "name": [{"text": name}],
        "gender": "male",
        "telecom": [{"system": "phone", "value": "13900001111", "use": "mobile"}],
    }


def fhir_encounter(eid: str, subject: str) -> dict:
    return {
        "resourceType": "Encounter",
        "id": eid,
        "status": "finished",
        "class": {"system": mapping.ACT_CODE, "code": "AMB"},
        "subject": {"reference": subject},
        "period": {"start": "2026-03-01T09:00:00+08:00"},
    }


def run(path: Path, source: str = "") -> str:
    out, err = StringIO(), StringIO()
    call_command("import_fhir", str(path), source=source, stdout=out, stderr=err)
    return out.getvalue().strip() + "\n" + err.getvalue()


def test_the_synthea_ndjson_imports_13_patients_and_1215_encounters_and_a_rerun_changes_nothing() -> None:
    data = shared_data()
    if data is None or not (data / "synthea_fhir_r4_ndjson").is_dir():
        pytest.skip("shared data (synthea_fhir_r4_ndjson) not present: set CAREDESK_SHARED_DATA")
    folder = data / "synthea_fhir_r4_ndjson"
    first = import_path(folder)
    assert (first.imported, first.rejected) == (13 + 1215, 0), first.rejects[:3]
    assert Patient.objects.count() == 13
    assert Encounter.objects.count() == 1215

    second = import_path(folder)
    assert second.line() == f"imported=0 updated=0 unchanged={13 + 1215} rejected=0"
    assert Encounter.objects.count() == 1215


def test_an_encounter_before_its_patient_and_a_broken_line_report_the_line_and_let_the_rest_in(tmp_path: Path) -> None:
    lines = [
        json.dumps(fhir_encounter("e1", "Patient/p1")),
        json.dumps(dict(fhir_patient("p2", make_id_number(seq=2)), birthDate="not-a-date")),
        json.dumps(fhir_patient("p1", make_id_number(seq=1))),
        json.dumps(fhir_encounter("e2", "Patient/nobody")),
    ]
    path = tmp_path / "feed.ndjson"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    output = run(path)
    assert output.splitlines()[0] == "imported=2 updated=0 unchanged=0 rejected=2"
    assert f"{path}:2: birthDate" in output
    assert f"{path}:4: subject: patient not found" in output
    assert Encounter.objects.get(source_id="e1").patient.name == "王小明"
    errors = IngestMessage.objects.filter(channel="fhir", status=IngestMessage.Status.ERROR)
    assert errors.count() == 2 and all(row.error for row in errors)
    assert run(path).splitlines()[0] == "imported=0 updated=0 unchanged=2 rejected=2"


def test_a_transaction_bundle_links_encounters_through_urn_uuid(tmp_path: Path) -> None:
    patient = fhir_patient("", make_id_number(seq=3))
    del patient["id"]
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": "urn:uuid:61ebe359-bfdc-4613-8bf2-c5e300945f0a",
                "resource": fhir_encounter("v1", "urn:uuid:61ebe359-bfdc-4613-8bf2-c5e300945f0a"),
            },
            {"fullUrl": "urn:uuid:61ebe359-bfdc-4613-8bf2-c5e300945f0a", "resource": patient},
        ],
    }
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(bundle), encoding="utf-8")
    assert run(path, source="his").splitlines()[0] == "imported=2 updated=0 unchanged=0 rejected=0"
    encounter = Encounter.objects.get(source_system="FHIR:his", source_id="v1")
    assert encounter.patient.identifiers.filter(system="FHIR:his").exists()


def test_the_same_patient_over_hl7_and_fhir_lands_on_one_record(tmp_path: Path) -> None:
    id_number = make_id_number(seq=7)
    hl7, status = upsert_patient(PatientData(name="王小明", id_number=id_number, identifiers={"HL7:HIS": "PID-0042"}), source="hl7")
    assert status == "created"
    path = tmp_path / "Patient.ndjson"
    path.write_text(json.dumps(fhir_patient("abc", id_number)) + "\n", encoding="utf-8")
    result = import_path(path, source="emr")
    assert (result.imported, result.updated) == (0, 1)
    assert Patient.objects.count() == 1
    systems = set(PatientIdentifier.objects.filter(patient=hl7).values_list("system", "value"))
    assert {("HL7:HIS", "PID-0042"), ("FHIR:emr", "abc")} <= systems


def test_the_hl7_example_resources_import_except_nameless_patients_and_rerun_unchanged() -> None:
    data = shared_data()
    if data is None or not (data / "fhir_r4_examples").is_dir():
        pytest.skip("shared data (fhir_r4_examples) not present: set CAREDESK_SHARED_DATA")
    first = import_path(data / "fhir_r4_examples")
    assert first.rejected == 3 and all(reason == "name: missing" for _where, reason in first.rejects)
    assert first.imported > 20 and Encounter.objects.exists()
    second = import_path(data / "fhir_r4_examples")
    assert (second.imported, second.updated, second.unchanged) == (0, 0, first.imported + first.updated)
