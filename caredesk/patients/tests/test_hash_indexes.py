"""The indexes of the identity-number and mobile blind indexes and of the record numbers
(``NonEmptyHashIndex``): hash indexes of the non-empty values on PostgreSQL, plain b-trees on
SQLite, and every look-up by them able to use them."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from caredesk.api.fhir import mapping
from caredesk.api.fhir.views import _identifier_query
from caredesk.core import pii
from caredesk.core.indexes import NonEmptyHashIndex, hashed_columns
from caredesk.intake.visit_stage import _load_known
from caredesk.patients import actions
from caredesk.patients.data import PatientData
from caredesk.patients.models import Patient
from caredesk.patients.tests.factories import make_id_number, make_patient

pytestmark = pytest.mark.django_db

ID = make_id_number()
MOBILE = "13800138000"
INDEXES = {"patient_id_number_bidx": "id_number_bidx", "patient_mobile_bidx": "mobile_bidx",
           "patient_outpatient_no": "outpatient_no", "patient_inpatient_no": "inpatient_no"}


def _index_sql() -> dict[str, str]:
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'patients_patient'")
        else:
            cur.execute("SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'patients_patient'")
        return {name: sql for name, sql in cur.fetchall() if name in INDEXES}


def test_the_patient_model_declares_the_four_indexes_hashed() -> None:
    assert hashed_columns(Patient) == frozenset(INDEXES.values())
    with pytest.raises(ValueError, match="one column"):
        NonEmptyHashIndex(fields=["name", "mobile_bidx"], name="x")


def test_postgresql_hashes_the_non_empty_values_and_sqlite_keeps_a_btree() -> None:
    sql = _index_sql()
    assert sql.keys() == INDEXES.keys()
    for name, column in INDEXES.items():
        if connection.vendor == "postgresql":
            assert "USING hash" in sql[name]
            assert f"WHERE (NOT (({column})::text = ''::text))" in sql[name]
        else:
            assert "hash" not in sql[name].lower() and "WHERE" not in sql[name]


def _plans_of(queries: list[dict[str, str]]) -> list[str]:
    """EXPLAIN of each captured statement that reads patients by one of the hashed columns."""
    plans = []
    with transaction.atomic(), connection.cursor() as cur:
        # only bitmap scans, which need an index condition: a plan can then read patients only
        # through an index the condition fits (a scan of the primary key in id order would do
        # with the statistics of a small table)
        cur.execute("SET LOCAL enable_seqscan = off; SET LOCAL enable_indexscan = off")
        for q in queries:
            sql = q["sql"]
            where = sql.partition(" WHERE ")[2]
            if sql.lstrip().upper().startswith("SELECT") and "patients_patient" in sql and any(c in where for c in INDEXES.values()):
                cur.execute("EXPLAIN " + sql)
                plans.append("\n".join(r[0] for r in cur.fetchall()))
    return plans


def test_every_look_up_by_a_hashed_column_can_use_its_index_on_postgresql() -> None:
    """A partial index serves only a query that implies its condition: the look-ups with an array
    or a parameter state ``<> ''`` themselves (without it, each would scan the table)."""
    if connection.vendor != "postgresql":
        pytest.skip("hash indexes are PostgreSQL's (run with DATABASE_URL=postgres://…)")
    patient = make_patient(id_number=ID, mobile=MOBILE, outpatient_no="MZ0042", inpatient_no="ZY0042")
    with connection.cursor() as cur:
        cur.execute("ANALYZE patients_patient")  # statistics of a one-row table, as other tests may leave
    with CaptureQueriesContext(connection) as captured:
        assert Patient.objects.search_ids(MOBILE)[0] == {patient.pk}
        assert Patient.objects.search_ids(ID)[0] == {patient.pk}
        assert actions.find_patient(PatientData(name="张三", id_number=ID)) == patient
        assert actions.find_patient(PatientData(name="张三", mobile=MOBILE)) == patient
        assert actions.find_patient(PatientData(name="张三", outpatient_no="MZ0042")) == patient
        assert actions.find_patient(PatientData(name="张三", inpatient_no="ZY0042")) == patient
        assert Patient.objects.search_ids("ZY0042")[0] == {patient.pk}
        assert list(Patient.objects.filter(_identifier_query(mapping.ID_NUMBER_SYSTEM, ID))) == [patient]
        known = _load_known({"id_number_bidx": [pii.blind_index("id_number", ID)],
                             # more values than PostgreSQL expands to prove a partial index's condition (100)
                             "mobile_bidx": [pii.blind_index("phone", MOBILE), *(f"{i:032d}" for i in range(150))]})
        assert [k.pk for k in known] == [patient.pk]
        numbers = [f"N{i}" for i in range(150)]
        known = _load_known({"outpatient_no": ["MZ0042", *numbers], "inpatient_no": ["ZY0042", *numbers]})
        assert [k.pk for k in known] == [patient.pk]
    plans = _plans_of(captured.captured_queries)
    assert len(plans) >= 10
    for plan in plans:
        assert any(index in plan for index in INDEXES), plan

