"""HL7 messages arriving out of order, the one-transaction ingest path and its query budget
(``hl7_ingest.receive`` called directly; the socket tests are in test_hl7.py)."""

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.db.models.signals import post_save, pre_save

from caredesk.accounts.models import Department, Doctor
from caredesk.intake import hl7_ingest
from caredesk.intake.hl7_adt import Message
from caredesk.intake.models import IngestMessage
from caredesk.patients import fastsql
from caredesk.patients.directory import Directory
from caredesk.patients.models import Encounter, Patient, PatientIdentifier

pytestmark = pytest.mark.django_db

SH = ZoneInfo("Asia/Shanghai")


def adt(trigger, control, at, *, visit="V1", klass="I", name="张^三", address="朝阳区", discharge="", doctor="D001^刘^医生"):
    return "\r".join([
        f"MSH|^~\\&|HIS|CITYHOSP|CAREDESK|KFZX|{at}||ADT^{trigger}^ADT_{trigger}|{control}|P|2.5",
        f"EVN|{trigger}|{at}",
        f"PID|1||MRN9^^^CITYHOSP^MR||{name}||19800101|M|||{address}^^^^||13812345678",
        f"PV1|1|{klass}|WK-GK^301^1||||{doctor}||||||||||||{visit}|||||||||||||||||||||||||20260301090000|{discharge}",
    ])


def ack_code(ack):
    return Message.parse(ack).get("MSA", 1)


def test_an_older_a08_after_a_newer_one_is_kept_acknowledged_flagged_and_not_applied():
    assert ack_code(hl7_ingest.receive(adt("A01", "C1", "20260301100000"))) == "AA"
    assert ack_code(hl7_ingest.receive(adt("A08", "C3", "20260303100000", name="张^三丰", address="海淀区"))) == "AA"
    # the A08 of 2 March arrives after the one of 3 March
    ack = hl7_ingest.receive(adt("A08", "C2", "20260302100000", name="张^三二", address="东城区"))
    assert ack_code(ack) == "AA"
    patient = Patient.objects.get()
    assert patient.name == "张三丰" and patient.address == "海淀区"
    assert patient.feed_event_at == datetime(2026, 3, 3, 10, 0, tzinfo=SH)
    row = IngestMessage.objects.get(control_id="C2")
    assert row.stale and row.status == IngestMessage.Status.APPLIED and row.ack_code == "AA"
    assert "stale" in row.error and "patient" in row.error
    assert row.message_at == datetime(2026, 3, 2, 10, 0, tzinfo=SH)
    assert not IngestMessage.objects.get(control_id="C3").stale


def test_an_older_admission_after_the_discharge_does_not_reopen_the_stay():
    hl7_ingest.receive(adt("A01", "D1", "20260301100000"))
    hl7_ingest.receive(adt("A03", "D3", "20260308100000", discharge="20260308100000"))
    assert ack_code(hl7_ingest.receive(adt("A02", "D2", "20260305100000"))) == "AA"  # a transfer sent before
    encounter = Encounter.objects.get(source_id="V1")
    assert encounter.status == Encounter.Status.DISCHARGED
    assert encounter.feed_event_at == datetime(2026, 3, 8, 10, 0, tzinfo=SH)
    assert IngestMessage.objects.get(control_id="D2").stale


def test_an_older_cancel_does_not_cancel_a_visit_updated_since():
    hl7_ingest.receive(adt("A04", "E1", "20260301100000", klass="O"))
    hl7_ingest.receive(adt("A08", "E3", "20260303100000", klass="O"))
    assert ack_code(hl7_ingest.receive(adt("A11", "E2", "20260302100000", klass="O"))) == "AA"
    assert Encounter.objects.get(source_id="V1").status != Encounter.Status.CANCELLED
    assert IngestMessage.objects.get(control_id="E2").stale
    # a cancel newer than everything applied goes in
    hl7_ingest.receive(adt("A11", "E4", "20260304100000", klass="O"))
    assert Encounter.objects.get(source_id="V1").status == Encounter.Status.CANCELLED


def test_a_new_visit_in_an_older_message_is_recorded_but_the_older_identity_is_not():
    hl7_ingest.receive(adt("A08", "F2", "20260305100000", name="张^三丰"))
    hl7_ingest.receive(adt("A04", "F1", "20260301100000", visit="OP7", klass="O", name="张^三"))
    assert Patient.objects.get().name == "张三丰"
    assert Encounter.objects.filter(source_id="OP7").exists()
    row = IngestMessage.objects.get(control_id="F1")
    assert row.stale and "patient" in row.error and "encounter" not in row.error


