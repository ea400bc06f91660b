"""Helpers for patient tests: valid ID numbers and quick records."""

from __future__ import annotations

from datetime import date
from typing import Any

from caredesk.patients.validators import id_check_char


def make_id_number(region: str = "110101", born: date = date(1980, 5, 17), seq: int = 123) -> str:
    first17 = f"{region}{born:%Y%m%d}{seq:03d}"
    return first17 + id_check_char(first17)


def make_patient(name: str = "张三", **fields: Any) -> Any:
    from caredesk.patients.actions import upsert_patient
    from caredesk.patients.data import PatientData

    patient, _status = upsert_patient(PatientData(name=name, **fields), source="test")
    return patient
