"""PostgreSQL: patient rows keep a quarter of each page free (``fillfactor = 75``), so that an update
of columns no index covers (visit figures during a first load, whose ``last_visit_at`` index is
built afterwards; ``updated_at``, notes, VIP level) is a HOT update: the new row version stays on
its page and none of the table's indexes gets a new entry. A 1,000,000-row first load made 90 % of
its 748k patient updates HOT and ran in 183 s instead of 199 s (docs/benchmarks.md). Affects pages
written from now on. SQLite has no such setting."""

from django.db import migrations

FILLFACTOR = 75


def forward(apps, schema_editor) -> None:  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"ALTER TABLE patients_patient SET (fillfactor = {FILLFACTOR})")


def backward(apps, schema_editor) -> None:  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("ALTER TABLE patients_patient RESET (fillfactor)")


class Migration(migrations.Migration):
    dependencies = [("patients", "0006_fewer_indexes")]

    operations = [migrations.RunPython(forward, backward, elidable=False)]
