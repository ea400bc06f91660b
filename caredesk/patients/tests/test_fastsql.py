"""``fastsql.first`` reads what the ORM reads (the same instance, field by field, in one query) and
``fastsql.update`` writes what ``save(update_fields=…)`` writes."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from caredesk.patients import fastsql
from caredesk.patients.models import Encounter, Patient

pytestmark = pytest.mark.django_db

AT = datetime(2026, 3, 1, 9, 30, 15, 123456, tzinfo=ZoneInfo("Asia/Shanghai"))


def _values(obj: Any) -> dict[str, Any]:
    return {f.attname: (type(getattr(obj, f.attname)), getattr(obj, f.attname)) for f in obj._meta.concrete_fields}


def test_first_gives_the_instance_the_orm_gives_with_every_field_converted() -> None:
    survivor = Patient.objects.create(name="李四")
    patient = Patient.objects.create(
        name="张三", name_pinyin="zhangsan", name_initials="zs", sex="M", birth_date=date(1949, 12, 31),
        id_number="11010519491231002X", mobile="13812345678", other_phones="010-12345678", address="北京市朝阳区",
        outpatient_no="MZ1", inpatient_no="ZY1", vip_level=2, notes="多行\n备注", is_deceased=True, deceased_at=AT,
        do_not_contact=True, merged_into=survivor, first_visit_at=AT, last_visit_at=AT, visit_count=3, feed_event_at=AT)
    with CaptureQueriesContext(connection) as queries:
        read = fastsql.first(Patient, pk=patient.pk)
    assert len(queries.captured_queries) == 1
    orm = Patient.objects.get(pk=patient.pk)
    assert _values(read) == _values(orm)
    assert read.id_number == "11010519491231002X" and read.deceased_at == AT and read.birth_date == date(1949, 12, 31)
    assert not read._state.adding and read._state.db == orm._state.db
    assert fastsql.first(Patient, pk=patient.pk + 1000) is None


def test_first_matches_several_fields_takes_the_lowest_id_and_can_lock() -> None:
    patient = Patient.objects.create(name="张三")
    rows = [Encounter.objects.create(patient=patient, source_system=system, source_id="V1", visit_at=AT)
            for system in ("HIS", "HL7:A")]
    with transaction.atomic():
        read = fastsql.first(Encounter, for_update=True, source_system="HL7:A", source_id="V1")
    assert read.pk == rows[1].pk and _values(read) == _values(Encounter.objects.get(pk=rows[1].pk))
    assert fastsql.first(Encounter, patient_id=patient.pk).pk == rows[0].pk  # by attname, lowest id first
    assert fastsql.first(Encounter, patient=patient.pk, source_id="V2") is None


def test_update_writes_the_named_fields_and_the_time_as_save_with_update_fields_does() -> None:
    from caredesk.accounts.models import Department

    first_owner, second_owner = Patient.objects.create(name="张三"), Patient.objects.create(name="李四", mobile="13800000000")
    dept = Department.objects.create(code="GK", name="骨科")
    enc = Encounter.objects.create(patient=first_owner, source_system="HL7:A", source_id="V1", visit_at=AT, diagnosis_text="旧")
    Encounter.objects.filter(pk=enc.pk).update(diagnosis_text="别处改过")  # not named below: must stay
    before = enc.updated_at
    enc.discharged_at, enc.status, enc.department, enc.patient = AT, "discharged", dept, second_owner
    with CaptureQueriesContext(connection) as queries:
        fastsql.update(enc, ["discharged_at", "status", "department", "patient"])
    assert len(queries.captured_queries) == 1
    stored = Encounter.objects.get(pk=enc.pk)
    assert (stored.discharged_at, stored.status, stored.department_id, stored.patient_id) == (AT, "discharged", dept.pk, second_owner.pk)
    assert stored.diagnosis_text == "别处改过" and stored.updated_at == enc.updated_at > before

    second_owner.mobile, second_owner.feed_event_at = "13911112222", AT
    fastsql.update(second_owner, ["mobile"])
    fastsql.update(second_owner, ["feed_event_at"], auto_now=False)
    stored_patient = Patient.objects.get(pk=second_owner.pk)
    assert stored_patient.mobile == "13911112222" and stored_patient.feed_event_at == AT
    assert stored_patient.updated_at == second_owner.updated_at  # the second call left the time alone
    with pytest.raises(ValueError, match="existing rows"):
        fastsql.update(Patient(name="新"), ["name"])


def test_update_many_writes_each_rows_own_values_in_one_statement() -> None:
    patient = Patient.objects.create(name="张三")
    rows = [Encounter.objects.create(patient=patient, source_system="HIS", source_id=f"V{i}", visit_at=AT) for i in range(3)]
    stamp = datetime(2026, 3, 2, 8, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    for i, enc in enumerate(rows[:2]):
        enc.status, enc.updated_at = f"s{i}", stamp  # the caller's own time: auto_now=False keeps it
    with CaptureQueriesContext(connection) as queries:
        fastsql.update_many(rows[:2], ["status", "updated_at"], auto_now=False)
    assert len(queries.captured_queries) == 1
    stored = {e.source_id: (e.status, e.updated_at) for e in Encounter.objects.all()}
    assert stored["V0"] == ("s0", stamp) and stored["V1"] == ("s1", stamp) and stored["V2"][0] != "s0"
