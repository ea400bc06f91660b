"""The FHIR façade: R4B-valid JSON, searches, errors as OperationOutcome, masking, audit and scope."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from fhir.resources.R4B import get_fhir_model_class

from caredesk.accounts.actions import issue_api_token
from caredesk.api.fhir import mapping
from caredesk.core.models import AuditEvent
from caredesk.patients.actions import merge_patients, record_encounter
from caredesk.patients.data import EncounterData
from caredesk.patients.tests.factories import make_id_number, make_patient

pytestmark = pytest.mark.django_db
MOBILE = "13812345678"


def parse(response: Any) -> Any:
    """The body parsed back by the R4B model of its resourceType (fails on anything invalid)."""
    assert response["Content-Type"].startswith("application/fhir+json")
    body = response.json()
    return get_fhir_model_class(body["resourceType"]).model_validate(body)


def bearer(user: Any) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {issue_api_token(user, name='fhir', acting_user=None)}"}


@pytest.fixture
def world(org: dict[str, Any]) -> dict[str, Any]:
    zhang = make_patient(
        "张三丰",
        id_number=make_id_number(seq=11),
        mobile=MOBILE,
        address="北京市西城区某街1号",
        outpatient_no="MZ100",
        identifiers={"HL7:HIS": "P-1"},
    )
    li = make_patient("李四", id_number=make_id_number(seq=12), mobile="13900000000")
    record_encounter(
        zhang,
        EncounterData(
            kind="inpatient",
            source_system="HIS",
            source_id="ZY-1",
            department="骨科",
            doctor="钱医生",
            diagnosis_text="股骨骨折",
            diagnosis_code="S72.0",
            admitted_at=datetime(2026, 1, 2, 1, tzinfo=UTC),
            discharged_at=datetime(2026, 1, 9, 2, tzinfo=UTC),
            outcome="improved",
        ),
    )
    record_encounter(
        li,
        EncounterData(
            kind="outpatient", source_system="HIS", source_id="MZ-9", department="内科", visit_at=datetime(2026, 2, 1, 1, tzinfo=UTC)
        ),
    )
    return {"zhang": zhang, "li": li}


def test_a_patient_read_is_valid_r4_masked_by_default_and_audited(client, agent, world):
    zhang = world["zhang"]
    response = client.get(f"/fhir/Patient/{zhang.pk}", **bearer(agent))
    assert response.status_code == 200
    patient = parse(response)
    assert patient.name[0].text == "张*丰"
    assert patient.gender == "male" and patient.active is True
    values = {i.system: i.value for i in patient.identifier}
    assert values[mapping.ID_NUMBER_SYSTEM] != zhang.id_number and "*" in values[mapping.ID_NUMBER_SYSTEM]
    assert values[mapping.OUTPATIENT_SYSTEM] == "MZ100"
    assert values[mapping.LOCAL_SYSTEM_PREFIX + "HL7:HIS"] == "P-1"
    assert MOBILE not in response.content.decode() and zhang.id_number not in response.content.decode()
    event = AuditEvent.objects.get(verb="fhir.read")
    assert event.patient_id == zhang.pk and event.actor_id == agent.pk and event.details["token_id"]


def test_unmasked_needs_the_reveal_permission(client, agent, supervisor, world):
    zhang = world["zhang"]
    denied = client.get(f"/fhir/Patient/{zhang.pk}?_unmasked=true", **bearer(agent))
    assert denied.status_code == 403 and parse(denied).issue[0].code == "forbidden"
    response = client.get(f"/fhir/Patient/{zhang.pk}?_unmasked=true", **bearer(supervisor))
    patient = parse(response)
    assert patient.name[0].text == "张三丰" and patient.name[0].family == "张"
    assert {t.value for t in patient.telecom} == {MOBILE}
    assert AuditEvent.objects.filter(verb="fhir.read", patient_id=zhang.pk, details__unmasked=True).count() == 1


def test_identifier_searches_by_id_number_record_number_foreign_identifier_and_bare_value(client, agent, world):
    zhang = world["zhang"]
    auth = bearer(agent)
    for query in (
        f"{mapping.ID_NUMBER_SYSTEM}|{zhang.id_number}",
        f"{mapping.OUTPATIENT_SYSTEM}|MZ100",
        f"{mapping.LOCAL_SYSTEM_PREFIX}HL7:HIS|P-1",
        zhang.id_number,
        "MZ100",
    ):
        bundle = parse(client.get("/fhir/Patient", {"identifier": query}, **auth))
        assert bundle.type == "searchset" and bundle.total == 1, query
        assert bundle.entry[0].resource.id == str(zhang.pk)
    empty = parse(client.get("/fhir/Patient", {"identifier": "nothing"}, **auth))
    assert empty.total == 0 and not empty.entry


def test_phone_search_is_exact_through_the_blind_index(client, agent, world):
    auth = bearer(agent)
    bundle = parse(client.get("/fhir/Patient", {"phone": "+86 138-1234-5678"}, **auth))
    assert bundle.total == 1 and bundle.entry[0].resource.id == str(world["zhang"].pk)
    assert parse(client.get("/fhir/Patient", {"phone": "1381234"}, **auth)).total == 0


def test_encounter_search_maps_class_period_department_doctor_reason_and_outcome(client, agent, world):
    zhang = world["zhang"]
    bundle = parse(client.get("/fhir/Encounter", {"patient": f"Patient/{zhang.pk}"}, **bearer(agent)))
    assert bundle.total == 1
    encounter = bundle.entry[0].resource
    assert encounter.class_fhir.code == "IMP" and encounter.status == "finished"
    assert encounter.subject.reference == f"Patient/{zhang.pk}"
    assert encounter.serviceType.text == "骨科" and encounter.participant[0].individual.display == "钱医生"
    assert encounter.reasonCode[0].text == "股骨骨折"
    assert encounter.hospitalization.dischargeDisposition.coding[0].code == "improved"
    assert encounter.identifier[0].value == "ZY-1" and encounter.period.end is not None


def test_a_merged_patient_is_inactive_and_links_to_its_survivor(client, admin_user, world):
    merge_patients(world["zhang"], world["li"], acting_user=admin_user)
    patient = parse(client.get(f"/fhir/Patient/{world['li'].pk}", **bearer(admin_user)))
    assert patient.active is False
    assert patient.link[0].type == "replaced-by" and patient.link[0].other.reference == f"Patient/{world['zhang'].pk}"


def test_without_auth_the_answer_is_401_operation_outcome(client, world):
    for url in (f"/fhir/Patient/{world['zhang'].pk}", "/fhir/Patient?phone=1", "/fhir/Encounter?patient=1"):
        response = client.get(url)
        assert response.status_code == 401 and parse(response).issue[0].code == "login"
    bad = client.get("/fhir/Patient?phone=1", HTTP_AUTHORIZATION="Bearer nope")
    assert bad.status_code == 401


def test_unknown_records_are_404_and_bad_searches_400_as_operation_outcome(client, agent, world):
    auth = bearer(agent)
    missing = client.get("/fhir/Patient/999999", **auth)
    assert missing.status_code == 404 and parse(missing).issue[0].code == "not-found"
    for url in (
        "/fhir/Patient",
        "/fhir/Patient?name=张",
        "/fhir/Patient?identifier=",
        "/fhir/Encounter?patient=abc",
        "/fhir/Patient?phone=1&_count=x",
    ):
        response = client.get(url, **auth)
        assert response.status_code == 400, url
        assert parse(response).issue[0].severity == "error"
    assert client.get("/fhir/Observation", **auth).status_code == 404


def test_a_staff_session_works_too(client, login, agent, world):
    login(agent)
    assert parse(client.get(f"/fhir/Patient/{world['zhang'].pk}")).id == str(world["zhang"].pk)


def test_a_dept_head_token_sees_only_patients_of_their_departments(client, dept_head, world):
    auth = bearer(dept_head)
    assert client.get(f"/fhir/Patient/{world['zhang'].pk}", **auth).status_code == 200  # 骨科 is under 外科
    assert client.get(f"/fhir/Patient/{world['li'].pk}", **auth).status_code == 404  # 内科 only
    assert parse(client.get("/fhir/Patient", {"phone": "13900000000"}, **auth)).total == 0
    assert parse(client.get("/fhir/Encounter", {"patient": world["li"].pk}, **auth)).total == 0


def test_a_search_reads_in_constant_queries_plus_the_audit_row_of_each_patient(client, agent, world, django_assert_max_num_queries):
    auth = bearer(agent)
    for seq in range(5):
        make_patient(f"王{seq}", mobile="13700000000", id_number=make_id_number(seq=30 + seq))
    with django_assert_max_num_queries(8 + 5 * 5):  # reads are constant; each patient adds its audit row (<= 5 queries)
        bundle = parse(client.get("/fhir/Patient", {"phone": "13700000000"}, **auth))
    assert bundle.total == 5


def test_an_encounter_full_url_from_a_search_reads_back_in_scope(client, agent, dept_head, world):
    bundle = client.get("/fhir/Encounter", {"patient": world["zhang"].pk}, **bearer(agent)).json()
    url = bundle["entry"][0]["fullUrl"]
    encounter = parse(client.get(url, **bearer(agent)))
    assert encounter.identifier[0].value == "ZY-1"
    li_encounter = client.get("/fhir/Encounter", {"patient": world["li"].pk}, **bearer(agent)).json()["entry"][0]["fullUrl"]
    assert client.get(li_encounter, **bearer(dept_head)).status_code == 404
