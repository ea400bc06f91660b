"""Survey statistics at scale: N responses × 20 items over one year, the nightly aggregation, and the
dashboard's p95 over repeated requests.

    DATABASE_URL=sqlite:////tmp/surveys-bench.sqlite3 .venv/bin/python bench/surveys_dashboard.py [N] [--no-rebuild]
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/caredesk_bench .venv/bin/python bench/surveys_dashboard.py [N]

Responses and answers are written set-based (``statsdemo.generate_sql``: INSERT … SELECT from a
counter, answers as responses × items); every 20th response has a comment. A re-run with the same N
reuses the data and rebuilds the statistics. The limit: dashboard p95 < 1 s.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import statistics
import sys
import time

import django

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DEBUG", "1")
django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.urls import reverse  # noqa: E402
from django.utils import timezone  # noqa: E402

from caredesk.accounts.models import Department, Doctor, User  # noqa: E402
from caredesk.questionnaires.models import Answer, Response  # noqa: E402
from caredesk.surveys import aggregates, statsdemo  # noqa: E402

LIMIT_SECONDS = 1.0
REPEATS = 20
DEPARTMENTS = 20
DOCTORS_PER_DEPARTMENT = 8


def setup_org() -> None:
    if Department.objects.filter(code__startswith="BENCH-").count() >= DEPARTMENTS:
        return
    names = ["心内科", "呼吸科", "消化科", "神经内科", "肾内科", "内分泌科", "普外科", "骨科", "泌尿外科", "神经外科",
             "妇科", "产科", "儿科", "眼科", "耳鼻喉科", "口腔科", "皮肤科", "中医科", "康复科", "急诊科"]
    for i, name in enumerate(names[:DEPARTMENTS]):
        dept = Department.objects.create(code=f"BENCH-{i:02d}", name=name, sort_order=i)
        Doctor.objects.bulk_create([
            Doctor(name=f"{name[:1]}医生{j}", department=dept, staff_no=f"BENCH-{i:02d}-{j}") for j in range(DOCTORS_PER_DEPARTMENT)
        ])


def user() -> User:
    from caredesk.accounts.actions import create_staff

    existing = User.objects.filter(username="bench-supervisor").first()
    if existing:
        return existing
    return create_staff(username="bench-supervisor", password="Bench-pass-2026!x", display_name="压测主管",  # noqa: S106
                        roles=["supervisor"], departments=[Department.objects.filter(code__startswith="BENCH-").first()],
                        acting_user=None)


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, round(0.95 * len(ordered)) - 1)]


def main(n: int, rebuild: bool) -> None:
    from django.conf import settings

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    call_command("migrate", verbosity=0)
    setup_org()
    version = statsdemo.demo_version()
    today = timezone.localdate()
    start = today - dt.timedelta(days=364)
    have = Response.objects.filter(version=version).count()
    if have != n:
        t = time.perf_counter()
        Answer.objects.filter(response__version=version).delete()
        Response.objects.filter(version=version).delete()
        statsdemo.generate_sql(version, responses=n, start=start, days=365)
        if connection.vendor == "postgresql":
            with connection.cursor() as cur:
                cur.execute("ANALYZE")
        print(f"generate {n:,} responses × 20 items ({Answer.objects.count():,} answers): {time.perf_counter() - t:.1f} s")
    if rebuild:
        t = time.perf_counter()
        totals = aggregates.rebuild_range(start, today)
        print(f"aggregate 365 days: {time.perf_counter() - t:.1f} s ({totals.get('responses', 0):,} responses,"
              f" {totals.get('comments', 0):,} comments analysed)")
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("ANALYZE")

    client = Client()
    client.force_login(user())
    dept = Department.objects.filter(code__startswith="BENCH-").order_by("code").first()
    doctor = Doctor.objects.filter(department=dept).first()
    if dept is None or doctor is None:
        raise SystemExit("no bench departments")
    url = reverse("surveys:stats")
    cases = {
        "default (last 12 months, all)": "",
        "one department": f"?department={dept.pk}",
        "one doctor": f"?doctor={doctor.pk}",
        "custom period, channel": f"?start={start + dt.timedelta(days=40)}&end={today - dt.timedelta(days=17)}&channel=qr",
    }
    worst = 0.0
    for label, query in cases.items():
        timings = []
        for _i in range(REPEATS):
            with CaptureQueriesContext(connection) as ctx:
                t = time.perf_counter()
                resp = client.get(url + query)
                timings.append(time.perf_counter() - t)
            if resp.status_code != 200:
                raise SystemExit(f"dashboard answered {resp.status_code}")
        shown = re.search(r'id="fig-responses">([^<]*)<', resp.content.decode())
        responses = shown.group(1) if shown else "?"
        p = p95(timings)
        worst = max(worst, p)
        print(f"dashboard {label}: p95 {p * 1000:.0f} ms, median {statistics.median(timings) * 1000:.0f} ms,"
              f" {len(ctx.captured_queries)} queries, {responses} responses shown")
    print(f"worst p95 {worst * 1000:.0f} ms; limit {LIMIT_SECONDS * 1000:.0f} ms; ratio {worst / LIMIT_SECONDS:.2f} ({connection.vendor})")


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    main(int(args[0]) if args else 1_000_000, rebuild="--no-rebuild" not in sys.argv)
