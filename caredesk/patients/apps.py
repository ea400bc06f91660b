from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PatientsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "caredesk.patients"
    label = "patients"
    verbose_name = _("患者档案")
