"""Name "contains" search as index ranges: a table of every name suffix from the 2nd character on,
kept in step by triggers on patients_patient (so raw-SQL and bulk writers are covered too), and
filled for the existing patients. SQLite triggers cannot use WITH, so the suffix positions come
from a VALUES list (names are at most 60 characters); PostgreSQL uses a plpgsql function with
generate_series."""

from django.db import migrations, models

NAME_MAX = 60  # Patient.name max_length, frozen here
TABLE = "patients_patientnamesuffix"
POSITIONS = ", ".join(f"({n})" for n in range(2, NAME_MAX + 1))


def _sqlite_suffixes(row: str) -> str:
    """SELECT (suffix, patient_id) of ``row`` (NEW / OLD)."""
    return (
        f"SELECT substr({row}.name, pos.column1), {row}.id FROM (VALUES {POSITIONS}) AS pos "  # noqa: S608
        f"WHERE pos.column1 <= length({row}.name)"
    )


def _sqlite_delete(row: str) -> str:
    # by (suffix, patient_id): the primary key, no second index on patient_id needed
    return (
        f"DELETE FROM {TABLE} WHERE patient_id = {row}.id AND suffix IN "  # noqa: S608
        f"(SELECT substr({row}.name, pos.column1) FROM (VALUES {POSITIONS}) AS pos "
        f"WHERE pos.column1 <= length({row}.name));"
    )


SQLITE_FORWARD = [
    f"INSERT INTO {TABLE} (suffix, patient_id) SELECT substr(p.name, pos.column1), p.id "  # noqa: S608
    f"FROM patients_patient p JOIN (VALUES {POSITIONS}) AS pos ON pos.column1 <= length(p.name) ORDER BY 1, 2",
    f"CREATE TRIGGER patients_name_suffix_insert AFTER INSERT ON patients_patient BEGIN "
    f"INSERT INTO {TABLE} (suffix, patient_id) {_sqlite_suffixes('NEW')}; END",
    f"CREATE TRIGGER patients_name_suffix_update AFTER UPDATE OF name ON patients_patient "
    f"WHEN OLD.name IS NOT NEW.name BEGIN {_sqlite_delete('OLD')} "
    f"INSERT INTO {TABLE} (suffix, patient_id) {_sqlite_suffixes('NEW')}; END",
    f"CREATE TRIGGER patients_name_suffix_delete AFTER DELETE ON patients_patient BEGIN {_sqlite_delete('OLD')} END",
]
SQLITE_BACKWARD = [
    "DROP TRIGGER IF EXISTS patients_name_suffix_insert",
    "DROP TRIGGER IF EXISTS patients_name_suffix_update",
    "DROP TRIGGER IF EXISTS patients_name_suffix_delete",
]

POSTGRES_FORWARD = [
    # byte order whatever the database collation: a range [q, q+1) is then exactly "starts with q"
    f'ALTER TABLE {TABLE} ALTER COLUMN suffix TYPE varchar({NAME_MAX}) COLLATE "C"',
    f"INSERT INTO {TABLE} (suffix, patient_id) SELECT substr(p.name, pos), p.id "  # noqa: S608
    f"FROM patients_patient p, generate_series(2, char_length(p.name)) AS pos ORDER BY 1, 2",
    f"""CREATE FUNCTION patients_name_suffix_sync() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        DELETE FROM {TABLE} WHERE patient_id = OLD.id AND suffix IN
            (SELECT substr(OLD.name, pos) FROM generate_series(2, char_length(OLD.name)) AS pos);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        INSERT INTO {TABLE} (suffix, patient_id)
            SELECT substr(NEW.name, pos), NEW.id FROM generate_series(2, char_length(NEW.name)) AS pos;
    END IF;
    RETURN NULL;
END $$""",
    "CREATE TRIGGER patients_name_suffix_insert AFTER INSERT ON patients_patient "
    "FOR EACH ROW EXECUTE FUNCTION patients_name_suffix_sync()",
    "CREATE TRIGGER patients_name_suffix_update AFTER UPDATE OF name ON patients_patient "
    "FOR EACH ROW WHEN (OLD.name IS DISTINCT FROM NEW.name) EXECUTE FUNCTION patients_name_suffix_sync()",
    "CREATE TRIGGER patients_name_suffix_delete AFTER DELETE ON patients_patient "
    "FOR EACH ROW EXECUTE FUNCTION patients_name_suffix_sync()",
]
POSTGRES_BACKWARD = [
    "DROP TRIGGER IF EXISTS patients_name_suffix_insert ON patients_patient",
    "DROP TRIGGER IF EXISTS patients_name_suffix_update ON patients_patient",
    "DROP TRIGGER IF EXISTS patients_name_suffix_delete ON patients_patient",
    "DROP FUNCTION IF EXISTS patients_name_suffix_sync()",
]


def _run(schema_editor, statements) -> None:  # type: ignore[no-untyped-def]
    for sql in statements:
        schema_editor.execute(sql, params=None)


def forward(apps, schema_editor) -> None:  # type: ignore[no-untyped-def]
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        _run(schema_editor, SQLITE_FORWARD)
    elif vendor == "postgresql":
        _run(schema_editor, POSTGRES_FORWARD)
    else:  # pragma: no cover - only SQLite and PostgreSQL are supported
        raise NotImplementedError(vendor)
    # fresh statistics for the new table, so the planner uses its index from the first search
    schema_editor.execute(f"ANALYZE {TABLE}", params=None)


def backward(apps, schema_editor) -> None:  # type: ignore[no-untyped-def]
    vendor = schema_editor.connection.vendor
    _run(schema_editor, SQLITE_BACKWARD if vendor == "sqlite" else POSTGRES_BACKWARD)


class Migration(migrations.Migration):

    dependencies = [
        ('patients', '0004_feed_event_at'),
    ]

    operations = [
        migrations.CreateModel(
            name='PatientNameSuffix',
            fields=[
                ('pk', models.CompositePrimaryKey('suffix', 'patient_id', blank=True, editable=False, primary_key=True, serialize=False)),
                ('suffix', models.CharField(max_length=60)),
                ('patient_id', models.BigIntegerField()),
            ],
            options={
                'verbose_name': '姓名后缀索引',
                'verbose_name_plural': '姓名后缀索引',
                'default_permissions': (),
            },
        ),
        migrations.RunPython(forward, backward),
    ]
