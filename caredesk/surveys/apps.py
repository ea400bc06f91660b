from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SurveysConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "caredesk.surveys"
    verbose_name = _("满意度调查")

    def ready(self) -> None:
        from . import signals  # noqa: F401
