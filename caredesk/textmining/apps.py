from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class TextminingConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "caredesk.textmining"
    verbose_name = _("文本分析")

    def ready(self) -> None:
        from . import signals  # noqa: F401
