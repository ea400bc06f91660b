"""The fast value converters of the bulk insert/update paths give what Django's own would."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from unittest import mock
from zoneinfo import ZoneInfo

import pytest
from django.db import connection

from caredesk.patients import fastsql
from caredesk.patients.models import Encounter, Patient


@pytest.mark.django_db
@pytest.mark.parametrize("value", [
    datetime(2026, 3, 1, 9, 30, tzinfo=ZoneInfo("Asia/Shanghai")),
    datetime(2026, 3, 1, 23, 59, 59, 123456, tzinfo=ZoneInfo("Asia/Shanghai")),
    datetime(2026, 7, 1, 0, 0, tzinfo=UTC),
    datetime(1949, 10, 1, 15, 0, tzinfo=ZoneInfo("Asia/Shanghai")),
])
def test_datetime_converter_matches_get_db_prep_save(value: datetime) -> None:
    for model, name in ((Encounter, "visit_at"), (Encounter, "discharged_at"), (Patient, "first_visit_at")):
        field = model._meta.get_field(name)
        convert = fastsql._converter(field)
        assert convert(value) == field.get_db_prep_save(value, connection)


@pytest.mark.django_db
def test_new_instance_is_the_same_as_the_constructor(org: object) -> None:
    from caredesk.accounts.models import Department

    dept = Department.objects.first()
    patient = Patient(name="张三", mobile="13800138000")
    values = {"patient": patient, "kind": "outpatient", "source_system": "HIS", "source_id": "S1", "department": dept,
              "visit_at": datetime(2026, 3, 1, 9, 30, tzinfo=UTC)}
    a, b = Encounter(**values), fastsql.new_instance(Encounter, **values)
    fields = [f.attname for f in Encounter._meta.concrete_fields if f.attname != "created_at"]
    assert {f: getattr(b, f) for f in fields} == {f: getattr(a, f) for f in fields}
    assert b.patient is patient and b.department == dept and b._state.adding and b.created_at is not None
    p1, p2 = Patient(name="李四"), fastsql.new_instance(Patient, name="李四")
    pf = [f.attname for f in Patient._meta.concrete_fields if f.attname != "created_at"]
    assert {f: getattr(p2, f) for f in pf} == {f: getattr(p1, f) for f in pf}
    assert fastsql.new_instance(Patient).created_at is not p2.created_at  # a callable default, called per instance


def test_new_instance_takes_a_given_value_instead_of_calling_the_default() -> None:
    at = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
    calls: list[int] = []
    field = Patient._meta.get_field("created_at")
    with mock.patch.object(field, "default", lambda: calls.append(1) or at):
        fastsql._prototype.cache_clear()
        try:
            fastsql._prototype(Patient)  # built with the patched default (its constructor calls it once)
            calls.clear()
            given = fastsql.new_instance(Patient, name="王五", created_at=at)
            assert given.created_at is at and calls == []
            assert fastsql.new_instance(Patient, name="王五").created_at is at and calls == [1]
        finally:
            fastsql._prototype.cache_clear()


@pytest.mark.django_db
def test_datetime_converter_repeats_and_alternations_give_each_value_its_own_result() -> None:
    field = Encounter._meta.get_field("visit_at")
    convert = fastsql._converter(field)
    a = datetime(2026, 3, 1, 9, 30, tzinfo=ZoneInfo("Asia/Shanghai"))
    b = datetime(2026, 3, 1, 9, 31, tzinfo=UTC)
    for value in (a, a, b, b, a, b, a):
        assert convert(value) == field.get_db_prep_save(value, connection)
    assert convert(None) is None


@pytest.mark.django_db
def test_insert_many_gives_its_rows_one_time_as_it_writes_them() -> None:
    patients = [fastsql.new_instance(Patient, name=n) for n in ("甲一", "乙二", "丙三")]
    fastsql.insert_many(patients)
    assert len({p.updated_at for p in patients}) == 1
    stored = dict(Patient.objects.filter(pk__in=[p.pk for p in patients]).values_list("pk", "updated_at"))
    assert stored == {p.pk: p.updated_at for p in patients}


def test_new_instance_goes_through_the_constructor_when_a_model_has_init_receivers() -> None:
    from django.db.models.signals import post_init

    seen: list[Any] = []

    def receiver(sender: Any, instance: Any, **kwargs: Any) -> None:
        seen.append(instance)

    post_init.connect(receiver, sender=Patient)
    try:
        made = fastsql.new_instance(Patient, name="赵钱")
        assert seen == [made]
        fastsql.new_instance(Encounter, kind="outpatient")  # another model: no receiver, not through __init__
        assert seen == [made]
    finally:
        post_init.disconnect(receiver, sender=Patient)
    fastsql.new_instance(Patient, name="孙李")
    assert seen == [made]


def test_a_date_field_set_on_insert_still_gets_todays_date() -> None:
    from datetime import date

    from django.db import models

    field = models.DateField(auto_now_add=True)
    field.set_attributes_from_name("opened_on")
    obj = type("Row", (), {})()
    value = fastsql._auto_value(obj, field, datetime(2020, 1, 1, tzinfo=UTC))
    assert type(value) is date and value.year > 2020 and obj.opened_on == value  # the field's own pre_save
