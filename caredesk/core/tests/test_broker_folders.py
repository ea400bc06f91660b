"""The development broker (kombu's filesystem transport) can take a message from any process on a
fresh checkout: its folders are made when Django starts, not only by ``serve``."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.test import override_settings
from kombu import Connection

from caredesk.core.apps import ensure_broker_folders


def _options(root: Path) -> dict[str, object]:
    return {"data_folder_in": str(root / "broker" / "out"), "data_folder_out": str(root / "broker" / "out"),
            "processed_folder": str(root / "broker" / "processed"), "control_folder": str(root / "broker" / "control"),
            "store_processed": False}


def _publish(options: dict[str, object]) -> None:
    with Connection("filesystem://", transport_options=options) as conn:
        conn.SimpleQueue("celery").put({"task": "demo"})


def test_a_message_queued_on_a_fresh_checkout_is_written(tmp_path: Path) -> None:
    options = _options(tmp_path / "var")
    with pytest.raises(FileNotFoundError):  # what ``make run``'s seed_demo met before the fix
        _publish(options)
    with override_settings(CELERY_BROKER_URL="filesystem://", CELERY_BROKER_TRANSPORT_OPTIONS=options):
        ensure_broker_folders()
    _publish(options)
    assert len(list((tmp_path / "var" / "broker" / "out").iterdir())) == 1
    assert (tmp_path / "var" / "broker" / "processed").is_dir()
    assert (tmp_path / "var" / "broker" / "control").is_dir()  # not ./control in the working directory


def test_no_folder_for_a_real_broker(tmp_path: Path) -> None:
    with override_settings(CELERY_BROKER_URL="redis://127.0.0.1:6379/0",
                           CELERY_BROKER_TRANSPORT_OPTIONS=_options(tmp_path / "var")):
        ensure_broker_folders()
    assert not (tmp_path / "var").exists()
