from datetime import UTC, datetime
from unittest import mock

import pytest

from caredesk.core.models import AuditEvent
from caredesk.patients import actions
from caredesk.patients.data import EncounterData, PatientData
from caredesk.patients.models import Consent, Encounter, Patient, PatientIdentifier, Tag
from caredesk.patients.tests.factories import make_id_number

pytestmark = pytest.mark.django_db

ID = make_id_number()
T1 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
T2 = datetime(2026, 3, 8, 10, 0, tzinfo=UTC)


def data(**kw):
    base = {"name": "张三", "id_number": ID, "mobile": "13812345678"}
    base.update(kw)
    return PatientData(**base)


def test_a_new_patient_is_created_with_derived_fields_and_an_audit_event():
    patient, status = actions.upsert_patient(data(identifiers={"HIS": "P1"}), source="test")
    assert status == "created"
    patient.refresh_from_db()
    assert (patient.name_pinyin, patient.name_initials, patient.mobile_last4) == ("zhangsan", "zs", "5678")
    assert patient.id_number == ID and patient.id_number_bidx and patient.mobile_bidx
    assert patient.sex == "M" and patient.birth_date.year == 1980
    assert PatientIdentifier.objects.get(system="HIS").value == "P1"
    event = AuditEvent.objects.get(verb="patient.created")
    assert event.patient_id == patient.pk and ID not in str(event.details)


def test_the_same_data_twice_is_unchanged():
    actions.upsert_patient(data(identifiers={"HIS": "P1"}, other_phones=["010-1234"]), source="test")
    _patient, status = actions.upsert_patient(data(identifiers={"HIS": "P1"}, other_phones=["010-1234"]), source="t")
    assert status == "unchanged"
    assert Patient.objects.count() == 1


def test_empty_fields_never_blank_stored_ones():
    patient, _ = actions.upsert_patient(data(address="北京市东城区某街1号", outpatient_no="MZ001"), source="test")
    again, status = actions.upsert_patient(PatientData(name="张三", id_number=ID), source="test")
    assert status == "unchanged" and again.pk == patient.pk
    again.refresh_from_db()
    assert again.address == "北京市东城区某街1号" and again.mobile == "13812345678" and again.outpatient_no == "MZ001"


def test_new_values_update_the_record():
    patient, _ = actions.upsert_patient(data(), source="test")
    again, status = actions.upsert_patient(data(mobile="13900001111"), source="test")
    assert status == "updated" and again.pk == patient.pk
    again.refresh_from_db()
    assert again.mobile_last4 == "1111"
    assert AuditEvent.objects.filter(verb="patient.updated", details__fields=["mobile"]).exists()


@pytest.mark.parametrize(
    "incoming",
    [
        PatientData(name="别名", identifiers={"HIS": "P1"}),
        PatientData(name="别名", id_number=ID.lower()),
        PatientData(name="别名", outpatient_no="MZ001"),
        PatientData(name="别名", inpatient_no="ZY001"),
        PatientData(name="张三", mobile="+86 138 1234 5678"),
    ],
    ids=["identifier", "id_number", "outpatient_no", "inpatient_no", "name_and_mobile"],
)
def test_matching_finds_the_existing_patient(incoming):
    patient, _ = actions.upsert_patient(data(identifiers={"HIS": "P1"}, outpatient_no="MZ001", inpatient_no="ZY001"), source="test")
    found, _status = actions.upsert_patient(incoming, source="test")
    assert found.pk == patient.pk
    assert Patient.objects.count() == 1


def test_an_identifier_wins_over_the_id_number():
    first, _ = actions.upsert_patient(data(identifiers={"HIS": "P1"}), source="test")
    other, _ = actions.upsert_patient(PatientData(name="李四", identifiers={"HIS": "P2"}), source="test")
    found, _ = actions.upsert_patient(PatientData(name="李四", id_number=ID, identifiers={"HIS": "P2"}), source="t")
    assert found.pk == other.pk != first.pk


def test_same_name_with_a_different_mobile_is_a_new_patient():
    actions.upsert_patient(PatientData(name="张三", mobile="13812345678"), source="test")
    _p, status = actions.upsert_patient(PatientData(name="张三", mobile="13912345678"), source="test")
    assert status == "created"


