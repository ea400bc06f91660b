from django.apps import AppConfig


class IntakeConfig(AppConfig):
    name = "caredesk.intake"
    label = "intake"
    verbose_name = "Hospital data intake"
