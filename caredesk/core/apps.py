from pathlib import Path

from django.apps import AppConfig
from django.conf import settings


class CoreConfig(AppConfig):
    name = "caredesk.core"
    label = "core"
    verbose_name = "CareDesk core"

    def ready(self) -> None:
        ensure_broker_folders()


def ensure_broker_folders() -> None:
    """The folders of kombu's filesystem transport (the development broker, see the Celery settings).
    It writes each message into its folder and fails when the folder is missing: on a fresh checkout
    ``make run``'s ``seed_demo`` queued the first message (a complaint's SMS) before ``serve`` had
    made them. Made when any process starts, so every command can queue work."""
    if not str(getattr(settings, "CELERY_BROKER_URL", "")).startswith("filesystem://"):
        return
    options = getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {})
    for key in ("data_folder_in", "data_folder_out", "processed_folder", "control_folder"):
        if options.get(key):
            Path(options[key]).mkdir(parents=True, exist_ok=True)