def test_a_merged_record_resolves_to_its_survivor(admin_user):
    survivor, _ = actions.upsert_patient(data(identifiers={"HIS": "A"}), source="test")
    merged, _ = actions.upsert_patient(PatientData(name="张三", outpatient_no="MZ9", identifiers={"HIS": "B"}), source="t")
    actions.merge_patients(survivor, merged, acting_user=admin_user)
    found, _ = actions.upsert_patient(PatientData(name="张三", outpatient_no="MZ9"), source="test")
    assert found.pk == survivor.pk
    enc, _ = actions.record_encounter(merged, EncounterData("outpatient", "HIS", "V1", visit_at=T1))
    assert enc.patient_id == survivor.pk


def test_merge_moves_encounters_identifiers_consents_and_tags(admin_user, org):
    survivor, _ = actions.upsert_patient(PatientData(name="张三", identifiers={"HIS": "A"}), source="test")
    merged, _ = actions.upsert_patient(data(identifiers={"HIS": "B"}), source="test")
    actions.record_encounter(merged, EncounterData("outpatient", "HIS", "V1", department="WK", visit_at=T1))
    Consent.objects.create(patient=merged, channel="sms", purpose="followup", granted=False)
    merged.tags.add(Tag.objects.create(name="慢病"))
    actions.merge_patients(survivor, merged, acting_user=admin_user)
    survivor.refresh_from_db()
    merged.refresh_from_db()
    assert merged.merged_into_id == survivor.pk
    assert survivor.encounters.count() == 1 and survivor.visit_count == 1
    assert set(survivor.identifiers.values_list("system", "value")) == {("HIS", "A"), ("HIS", "B"), ("MERGED", str(merged.pk))}
    assert survivor.consents.get().granted is False
    assert list(survivor.tags.values_list("name", flat=True)) == ["慢病"]
    assert survivor.id_number == ID and survivor.mobile_last4 == "5678"
    assert Patient.objects.active().count() == 1
    assert AuditEvent.objects.filter(verb="patient.merged", patient_id=survivor.pk).exists()


def test_record_encounter_is_idempotent_and_resolves_the_department(org):
    patient, _ = actions.upsert_patient(data(), source="test")
    with mock.patch("caredesk.patients.hooks.encounter_registered") as registered:
        enc, status = actions.record_encounter(
            patient, EncounterData("outpatient", "HIS", "V1", department="骨科", visit_at=T1, visit_type="first")
        )
        again, status2 = actions.record_encounter(
            patient, EncounterData("outpatient", "HIS", "V1", department="骨科", visit_at=T1, visit_type="first")
        )
    assert (status, status2) == ("created", "unchanged") and enc.pk == again.pk
    assert enc.department == org["gk"] and enc.status == Encounter.Status.ACTIVE
    registered.assert_called_once_with(enc)
    patient.refresh_from_db()
    assert patient.visit_count == 1 and patient.first_visit_at == T1


def test_an_update_with_empty_fields_keeps_stored_values(org):
    patient, _ = actions.upsert_patient(data(), source="test")
    actions.record_encounter(patient, EncounterData("inpatient", "HIS", "Z1", department="WK", admitted_at=T1, diagnosis_text="胆囊结石"))
    enc, status = actions.record_encounter(patient, EncounterData("inpatient", "HIS", "Z1"))
    assert status == "unchanged" and enc.diagnosis_text == "胆囊结石" and enc.department == org["wk"]


def test_an_encounter_given_to_another_patient_leaves_the_former_owners_figures_right():
    first, _ = actions.upsert_patient(data(), source="test")
    other, _ = actions.upsert_patient(PatientData(name="李四", outpatient_no="M2"), source="test")
    actions.record_encounter(first, EncounterData("outpatient", "HIS", "V1", visit_at=T1))
    actions.record_encounter(first, EncounterData("outpatient", "HIS", "V2", visit_at=T2))
    enc, status = actions.record_encounter(other, EncounterData("outpatient", "HIS", "V2", visit_at=T2))
    assert (status, enc.patient_id) == ("updated", other.pk)
    first.refresh_from_db()
    other.refresh_from_db()
    assert (first.visit_count, first.first_visit_at, first.last_visit_at) == (1, T1, T1)
    assert (other.visit_count, other.first_visit_at, other.last_visit_at) == (1, T2, T2)
    actions.record_encounter(other, EncounterData("outpatient", "HIS", "V1", visit_at=T1))
    first.refresh_from_db()
    assert (first.visit_count, first.first_visit_at, first.last_visit_at) == (0, None, None)


