"""Benchmark of the agent's work queue page (issue 4, Performance: 200 tasks, p95 < 150 ms).

    .venv/bin/python bench/followups_queue.py [--tasks 200] [--others 20000] [--samples 60]

A fresh SQLite database (or DATABASE_URL when it points at an empty PostgreSQL database) holds one
agent with ``--tasks`` open tasks due today or overdue, and ``--others`` tasks of other agents and
other days. The page ``/followups/`` is requested through Django's test client (server time, no
network) after one warm-up; prints p50/p95, the query count and the ratio of p95 to the limit.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
LIMIT_MS = 150.0


def populate(mine: int, others: int) -> object:
    from django.db import transaction
    from django.utils import timezone

    from caredesk.accounts.models import Department, User
    from caredesk.followups.models import FollowupPlan, FollowupTask, PlanTemplate
    from caredesk.patients.models import Patient

    dept = Department.objects.get_or_create(code="BQ", defaults={"name": "骨科"})[0]
    agent = User.objects.create_user("bench_agent", password="x", display_name="小王")  # noqa: S106 - bench only
    other = User.objects.create_user("bench_other", password="x", display_name="小李")  # noqa: S106 - bench only
    from django.contrib.auth.models import Group

    agent.groups.add(Group.objects.get(name="agent"))
    agent.departments.add(dept)
    template = PlanTemplate.objects.get(code="discharge") if PlanTemplate.objects.filter(code="discharge").exists() \
        else PlanTemplate.objects.first()
    today = timezone.localdate()
    total = mine + others
    with transaction.atomic():
        patients = Patient.objects.bulk_create(
            [Patient(name=f"患者{i}", name_pinyin=f"huanzhe{i}") for i in range(total)], batch_size=2000
        )
        if patients[0].pk is None:
            patients = list(Patient.objects.order_by("pk"))
        plans = FollowupPlan.objects.bulk_create([
            FollowupPlan(template=template, patient=p, source_key=f"bench:{p.pk}", trigger_date=today - timedelta(days=7),
                         department=dept)
            for p in patients
        ], batch_size=2000)
        if plans[0].pk is None:
            plans = list(FollowupPlan.objects.order_by("pk"))
        tasks = []
        for i, (p, plan) in enumerate(zip(patients, plans, strict=True)):
            is_mine = i < mine
            tasks.append(FollowupTask(
                plan=plan, step_key="1", patient=p, department=dept,
                due_date=today - timedelta(days=i % 3) if is_mine else today + timedelta(days=i % 60),
                channel="phone", status="assigned", priority=i % 7,
                assignee=agent if is_mine else other,
            ))
        FollowupTask.objects.bulk_create(tasks, batch_size=2000)
    return agent


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--others", type=int, default=20000)
    parser.add_argument("--samples", type=int, default=60)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="caredesk-queue-"))
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        os.environ["DATABASE_URL"] = f"sqlite:///{workdir / 'bench.sqlite3'}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("DEBUG", "1")  # development settings (no static manifest, no HTTPS redirect) …
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.setdefault("DATA_DIR", str(workdir))
    import django

    django.setup()
    from django.conf import settings

    settings.DEBUG = False  # … but no SQL query log: measure the work, not Django's debug bookkeeping
    settings.ALLOWED_HOSTS = ["testserver"]
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    call_command("migrate", verbosity=0)
    agent = populate(args.tasks, args.others)
    client = Client()
    client.force_login(agent)  # type: ignore[arg-type]
    response = client.get("/followups/")
    if response.status_code != 200:
        raise SystemExit(f"/followups/ answered {response.status_code}")
    queries: list[str] = []

    def count(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        queries.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        body = client.get("/followups/").content.decode()
    shown = body.count('<tr data-task=')
    times = []
    for _ in range(args.samples):
        start = time.perf_counter()
        client.get("/followups/")
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    p95 = times[int(len(times) * 0.95) - 1]
    load = os.getloadavg()[0]
    print(f"followups queue: {args.tasks} tasks of the agent, {args.others} others, {connection.vendor}: "
          f"p50 {statistics.median(times):.1f} ms, p95 {p95:.1f} ms (limit {LIMIT_MS:.0f} ms; ratio {p95 / LIMIT_MS:.2f}); "
          f"{len(queries)} queries; {shown} rows shown; load average {load:.1f}")


if __name__ == "__main__":
    main()
