import contextlib
from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate


class IntakeConfig(AppConfig):
    name = "caredesk.intake"
    label = "intake"
    verbose_name = "Hospital data intake"

    def ready(self) -> None:
        post_migrate.connect(_restore_deferred_indexes, sender=self)


def _restore_deferred_indexes(sender: Any, **kwargs: Any) -> None:
    """A deployment's ``migrate`` rebuilds the search indexes a dead import left deferred."""
    from django.db import DatabaseError

    from .actions import restore_deferred_indexes

    with contextlib.suppress(DatabaseError):  # migrated backwards past the column: nothing to restore
        restore_deferred_indexes()
