"""Benchmark of follow-up generation (issue 4, Performance).

    DEBUG=1 .venv/bin/python bench/followups_generate.py [--discharges 10000] [--db sqlite|postgres|both]

Creates N patients discharged on one day (direct bulk inserts, hooks not called: the sweep finds
them as a "missed" day), then times the daily sweep (``generate.sweep``) that starts their
出院随访 plans and creates every task (7 per discharge with the shipped template: +7, +21, +42,
+70 and three 3-monthly calls). Then it deletes the tasks and times a plain INSERT (executemany,
batches of 2,000, no conflict clause) of the same task rows as the baseline, and prints rows/s and the ratio. A second sweep
(everything already there) is timed too. Limits: ≤ 60 s on PostgreSQL, ≤ 120 s on SQLite.
PostgreSQL is used when DATABASE_URL points at it (use an empty database; it is migrated).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DAY = date(2026, 11, 20)


def populate(n: int) -> None:
    from django.db import transaction

    from caredesk.accounts.models import Department
    from caredesk.patients.models import Encounter, Patient

    depts = [Department.objects.get_or_create(code=f"B{i:02d}", defaults={"name": f"科室{i}"})[0] for i in range(12)]
    at = datetime(2026, 11, 20, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    with transaction.atomic():
        patients = Patient.objects.bulk_create(
            [Patient(name=f"患者{i}", name_pinyin=f"huanzhe{i}", inpatient_no=f"ZB{i:06d}") for i in range(n)], batch_size=2000,
        )
        if patients[0].pk is None:  # backends without RETURNING
            patients = list(Patient.objects.order_by("pk"))
        Encounter.objects.bulk_create([
            Encounter(patient=p, kind="inpatient", source_system="BENCH", source_id=f"S{i}", department=depts[i % len(depts)],
                      admitted_at=at, discharged_at=at, status="discharged", outcome="improved")
            for i, p in enumerate(patients)
        ], batch_size=2000)


def child(n: int) -> None:
    import django

    django.setup()
    from django.conf import settings

    settings.DEBUG = False  # no query log: measure the work, not Django's debug bookkeeping
    from django.core.management import call_command
    from django.db import connection, transaction

    from caredesk.followups import generate
    from caredesk.followups.models import FollowupPlan, FollowupTask

    call_command("migrate", verbosity=0)
    from caredesk.patients.models import Patient

    FollowupTask.objects.all().delete()
    FollowupPlan.objects.all().delete()
    Patient.objects.filter(encounters__source_system="BENCH").delete()  # a previous run's data
    populate(n)
    t = time.perf_counter()
    summary = generate.sweep(DAY, lookback_days=0)
    elapsed = time.perf_counter() - t
    rows = FollowupTask.objects.count()
    plans = FollowupPlan.objects.count()
    t = time.perf_counter()
    generate.sweep(DAY, lookback_days=0)
    rerun = time.perf_counter() - t
    if FollowupTask.objects.count() != rows:
        raise SystemExit("the re-run added rows")
    # baseline: the same task rows, one plain INSERT executemany in batches of 2,000, no conflict check
    copies = [generate.TaskRow(*values) for values in FollowupTask.objects.values_list(
        "plan_id", "step_id", "step_key", "patient_id", "encounter_id", "department_id", "due_date", "channel", "priority",
        "created_at")]
    FollowupTask.objects.all().delete()
    t = time.perf_counter()
    with transaction.atomic():
        generate.insert_tasks(copies, on_conflict=False)
    base = time.perf_counter() - t
    limit = 60 if connection.vendor == "postgresql" else 120
    print(f"[{connection.vendor}] discharges={n} plans={plans} tasks={rows} sweep={elapsed:.1f}s rows/s={rows / elapsed:,.0f} "
          f"(limit {limit}s, {elapsed / limit:.2f} of it) baseline INSERT={base:.1f}s ratio={elapsed / base:.1f}x "
          f"re-run={rerun:.1f}s skipped={summary['skipped']}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--discharges", type=int, default=10_000)
    ap.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    args = ap.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("DEBUG", "1")
    workdir = Path(tempfile.mkdtemp(prefix="bench-followups-"))
    print(f"machine: {os.cpu_count()} cores")
    targets = []
    if args.db in ("sqlite", "both"):
        targets.append({"DATABASE_URL": f"sqlite:///{workdir / 'bench.sqlite3'}"})
    if args.db in ("postgres", "both") and os.environ.get("DATABASE_URL", "").startswith("postgres"):
        targets.append({"DATABASE_URL": os.environ["DATABASE_URL"]})
    for env in targets:
        subprocess.run([sys.executable, __file__, "--child", str(args.discharges)], env={**os.environ, **env}, check=True)  # noqa: S603


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        child(int(sys.argv[2]))
    else:
        main()
