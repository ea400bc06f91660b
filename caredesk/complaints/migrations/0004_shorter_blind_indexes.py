"""Blind indexes of 32 hex digits, as ``patients.0009``."""

from typing import Any

from django.db import migrations


def shorten(apps: Any, schema_editor: Any) -> None:
    from caredesk.core.pii import shorten_blind_indexes

    shorten_blind_indexes(apps.get_model("complaints", "Complaint"), ("complainant_phone_bidx",), 32)
    shorten_blind_indexes(apps.get_model("complaints", "Praise"), ("praiser_phone_bidx",), 32)


class Migration(migrations.Migration):
    dependencies = [("complaints", "0003_praise_rectification_caselib")]

    operations = [migrations.RunPython(shorten)]
