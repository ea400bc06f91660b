"""The statistics dashboard: permissions, department scope, constant query count, Excel export,
the nightly command."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import pytest
from django.core.management import call_command
from django.urls import reverse
from openpyxl import load_workbook

from caredesk.accounts.models import Doctor
from caredesk.core.models import AuditEvent
from caredesk.patients.tests.factories import make_patient
from caredesk.surveys import aggregates, statsdemo
from caredesk.surveys.models_stats import CommentInsight, DailyResponseStat

pytestmark = pytest.mark.django_db

START = dt.date(2026, 1, 1)


@pytest.fixture
def data(org: dict[str, Any]) -> dict[str, Any]:
    doctors = [
        Doctor.objects.create(name="钱骨科", department=org["gk"], staff_no="D1"),
        Doctor.objects.create(name="孙内科", department=org["nk"], staff_no="D2"),
    ]
    version = statsdemo.demo_version()
    patients = [make_patient("张三丰"), make_patient("李四光")]
    statsdemo.generate(version, responses=60, start=START, days=30, doctors=doctors, patients=patients, seed=5)
    aggregates.rebuild_range(START, START + dt.timedelta(days=29))
    return {"version": version, "doctors": doctors}


def url(**params: Any) -> str:
    query = "&".join(f"{k}={v}" for k, v in {"start": "2026-01-01", "end": "2026-01-31", **params}.items())
    return reverse("surveys:stats") + "?" + query


def test_supervisor_sees_every_department(login: Any, supervisor: Any, data: dict[str, Any]) -> None:
    resp = login(supervisor).get(url())
    assert resp.status_code == 200
    board = resp.context["board"]
    assert board.totals["responses"] == 60
    assert {d["name"] for d in board.departments} == {"骨科", "内科"}
    html = resp.content.decode()
    assert "survey-stats-data" in html and "<script>" not in html
    assert "张三丰" not in html and "李四光" not in html  # masked patients only


def test_dept_head_sees_only_own_departments(login: Any, dept_head: Any, org: dict[str, Any], data: dict[str, Any]) -> None:
    client = login(dept_head)
    board = client.get(url()).context["board"]
    assert {d["name"] for d in board.departments} == {"骨科"}
    assert board.totals["responses"] == 30
    assert all(c["department"] == "骨科" for c in board.recent_comments)
    assert client.get(url(department=org["nk"].pk)).status_code == 404
    # A doctor of another department selected by hand yields nothing outside the scope.
    other = client.get(url(doctor=data["doctors"][1].pk)).context["board"]
    assert other.totals["responses"] == 0


def test_roles_without_the_permission_are_refused(login: Any, agent: Any, outsider: Any, data: dict[str, Any]) -> None:
    assert login(agent).get(url()).status_code == 403
    assert login(outsider).get(url()).status_code == 403


def test_query_count_does_not_grow_with_the_data(
    login: Any, supervisor: Any, data: dict[str, Any], django_assert_max_num_queries: Any,
) -> None:
    client = login(supervisor)
    client.get(url())  # warm caches (theme labels, sessions)
    with django_assert_max_num_queries(40) as small:
        client.get(url())
    n_small = len(small.captured_queries)
    statsdemo.generate(data["version"], responses=300, start=START, days=30, doctors=data["doctors"], seed=9)
    aggregates.rebuild_range(START, START + dt.timedelta(days=29))
    with django_assert_max_num_queries(n_small) as big:
        client.get(url())
    assert len(big.captured_queries) == n_small
    assert not any("questionnaires_answer" in q["sql"] for q in big.captured_queries)


def test_excel_export(login: Any, supervisor: Any, data: dict[str, Any]) -> None:
    resp = login(supervisor).get(reverse("surveys:stats_export") + "?start=2026-01-01&end=2026-01-31")
    assert resp.status_code == 200
    wb = load_workbook(io.BytesIO(b"".join(resp.streaming_content)))  # streamed from a temporary file
    assert {"概览", "维度", "月趋势", "科室排名", "医生排名", "题目分布", "主题", "关键词"} <= set(wb.sheetnames)
    rows = list(wb["科室排名"].iter_rows(values_only=True))
    assert rows[0][:3] == ("名次", "科室", "答卷数") and sum(r[2] for r in rows[1:]) == 60
    assert AuditEvent.objects.filter(verb="surveys.stats_exported").exists()


def test_command_rebuilds_a_range(data: dict[str, Any]) -> None:
    DailyResponseStat.objects.all().delete()
    CommentInsight.objects.all().delete()
    out = io.StringIO()
    call_command("surveys_aggregate", "--from", "2026-01-01", "--to", "2026-01-31", stdout=out)
    assert "60 responses" in out.getvalue()
    assert DailyResponseStat.objects.filter(grain="M").exists()
