import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(settings.BASE_DIR)


def _import_settings(env: dict[str, str]) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "FIELD_ENCRYPTION_KEY", "DEBUG", "DATABASE_URL"}}
    clean.update(env)
    return subprocess.run(
        [sys.executable, "-c", "import config.settings"], cwd=ROOT, env=clean, capture_output=True, text=True, check=False
    )


def test_production_refuses_to_start_without_secret_and_encryption_keys():
    result = _import_settings({"DEBUG": "0"})
    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr and "FIELD_ENCRYPTION_KEY" in result.stderr


def test_production_starts_with_both_keys_and_development_needs_none():
    assert _import_settings({"DEBUG": "0", "SECRET_KEY": "x" * 60, "FIELD_ENCRYPTION_KEY": "A" * 43 + "="}).returncode == 0
    assert _import_settings({"DEBUG": "1"}).returncode == 0


def test_an_unknown_security_profile_is_refused():
    result = _import_settings({"DEBUG": "1", "SECURITY_PROFILE": "lax"})
    assert result.returncode != 0 and "SECURITY_PROFILE" in result.stderr


@pytest.mark.skipif(settings.DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3", reason="SQLite only")
def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(tmp_path, django_db_blocker):
    from django.db.backends.sqlite3.base import DatabaseWrapper

    config = {**settings.DATABASES["default"], "NAME": str(tmp_path / "wal.sqlite3")}
    wrapper = DatabaseWrapper(config, alias="waltest")
    try:
        with django_db_blocker.unblock(), wrapper.cursor() as cur:
            cur.execute("PRAGMA journal_mode")
            assert cur.fetchone()[0] == "wal"
            cur.execute("PRAGMA busy_timeout")
            assert cur.fetchone()[0] >= 5000
    finally:
        wrapper.close()
