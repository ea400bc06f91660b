"""No separate index on followupplan.patient_id or template_id: followup_plan_patient and
followup_plan_unique start with them, and an import writes a plan per discharge. Explicit DROP/CREATE
INDEX statements, so SQLite does not rebuild the table."""

import django.db.models.deletion
from django.db import migrations, models

OLD_INDEXES = {"followups_followupplan_patient_id_33963514": "patient_id",
               "followups_followupplan_template_id_6f8f65bb": "template_id"}


def forward(apps, schema_editor) -> None:  # type: ignore[no-untyped-def]
    for name in OLD_INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}", params=None)


def backward(apps, schema_editor) -> None:  # type: ignore[no-untyped-def]
    for name, column in OLD_INDEXES.items():
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON followups_followupplan ({column})", params=None)


class Migration(migrations.Migration):

    dependencies = [
        ('followups', '0001_initial'),
        ('patients', '0005_name_suffix_search'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name='followupplan',
                    name='patient',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='followup_plans', to='patients.patient', verbose_name='患者'),
                ),
                migrations.AlterField(
                    model_name='followupplan',
                    name='template',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.PROTECT, related_name='plans', to='followups.plantemplate', verbose_name='模板'),
                ),
            ],
            database_operations=[migrations.RunPython(forward, backward)],
        ),
    ]
