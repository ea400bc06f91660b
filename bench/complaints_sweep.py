"""Complaints benchmark on SQLite: bulk-creates N open complaints (default 100,000) with their three
deadlines each (first response, statement, answer) in var/bench_complaints.sqlite3, then measures

1. the deadline sweep over them (limit 5 s): a steady-state run an hour after the previous one,
   the re-run that must change nothing, and (reported, no limit) a catch-up burst after two days
   of downtime;
2. the complaint list page with filters (limit p95 150 ms) and the API list, as server time
   through Django's test client for a supervisor who sees every department.

    .venv/bin/python bench/complaints_sweep.py [--complaints N] [--samples 30] [--reuse]

Data is synthetic; the database file is separate from the development one.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DB = ROOT / "var" / "bench_complaints.sqlite3"
T0 = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)  # Mon 2 Nov 2026 09:00 in Shanghai
SWEEP_LIMIT = 5.0
LIST_LIMIT_MS = 150.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--complaints", type=int, default=100_000)
    parser.add_argument("--samples", type=int, default=30)
    parser.add_argument("--reuse", action="store_true", help="keep an existing database (list figures only change)")
    args = parser.parse_args()
    DB.parent.mkdir(exist_ok=True)
    if not args.reuse:
        for suffix in ("", "-wal", "-shm"):
            Path(str(DB) + suffix).unlink(missing_ok=True)
    os.environ["DATABASE_URL"] = f"sqlite:///{DB}"
    # Production-like: DEBUG off (cached templates); CAREDESK_TESTING only allows the development
    # keys and the plain static storage, so no secrets or collectstatic are needed.
    os.environ["DEBUG"] = "0"
    os.environ["CAREDESK_TESTING"] = "1"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ["CELERY_TASK_ALWAYS_EAGER"] = "0"
    os.environ["ALLOWED_HOSTS"] = "testserver,localhost"
    import django

    django.setup()
    import logging

    logging.disable(logging.INFO)
    from django.core.management import call_command
    from django.db import connection

    from caredesk.accounts.demo import seed_organisation
    from caredesk.complaints.models import Complaint

    call_command("migrate", verbosity=0)
    seed_organisation()
    have = Complaint.objects.count()
    if have < args.complaints:
        t0 = time.perf_counter()
        build(have, args.complaints)
        print(f"created {args.complaints - have} complaints (+{3 * (args.complaints - have)} deadlines) "
              f"in {time.perf_counter() - t0:.0f} s")
    with connection.cursor() as cur:
        cur.execute("ANALYZE")
    if not args.reuse:
        bench_sweep(args.complaints)
    bench_list(args.complaints, args.samples)


def build(start: int, total: int) -> None:
    from caredesk.accounts.models import Department, User
    from caredesk.complaints.models import Category, Channel, Complaint, ComplaintDeadline, Severity
    from caredesk.core import pii

    rng = random.Random(11)
    departments = list(Department.objects.filter(kind="clinical").values_list("pk", flat=True))
    owners = list(User.objects.filter(groups__name="agent").values_list("pk", flat=True)) or [None]
    words = ["态度生硬", "候诊时间太长", "多收了检查费", "术后换药不及时", "预约挂号系统出错", "病房卫生差",
             "解释病情不耐烦", "退费手续繁琐", "停车位不够", "护士打针不熟练"]
    cats = list(Category.values)
    chans = list(Channel.values)
    sevs = [Severity.GENERAL] * 8 + [Severity.SERIOUS, Severity.MAJOR]
    statuses = ["registered", "accepted", "verifying", "resolving", "feedback"]
    span = timedelta(days=10).total_seconds()
    batch_c: list[Complaint] = []
    for n in range(start, total):
        text = f"{rng.choice(words)}，{rng.choice(words)}。编号{n}"
        received = T0 - timedelta(seconds=rng.randrange(0, 30 * 86400))
        phone = f"139{n:08d}"
        batch_c.append(Complaint(
            case_no=f"TS{202610 + n // 10000}{n % 10000:04d}", channel=rng.choice(chans), status=rng.choice(statuses),
            complainant_name="测试" + "甲乙丙丁"[n % 4], complainant_phone=phone,
            complainant_phone_bidx=pii.blind_index("phone", phone), department_id=rng.choice(departments),
            summary=text[:120], content=text, category=rng.choice(cats), severity=rng.choice(sevs),
            owner_id=rng.choice(owners), registered_by_id=rng.choice(owners), received_at=received,
        ))
        if len(batch_c) == 5000:
            _flush(batch_c, rng, span, ComplaintDeadline)
            batch_c = []
    if batch_c:
        _flush(batch_c, rng, span, ComplaintDeadline)


def _flush(batch: list, rng: random.Random, span: float, deadline_model: type) -> None:
    from django.db import transaction

    from caredesk.complaints.models import Complaint

    with transaction.atomic():
        Complaint.objects.bulk_create(batch, batch_size=1000)
        ids = dict(Complaint.objects.filter(case_no__in=[c.case_no for c in batch]).values_list("case_no", "pk"))
        rows = []
        for c in batch:
            for kind in ("first_response", "statement", "reply"):
                due = T0 + timedelta(seconds=rng.random() * span)  # due over the next ten days
                rows.append(deadline_model(complaint_id=ids[c.case_no], kind=kind, due_at=due, original_due_at=due,
                                           remind_at=due - timedelta(hours=4)))
        deadline_model.objects.bulk_create(rows, batch_size=2000)
        # the list columns, as the actions keep them
        Complaint.objects.filter(pk__in=list(ids.values())).update(next_due_at=T0 + timedelta(days=1))


def _timed_sweep(now: datetime) -> tuple[float, dict[str, int]]:
    from caredesk.complaints import sweep

    t = time.perf_counter()
    counts = sweep.sweep(now=now)
    return time.perf_counter() - t, counts


def bench_sweep(n: int) -> None:
    from caredesk.complaints.models import ComplaintDeadline

    open_rows = ComplaintDeadline.objects.open().count()
    print(f"\n== deadline sweep over {n} open complaints ({open_rows} open deadlines)")
    _timed_sweep(T0)  # the reminders already due when the data was loaded (first run after an import)
    rows = []
    for label, now in (
        ("steady state: one hour after the previous run", T0 + timedelta(hours=1)),
        ("re-run at the same moment (must change nothing)", T0 + timedelta(hours=1)),
        ("one minute later", T0 + timedelta(hours=1, minutes=1)),
    ):
        secs, counts = _timed_sweep(now)
        rows.append((label, secs, counts))
        print(f"{label}: {secs:.3f} s  {counts}  ratio to the {SWEEP_LIMIT:.0f} s limit: {secs / SWEEP_LIMIT:.3f}")
    if rows[1][2] != {"reminded": 0, "breached": 0, "notifications": 0}:
        raise SystemExit("the re-run changed something: the sweep is not idempotent")
    secs, counts = _timed_sweep(T0 + timedelta(days=2))
    print(f"catch-up after two days of downtime (no limit): {secs:.2f} s  {counts}")


def bench_list(n: int, samples: int) -> None:
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from caredesk.accounts.models import Department

    user = get_user_model().objects.get(username="supervisor")
    client = Client()
    client.force_login(user)
    dept = Department.objects.get(code="WK-GK").pk
    cases = [
        ("no filter", {}),
        ("status", {"status": "verifying"}),
        ("category + severity", {"category": "fees", "severity": "major"}),
        ("department", {"department": dept}),
        ("overdue", {"overdue": "on"}),
        ("date range + channel", {"start": "2026-10-20", "end": "2026-10-25", "channel": "phone"}),
        ("text", {"q": "多收了检查费"}),
        ("case number", {"q": "TS2026104242"}),
        ("department + status, page 20", {"department": dept, "status": "accepted", "page": 20}),
    ]
    print(f"\n== complaint list, {n} complaints, p95 of {samples} requests (supervisor, all departments)")
    worst = 0.0
    for label, params in [*cases, ("API list, category", {"_api": 1, "category": "process"})]:
        url = "/api/v1/complaints" if params.pop("_api", None) else "/complaints/"
        client.get(url, params)  # warm
        times = []
        for _ in range(samples):
            t = time.perf_counter()
            response = client.get(url, params)
            times.append((time.perf_counter() - t) * 1000)
            if response.status_code != 200:
                raise SystemExit(f"{url} answered {response.status_code}")
        with CaptureQueriesContext(connection) as q:
            client.get(url, params)
        p95 = statistics.quantiles(times, n=20)[18]
        worst = max(worst, p95)
        print(f"{label:<34} p95 {p95:7.1f} ms  median {statistics.median(times):6.1f} ms  queries {len(q)}")
    print(f"worst p95 {worst:.1f} ms, ratio to the {LIST_LIMIT_MS:.0f} ms limit: {worst / LIST_LIMIT_MS:.2f}")


if __name__ == "__main__":
    main()
