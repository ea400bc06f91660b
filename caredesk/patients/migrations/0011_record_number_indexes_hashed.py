"""The 门诊号 and 住院号 indexes become hash indexes of their non-empty values on PostgreSQL
(NonEmptyHashIndex, as the blind indexes in 0010; plain b-trees elsewhere). Most patients have
no 住院号: the empty value stays out of the index."""

import caredesk.core.indexes
from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ('patients', '0010_blind_indexes_hashed'),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name='patient',
            name='patient_outpatient_no',
        ),
        migrations.RemoveIndex(
            model_name='patient',
            name='patient_inpatient_no',
        ),
        migrations.AddIndex(
            model_name='patient',
            index=caredesk.core.indexes.NonEmptyHashIndex(fields=['outpatient_no'], name='patient_outpatient_no'),
        ),
        migrations.AddIndex(
            model_name='patient',
            index=caredesk.core.indexes.NonEmptyHashIndex(fields=['inpatient_no'], name='patient_inpatient_no'),
        ),
    ]
