from typing import Any

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


def _ensure_defaults(**kwargs: Any) -> None:
    from .defaults import ensure_defaults

    ensure_defaults()


class QuestionnairesConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "caredesk.questionnaires"
    verbose_name = _("问卷引擎")

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        # The shipped dimensions and questionnaires exist after every migrate (idempotent).
        post_migrate.connect(_ensure_defaults, sender=self, dispatch_uid="caredesk_questionnaire_defaults")
