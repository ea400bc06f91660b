"""Blind indexes of 32 hex digits (128 bits of the HMAC) instead of 64: the stored ones are cut to
their first 32, which is what ``pii.blind_index`` now gives. The columns keep their width (altering
them would rebuild the table on SQLite). Not reversible: the full values need the clear ones."""

from typing import Any

from django.db import migrations


def shorten(apps: Any, schema_editor: Any) -> None:
    from caredesk.core.pii import shorten_blind_indexes

    shorten_blind_indexes(apps.get_model("patients", "Patient"), ("id_number_bidx", "mobile_bidx"), 32)


class Migration(migrations.Migration):
    dependencies = [("patients", "0008_code_columns_byte_order")]

    operations = [migrations.RunPython(shorten)]