def test_same_time_is_not_stale_and_a_newer_unchanged_message_moves_the_mark():
    hl7_ingest.receive(adt("A08", "G1", "20260301100000"))
    hl7_ingest.receive(adt("A08", "G2", "20260301100000"))
    assert not IngestMessage.objects.filter(stale=True).exists()
    hl7_ingest.receive(adt("A08", "G3", "20260302100000"))  # same content, newer: nothing changes but the mark
    assert Patient.objects.get().feed_event_at == datetime(2026, 3, 2, 10, 0, tzinfo=SH)
    hl7_ingest.receive(adt("A08", "G4", "20260301120000", name="李^四"))
    assert Patient.objects.get().name == "张三" and IngestMessage.objects.get(control_id="G4").stale


def test_a_failing_apply_keeps_the_message_with_its_error_and_the_database_unchanged():
    ack = hl7_ingest.receive(adt("A11", "H1", "20260301100000", visit="NOPE"))
    assert ack_code(ack) == "AE"
    row = IngestMessage.objects.get(control_id="H1")
    assert row.status == IngestMessage.Status.ERROR and "A11" in row.error
    # the patient upsert of the failed message was rolled back with its savepoint
    assert not Patient.objects.exists() and not PatientIdentifier.objects.exists()


def test_one_message_costs_a_bounded_number_of_queries(django_assert_max_num_queries, org):
    Doctor.objects.create(name="医生 刘", staff_no="D001", department=org["gk"])
    directory = Directory()
    hl7_ingest.receive(adt("A01", "Q0", "20260301100000", visit="V0"), directory=directory)  # loads the directory
    # new patient + new stay: ingest row, patient, identifier, encounter, visit figures, two audit rows
    with django_assert_max_num_queries(30):
        hl7_ingest.receive(adt("A01", "Q1", "20260301100000", visit="V9", name="王^五").replace("MRN9", "MRN10"),
                           directory=directory)
    encounter = Encounter.objects.get(source_id="V9")
    assert encounter.department == org["gk"] and encounter.doctor.staff_no == "D001"
    assert encounter.patient.visit_count == 1 and encounter.patient.last_visit_at is not None


def test_the_directory_resolves_like_the_lookups_and_sees_new_rows_on_a_miss(org):
    directory = Directory(miss_reload=0)
    assert directory.department("wk-gk") == org["gk"] and directory.department("骨科") == org["gk"]
    assert directory.department("新科室") is None
    new = Department.objects.create(code="XKS", name="新科室")
    assert directory.department("新科室") == new
    Doctor.objects.create(name="王医生", staff_no="S1", department=org["gk"])
    Doctor.objects.create(name="王医生", staff_no="S2", department=org["nk"])
    assert directory.doctor("S2", None).staff_no == "S2"
    assert directory.doctor("王医生", org["nk"]).staff_no == "S2"
    assert directory.doctor("王医生", None) is None  # ambiguous without a department


@pytest.mark.parametrize("model", [Patient, Encounter, PatientIdentifier, IngestMessage])
def test_models_written_by_fastsql_have_no_save_override_or_save_signals(model):
    assert model.save is Patient.__mro__[1].save, f"{model.__name__}.save is overridden: fastsql.insert would skip it"
    assert not pre_save.has_listeners(model) and not post_save.has_listeners(model)
    assert fastsql.insert  # the helper these models are written with


def _with_pid3(message, pid3):
    return "\r".join(f"PID|1||{pid3}|" + line.split("|", 4)[4] if line.startswith("PID|") else line
                     for line in message.split("\r"))


def test_an_identity_number_that_fails_its_check_is_not_kept_in_clear():
    bad = "110105194912310023"  # the shape of an identity number, a wrong check digit (…002X is right)
    ack = hl7_ingest.receive(_with_pid3(adt("A04", "B1", "20260301100000", klass="O"),
                                        f"MRN7^^^CITYHOSP^MR~{bad}^^^CHN^NNCHN"))
    assert ack_code(ack) == "AA"
    patient = Patient.objects.get()
    assert patient.id_number == ""
    assert list(PatientIdentifier.objects.values_list("value", flat=True)) == ["MRN7"]
    # alone in PID-3 it identifies nobody: the message is refused with the reason and kept
    ack = hl7_ingest.receive(_with_pid3(adt("A04", "B2", "20260301100000", klass="O"), f"{bad}^^^CHN^NNCHN"))
    assert ack_code(ack) in ("AE", "AR") and "身份证号" in Message.parse(ack).get("MSA", 3)
    assert IngestMessage.objects.filter(control_id="B2").exclude(error="").exists()
    assert Patient.objects.count() == 1
