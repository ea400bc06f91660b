from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "caredesk.core"
    label = "core"
    verbose_name = "CareDesk core"
