"""A sending worker killed mid-run (SIGKILL) and run again leaves no duplicate message or invitation.

Runs bench/surveys_invitations.py --kill-test on a throw-away SQLite file: a separate process plans
invitations for 600 visits, ``manage.py surveys_send`` is killed once a third of the messages are
queued, then re-run to completion."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def test_a_killed_sending_worker_leaves_no_duplicates_after_the_rerun() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "PYTEST_XDIST_WORKER")}
    out = subprocess.run(  # noqa: S603 - our own script
        [sys.executable, str(ROOT / "bench" / "surveys_invitations.py"), "--visits", "600", "--kill-test", "--json"],
        env={**env, "DEBUG": "1"}, capture_output=True, text=True, timeout=600, check=True,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    before, after = result["before_rerun"], result["after_rerun"]
    assert not result["finished_before_kill"], "the worker finished before it could be killed; raise --visits"
    assert 0 < before["messages"] < 600  # killed mid-send
    assert before["sent_without_message"] == 0 and before["message_without_sent"] == 0  # batches are atomic
    assert after["invitations"] == 600 and after["pending"] == 0
    assert after["messages"] == after["sent"] == 600
    assert after["duplicate_messages"] == 0 and after["duplicate_invitations"] == 0
    assert after["sent_without_message"] == 0 and after["message_without_sent"] == 0
