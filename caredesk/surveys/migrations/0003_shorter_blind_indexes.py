"""Blind indexes of 32 hex digits, as ``patients.0009``."""

from typing import Any

from django.db import migrations


def shorten(apps: Any, schema_editor: Any) -> None:
    from caredesk.core.pii import shorten_blind_indexes

    shorten_blind_indexes(apps.get_model("surveys", "OptOut"), ("phone_bidx",), 32)


class Migration(migrations.Migration):
    dependencies = [("surveys", "0002_stats")]

    operations = [migrations.RunPython(shorten)]