def test_a_discharge_through_record_encounter_calls_the_hook_once(org):
    patient, _ = actions.upsert_patient(data(), source="test")
    actions.record_encounter(patient, EncounterData("inpatient", "HIS", "Z1", admitted_at=T1))
    with mock.patch("caredesk.patients.hooks.patient_discharged") as discharged:
        enc, status = actions.record_encounter(patient, EncounterData("inpatient", "HIS", "Z1", discharged_at=T2, outcome="improved"))
        actions.record_encounter(patient, EncounterData("inpatient", "HIS", "Z1", discharged_at=T2, outcome="improved"))
    assert status == "updated" and enc.status == Encounter.Status.DISCHARGED
    discharged.assert_called_once_with(enc)


def test_discharge_cancel_discharge_and_cancel_transitions(org):
    patient, _ = actions.upsert_patient(data(), source="test")
    enc, _ = actions.record_encounter(patient, EncounterData("inpatient", "HIS", "Z1", admitted_at=T1))
    with (
        mock.patch("caredesk.patients.hooks.patient_discharged") as discharged,
        mock.patch("caredesk.patients.hooks.discharge_cancelled") as undone,
        mock.patch("caredesk.patients.hooks.encounter_cancelled") as cancelled,
    ):
        actions.discharge_encounter(enc, at=T2, outcome="cured")
        assert (enc.status, enc.outcome, enc.discharged_at) == ("discharged", "cured", T2)
        actions.cancel_discharge(enc)
        assert (enc.status, enc.outcome, enc.discharged_at) == ("active", "", None)
        actions.cancel_encounter(enc)
        actions.cancel_encounter(enc)
    discharged.assert_called_once_with(enc)
    undone.assert_called_once_with(enc)
    cancelled.assert_called_once_with(enc)
    patient.refresh_from_db()
    assert patient.visit_count == 0
    verbs = list(AuditEvent.objects.filter(object_type="patients.encounter").order_by("id").values_list("verb", flat=True))
    assert verbs == ["encounter.created", "encounter.discharged", "encounter.discharge_cancelled", "encounter.cancelled"]


def test_mark_deceased_once_and_a_died_outcome_marks_the_patient(org):
    patient, _ = actions.upsert_patient(data(), source="test")
    with mock.patch("caredesk.patients.hooks.patient_deceased") as deceased:
        actions.mark_deceased(patient, at=T1, source="test")
        actions.mark_deceased(patient, at=T2, source="test")
        other, _ = actions.upsert_patient(PatientData(name="李四", mobile="13700001111"), source="test")
        enc, _ = actions.record_encounter(other, EncounterData("inpatient", "HIS", "Z2", admitted_at=T1))
        actions.discharge_encounter(enc, at=T2, outcome="died")
    assert deceased.call_count == 2
    patient.refresh_from_db()
    other.refresh_from_db()
    assert patient.is_deceased and patient.deceased_at == T1
    assert other.is_deceased and other.deceased_at == T2


def test_deceased_at_in_patient_data_marks_the_patient():
    patient, _ = actions.upsert_patient(data(deceased_at=T1), source="test")
    patient.refresh_from_db()
    assert patient.is_deceased and patient.deceased_at == T1


@pytest.mark.parametrize(
    ("name", "pinyin", "initials"),
    [
        ("张三", "zhangsan", "zs"),
        ("曾小明", "zengxiaoming", "zxm"),
        ("单田芳", "shantianfang", "stf"),
        ("欧阳娜娜", "ouyangnana", "oynn"),
        ("解放", "xiefang", "xf"),
    ],
)
def test_pinyin_uses_surname_readings(name, pinyin, initials):
    from caredesk.patients.pinyin import name_to_pinyin

    assert name_to_pinyin(name) == (pinyin, initials)


def test_merge_moves_other_modules_records(admin_user, org):
    from caredesk.core.models import AuditEvent
    from caredesk.questionnaires import actions as q_actions
    from caredesk.questionnaires.models import Questionnaire

    survivor, _ = actions.upsert_patient(PatientData(name="张三", identifiers={"HIS": "A"}), source="test")
    merged, _ = actions.upsert_patient(data(identifiers={"HIS": "B"}), source="test")
    version = Questionnaire.objects.get(code="followup-outpatient").published_version()
    response = q_actions.save_response(version, {"overall": "4"}, submit=False, patient=merged)
    actions.merge_patients(survivor, merged, acting_user=admin_user)
    response.refresh_from_db()
    assert response.patient_id == survivor.pk
    event = AuditEvent.objects.filter(verb="patient.merged").get()
    assert event.details["moved"] == {"questionnaires.response": 1}
