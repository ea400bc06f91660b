"""Code columns (blind indexes, record numbers, source ids, identifiers) in byte order on PostgreSQL
(``CodeField``: ``COLLATE "C"``), so their index look-ups compare bytes instead of going through
the database's locale. The database side is written out for PostgreSQL only: on SQLite nothing
changes in the schema, and Django's ``AlterField`` would rebuild ``patients_patient`` there, which
drops the name-suffix triggers of migration 0005. The indexes on these columns are rebuilt by the
``ALTER``; equality results are the same in every deterministic collation."""

import caredesk.core.fields
from django.db import migrations

# table -> (column, varchar length), frozen here
COLUMNS = {
    "patients_patient": [("id_number_bidx", 64), ("mobile_bidx", 64), ("outpatient_no", 40), ("inpatient_no", 40)],
    "patients_encounter": [("source_system", 120), ("source_id", 120)],
    "patients_patientidentifier": [("system", 120), ("value", 120)],
}


def _collate(schema_editor, collation: str) -> None:  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor != "postgresql":
        return
    qn = schema_editor.quote_name
    for table, columns in COLUMNS.items():
        changes = ", ".join(f"ALTER COLUMN {qn(c)} TYPE varchar({n}) COLLATE {qn(collation)}" for c, n in columns)
        schema_editor.execute(f"ALTER TABLE {qn(table)} {changes}")


def forward(apps, schema_editor) -> None:  # type: ignore[no-untyped-def]
    _collate(schema_editor, "C")


def backward(apps, schema_editor) -> None:  # type: ignore[no-untyped-def]
    _collate(schema_editor, "default")


class Migration(migrations.Migration):
    dependencies = [
        ("patients", "0007_patient_fillfactor"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[migrations.RunPython(forward, backward, elidable=False)],
            state_operations=[
                migrations.AlterField(
                    model_name="encounter",
                    name="source_id",
                    field=caredesk.core.fields.CodeField(max_length=120, verbose_name="来源流水号"),
                ),
                migrations.AlterField(
                    model_name="encounter",
                    name="source_system",
                    field=caredesk.core.fields.CodeField(max_length=120, verbose_name="来源系统"),
                ),
                migrations.AlterField(
                    model_name="patient",
                    name="id_number_bidx",
                    field=caredesk.core.fields.CodeField(blank=True, max_length=64),
                ),
                migrations.AlterField(
                    model_name="patient",
                    name="inpatient_no",
                    field=caredesk.core.fields.CodeField(blank=True, max_length=40, verbose_name="住院号"),
                ),
                migrations.AlterField(
                    model_name="patient",
                    name="mobile_bidx",
                    field=caredesk.core.fields.CodeField(blank=True, max_length=64),
                ),
                migrations.AlterField(
                    model_name="patient",
                    name="outpatient_no",
                    field=caredesk.core.fields.CodeField(blank=True, max_length=40, verbose_name="门诊号"),
                ),
                migrations.AlterField(
                    model_name="patientidentifier",
                    name="system",
                    field=caredesk.core.fields.CodeField(max_length=120, verbose_name="来源系统"),
                ),
                migrations.AlterField(
                    model_name="patientidentifier",
                    name="value",
                    field=caredesk.core.fields.CodeField(max_length=120, verbose_name="标识"),
                ),
            ],
        ),
    ]
