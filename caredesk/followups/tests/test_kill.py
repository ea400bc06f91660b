"""Killing the worker during a sweep loses and duplicates nothing: the sweep runs in a separate
process on a file database, is killed (SIGKILL) once some chunks are committed, then runs again;
the task set is then exactly the expected schedule, once."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
N = 600

POPULATE = f"""
import sys; sys.path.insert(0, {str(ROOT / 'bench')!r})
import django; django.setup()
from followups_generate import populate
populate({N})
"""


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], env=env, cwd=ROOT, check=True, capture_output=True)  # noqa: S603 - our own manage.py


@pytest.mark.django_db
@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_a_killed_sweep_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    from caredesk.followups.plans import DEFAULTS, add_months

    db = tmp_path / "kill.sqlite3"
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{db}", "DEBUG": "1", "DJANGO_SETTINGS_MODULE": "config.settings",
           "FOLLOWUP_BACKFILL_DAYS": "100000"}
    env.pop("PYTEST_XDIST_WORKER", None)
    _run(["manage.py", "migrate", "--verbosity", "0"], env)
    _run(["-c", POPULATE], env)
    sweep = [sys.executable, "manage.py", "followups_generate", "--date", "2026-11-20", "--lookback", "0", "--chunk", "10"]
    proc = subprocess.Popen(sweep, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # noqa: S603
    count = 0
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            with sqlite3.connect(db, timeout=1) as con:
                count = con.execute("SELECT COUNT(*) FROM followups_followuptask").fetchone()[0]
        except sqlite3.OperationalError:
            count = 0
        if count > 0 or proc.poll() is not None:
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert 0 < count < N * 7, f"the sweep should have been killed mid-way (tasks seen: {count})"
    _run(sweep[1:], env)  # the next run (the beat's retry, or tomorrow's sweep with its look-back)
    with sqlite3.connect(db) as con:
        rows = con.execute(
            "SELECT e.source_id, t.step_key, t.due_date FROM followups_followuptask t "
            "JOIN patients_encounter e ON e.id = t.encounter_id").fetchall()
    spec = next(d for d in DEFAULTS if d["code"] == "discharge")
    trigger = date(2026, 11, 20)
    from caredesk.core import workcalendar

    expected_dates = []
    for order, _label, offset, every, until in spec["steps"]:
        from datetime import timedelta

        nominal = trigger + timedelta(days=offset)
        if not every:
            expected_dates.append((str(order), workcalendar.roll_forward(nominal).isoformat()))
            continue
        k = 1
        while add_months(nominal, every * k) <= add_months(trigger, until):
            expected_dates.append((f"{order}.{k}", workcalendar.roll_forward(add_months(nominal, every * k)).isoformat()))
            k += 1
    expected = {(f"S{i}", key, due) for i in range(N) for key, due in expected_dates}
    assert len(rows) == len(expected) == N * 7
    assert set(rows) == expected
