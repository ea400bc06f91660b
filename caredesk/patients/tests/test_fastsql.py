"""``fastsql.first`` reads what the ORM reads: the same instance, field by field, in one query."""

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
