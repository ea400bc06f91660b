"""Fewer indexes on the tables a visit import writes most (an index write per row each):

* patients: the seven fields searched by exact value or a-z range get a plain index of their own
  (``Meta.indexes``) instead of ``db_index=True``, which on PostgreSQL also built a second
  varchar_pattern_ops index for LIKE that nothing uses (only ``name`` keeps both: prefix search);
* encounters: no separate index on patient_id or department_id (encounter_patient_timeline and
  encounter_department_patient start with them).

The schema is changed with explicit DROP/CREATE INDEX statements: Django's SQLite editor would
rebuild patients_patient for an AlterField, and a rebuilt table loses its name-suffix triggers.
"""

import django.db.models.deletion
from django.db import migrations, models


OLD_PATIENT_INDEXES = [
    "patients_patient_name_pinyin_1c24271f", "patients_patient_name_initials_5aa51637",
    "patients_patient_id_number_bidx_708988ae", "patients_patient_mobile_bidx_4e3ddf77",
    "patients_patient_mobile_last4_19fd17e1", "patients_patient_outpatient_no_675e9c8f",
    "patients_patient_inpatient_no_3080f925",
]
NEW_PATIENT_INDEXES = {
    "patient_name_pinyin": "name_pinyin", "patient_name_initials": "name_initials",
    "patient_id_number_bidx": "id_number_bidx", "patient_mobile_bidx": "mobile_bidx",
    "patient_mobile_last4": "mobile_last4", "patient_outpatient_no": "outpatient_no",
    "patient_inpatient_no": "inpatient_no",
}
OLD_ENCOUNTER_INDEXES = ["patients_encounter_patient_id_c3bd73fe", "patients_encounter_department_id_b5c64691"]


def forward(apps, schema_editor) -> None:  # type: ignore[no-untyped-def]
    run = schema_editor.execute
    for name in OLD_PATIENT_INDEXES:
        run(f"DROP INDEX IF EXISTS {name}", params=None)
        run(f"DROP INDEX IF EXISTS {name}_like", params=None)  # PostgreSQL's pattern_ops twin
    for name, column in NEW_PATIENT_INDEXES.items():
        run(f"CREATE INDEX IF NOT EXISTS {name} ON patients_patient ({column})", params=None)
    for name in OLD_ENCOUNTER_INDEXES:
        run(f"DROP INDEX IF EXISTS {name}", params=None)


def backward(apps, schema_editor) -> None:  # type: ignore[no-untyped-def]
    run = schema_editor.execute
    for name in NEW_PATIENT_INDEXES:
        run(f"DROP INDEX IF EXISTS {name}", params=None)
    for name, column in zip(OLD_PATIENT_INDEXES, NEW_PATIENT_INDEXES.values(), strict=True):
        run(f"CREATE INDEX IF NOT EXISTS {name} ON patients_patient ({column})", params=None)
        if schema_editor.connection.vendor == "postgresql":
            run(f"CREATE INDEX IF NOT EXISTS {name}_like ON patients_patient ({column} varchar_pattern_ops)", params=None)
    for name, column in zip(OLD_ENCOUNTER_INDEXES, ("patient_id", "department_id"), strict=True):
        run(f"CREATE INDEX IF NOT EXISTS {name} ON patients_encounter ({column})", params=None)


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0001_initial'),
        ('patients', '0005_name_suffix_search'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name='encounter',
                    name='department',
                    field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='encounters', to='accounts.department', verbose_name='科室'),
                ),
                migrations.AlterField(
                    model_name='encounter',
                    name='patient',
                    field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='encounters', to='patients.patient', verbose_name='患者'),
                ),
                migrations.AlterField(
                    model_name='patient',
                    name='id_number_bidx',
                    field=models.CharField(blank=True, max_length=64),
                ),
                migrations.AlterField(
                    model_name='patient',
                    name='inpatient_no',
                    field=models.CharField(blank=True, max_length=40, verbose_name='住院号'),
                ),
                migrations.AlterField(
                    model_name='patient',
                    name='mobile_bidx',
                    field=models.CharField(blank=True, max_length=64),
                ),
                migrations.AlterField(
                    model_name='patient',
                    name='mobile_last4',
                    field=models.CharField(blank=True, max_length=4, verbose_name='手机尾号'),
                ),
                migrations.AlterField(
                    model_name='patient',
                    name='name_initials',
                    field=models.CharField(blank=True, max_length=30, verbose_name='拼音首字母'),
                ),
                migrations.AlterField(
                    model_name='patient',
                    name='name_pinyin',
                    field=models.CharField(blank=True, max_length=120, verbose_name='姓名拼音'),
                ),
                migrations.AlterField(
                    model_name='patient',
                    name='outpatient_no',
                    field=models.CharField(blank=True, max_length=40, verbose_name='门诊号'),
                ),
                migrations.AddIndex(
                    model_name='patient',
                    index=models.Index(fields=['name_pinyin'], name='patient_name_pinyin'),
                ),
                migrations.AddIndex(
                    model_name='patient',
                    index=models.Index(fields=['name_initials'], name='patient_name_initials'),
                ),
                migrations.AddIndex(
                    model_name='patient',
                    index=models.Index(fields=['id_number_bidx'], name='patient_id_number_bidx'),
                ),
                migrations.AddIndex(
                    model_name='patient',
                    index=models.Index(fields=['mobile_bidx'], name='patient_mobile_bidx'),
                ),
                migrations.AddIndex(
                    model_name='patient',
                    index=models.Index(fields=['mobile_last4'], name='patient_mobile_last4'),
                ),
                migrations.AddIndex(
                    model_name='patient',
                    index=models.Index(fields=['outpatient_no'], name='patient_outpatient_no'),
                ),
                migrations.AddIndex(
                    model_name='patient',
                    index=models.Index(fields=['inpatient_no'], name='patient_inpatient_no'),
                ),
            ],
            database_operations=[migrations.RunPython(forward, backward)],
        ),
    ]
