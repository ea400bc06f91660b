"""A big visit file on PostgreSQL: follow-up and survey planning happens in a second child process
with its own connection, a committed transaction at a time, and ends with what planning inside the
import gives."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from caredesk.core import forkpipe
from caredesk.intake import actions
from caredesk.intake.actions import import_visits
from caredesk.intake.tests.test_visit_file import STANDARD_HEADERS, row, write_csv
from caredesk.patients.tests.factories import make_id_number

pytestmark = pytest.mark.django_db(transaction=True)  # the planning child must see what the import committed


def rows() -> list[list[str]]:
    out = [STANDARD_HEADERS]
    for i in range(30):
        fields = {"流水号": f"P{i}", "姓名": f"病人{i}", "身份证号": make_id_number(seq=400 + i), "科室": "骨科"}
        if i % 3:
            fields.update({"就诊类型(门诊/住院)": "住院", "住院号": f"Z{i}", "就诊时间": "", "入院时间": "2026-11-20 09:00",
                           "出院时间": "2026-11-28 10:00", "转归": "好转"})
        else:
            fields.update({"门诊号": f"M{i}", "就诊时间": "2026-12-01 09:00", "初复诊": "初诊"})
        out.append(row(**fields))
    # a patient planned early in the file dies in a later transaction: nothing stays open for them
    out.append(row(**{"流水号": "P99", "就诊类型(门诊/住院)": "住院", "住院号": "Z1", "姓名": "病人1",
                      "身份证号": make_id_number(seq=401), "就诊时间": "", "入院时间": "2026-12-01 09:00",
                      "出院时间": "2026-12-03 10:00", "转归": "死亡", "科室": "骨科"}))
    return out


def open_work() -> tuple[list[Any], list[Any], list[Any]]:
    from caredesk.followups.models import FollowupPlan, FollowupTask
    from caredesk.surveys.models import Invitation

    plans = sorted(FollowupPlan.objects.filter(status="active").values_list("template__code", "patient__name", "trigger_date"))
    tasks = sorted(FollowupTask.objects.filter(status__in=["open", "assigned"]).values_list(
        "plan__template__code", "patient__name", "step_key", "due_date", "channel"))
    invitations = sorted(Invitation.objects.filter(status__in=Invitation.OPEN_STATUSES).values_list(
        "rule_id", "patient__name", "scheduled_at"))
    return plans, tasks, invitations


def wipe() -> None:
    from caredesk.followups.models import FollowupPlan
    from caredesk.patients.models import Encounter, Patient
    from caredesk.surveys.models import Invitation

    Invitation.objects.all().delete()
    FollowupPlan.objects.all().delete()
    Encounter.objects.all().delete()
    Patient.objects.all().delete()


def needs_a_planning_child() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("planning in a child process runs on PostgreSQL only (SQLite has a single writer)")
    if not forkpipe.available():
        pytest.skip("this process cannot fork a child here")


def test_planning_in_a_child_process_ends_as_planning_in_the_import(tmp_path: Path, settings: Any,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    needs_a_planning_child()
    from caredesk.followups.models import FollowupTask

    settings.FOLLOWUP_BACKFILL_DAYS = None
    started: list[Any] = []
    real = actions._start_planning
    monkeypatch.setattr(actions, "_start_planning", lambda: started.append(1) or real())
    path = write_csv(tmp_path / "visits.csv", rows(), "gbk")
    results = {}
    for in_child in (True, False):
        wipe()
        monkeypatch.setattr(actions, "PLAN_IN_CHILD", in_child)
        run = import_visits(path, batch_size=4, commit_rows=8, parallel=True)
        assert not run.error and run.imported == 31
        results[in_child] = open_work()
    assert started == [1]  # the first run planned in a child, the second in the import
    assert results[True] == results[False]
    plans, tasks, _invitations = results[True]
    assert len(plans) == 29 and tasks  # every patient but the one who died
    assert "病人1" not in {name for _c, name, _d in plans}
    assert not FollowupTask.objects.filter(patient__name="病人1", status__in=["open", "assigned"]).exists()


def test_a_planning_child_that_fails_leaves_the_rows_in_and_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                   caplog: pytest.LogCaptureFixture) -> None:
    needs_a_planning_child()
    from caredesk.followups.models import FollowupPlan
    from caredesk.patients import hooks
    from caredesk.patients.models import Encounter

    def broken(messages: Any) -> int:
        for _message in messages:
            raise RuntimeError("planning broke")
        return 0

    monkeypatch.setattr(hooks, "_plan_in_child", broken)
    monkeypatch.setattr(actions, "PLAN_IN_CHILD", True)
    wipe()
    path = write_csv(tmp_path / "visits.csv", rows(), "gbk")
    with caplog.at_level("ERROR", logger="caredesk.intake.actions"):
        run = import_visits(path, batch_size=4, commit_rows=8, parallel=True)
    assert not run.error and run.imported == 31 and run.status == "done"
    assert Encounter.objects.count() == 31
    assert not FollowupPlan.objects.exists()  # left to the daily sweeps
    assert "planning in the child process failed" in caplog.text
    assert getattr(hooks._local, "planning", None) is None  # the thread plans inline again
