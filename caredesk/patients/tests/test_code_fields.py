"""Code columns (``CodeField``): byte order on PostgreSQL, no change on SQLite, and the intake's
look-ups still probe their indexes."""

from __future__ import annotations

import pytest
from django.db import connection

from caredesk.core.fields import CodeField
from caredesk.patients.models import Encounter, Patient, PatientIdentifier

pytestmark = pytest.mark.django_db

CODE_COLUMNS = {
    ("patients_patient", "id_number_bidx"), ("patients_patient", "mobile_bidx"), ("patients_patient", "outpatient_no"),
    ("patients_patient", "inpatient_no"), ("patients_encounter", "source_system"), ("patients_encounter", "source_id"),
    ("patients_patientidentifier", "system"), ("patients_patientidentifier", "value"),
}


def test_the_code_columns_are_code_fields() -> None:
    fields = {(m._meta.db_table, f.column) for m in (Patient, Encounter, PatientIdentifier) for f in m._meta.concrete_fields
              if isinstance(f, CodeField)}
    assert fields == CODE_COLUMNS


def test_postgresql_compares_code_columns_byte_by_byte_and_sqlite_is_unchanged() -> None:
    with connection.cursor() as cur:
        if connection.vendor == "postgresql":
            cur.execute("SELECT table_name, column_name, collation_name FROM information_schema.columns "
                        "WHERE table_schema = current_schema() AND table_name LIKE 'patients_%%'")
            collations = {(t, c): coll for t, c, coll in cur.fetchall()}
            assert {key: collations[key] for key in CODE_COLUMNS} == dict.fromkeys(CODE_COLUMNS, "C")
            assert collations["patients_patient", "name"] is None  # words keep the database's order
            assert Patient._meta.get_field("id_number_bidx").db_parameters(connection)["collation"] == "C"
        else:
            assert Patient._meta.get_field("id_number_bidx").db_parameters(connection)["collation"] is None
            cur.execute("SELECT sql FROM sqlite_master WHERE name = 'patients_patient'")
            assert "COLLATE" not in cur.fetchone()[0]


def test_a_code_column_finds_its_row_by_equality_and_prefix() -> None:
    p = Patient.objects.create(name="张三", outpatient_no="MZ-0042", id_number_bidx="ab" * 32)
    PatientIdentifier.objects.create(patient=p, system="HIS", value="P-7")
    assert list(Patient.objects.filter(outpatient_no="MZ-0042")) == [p]
    assert list(Patient.objects.filter(outpatient_no__startswith="MZ-")) == [p]
    assert list(Patient.objects.filter(id_number_bidx__in=["ab" * 32, "cd" * 32])) == [p]
    assert PatientIdentifier.objects.get(system="HIS", value="P-7").patient == p


def test_postgresql_looks_a_batch_up_through_the_code_column_indexes() -> None:
    """The import's look-up compares the columns with text arrays (``visit_stage._load_known``): the
    column's collation wins, so the indexes (in that collation) still serve it."""
    if connection.vendor != "postgresql":
        pytest.skip("the collation is PostgreSQL's (run with DATABASE_URL=postgres://…)")
    with connection.cursor() as cur:
        cur.execute("SET LOCAL enable_seqscan = off")
        # (the blind indexes are partial hash indexes: the look-up states its values are not empty)
        cur.execute("EXPLAIN SELECT id FROM patients_patient p WHERE (p.id_number_bidx = ANY(string_to_array(%s, E'\\x1f')) "
                    "AND p.id_number_bidx <> '') OR p.outpatient_no = ANY(%s) OR (p.mobile_bidx = ANY(%s) AND p.mobile_bidx <> '')",
                    ["a\x1fb", ["MZ-1"], ["c"]])
        plan = "\n".join(r[0] for r in cur.fetchall())
        cur.execute("EXPLAIN SELECT id FROM patients_encounter WHERE source_system = %s AND source_id = ANY(%s)",
                    ["HIS", ["V1", "V2"]])
        plan += "\n".join(r[0] for r in cur.fetchall())
    for index in ("patient_id_number_bidx", "patient_outpatient_no", "patient_mobile_bidx", "encounter_source_unique"):
        assert index in plan
