"""What the name-suffix triggers (patients migration 0005) cost a bulk insert of patients: N rows
with ``Patient.objects.bulk_create`` or the feeds' ``fastsql.insert_many`` (batches of 1,000, one
transaction each) with the triggers and with them dropped, alternately, in a scratch database.

    .venv/bin/python bench/name_suffix_trigger_cost.py [--rows 100000] [--rounds 2] [--writer bulk_create|insert_many]
        [--db var/bench_trigger.sqlite3 | --database-url postgres://postgres@127.0.0.1:5432/caredesk_bench_trigger]

Reports wall time and CPU (this process; on PostgreSQL also the server backend's CPU, read from
/proc) per run. The database is emptied between runs and left without patients."""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _backend_cpu(pid: int | None) -> float:
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--db", default=str(ROOT / "var" / "bench_trigger.sqlite3"))
    parser.add_argument("--database-url")
    parser.add_argument("--writer", choices=["bulk_create", "insert_many"], default="bulk_create",
                        help="Django's bulk_create, or the feeds' multi-row INSERT (caredesk.patients.fastsql)")
    args = parser.parse_args()
    if args.database_url:
        os.environ["DATABASE_URL"] = args.database_url
    else:
        Path(args.db).unlink(missing_ok=True)
        os.environ["DATABASE_URL"] = f"sqlite:///{args.db}"
    os.environ.setdefault("DEBUG", "1")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction

    from caredesk.accounts.demo import SURNAMES
    from caredesk.patients import fastsql
    from caredesk.patients.demo import GIVEN_CHARS
    from caredesk.patients.models import Patient, PatientNameSuffix

    migration = __import__("caredesk.patients.migrations.0005_name_suffix_search", fromlist=["x"])
    call_command("migrate", verbosity=0)
    pg = connection.vendor == "postgresql"
    with connection.cursor() as cur:
        cur.execute("SELECT pg_backend_pid()" if pg else "SELECT 1")
        backend = cur.fetchone()[0] if pg else None
    rng = random.Random(5)
    names = [rng.choice(SURNAMES) + rng.choice(GIVEN_CHARS) + (rng.choice(GIVEN_CHARS) if rng.random() < 0.75 else "")
             for _ in range(args.rows)]

    def set_triggers(on: bool) -> None:
        # the CREATE TRIGGER statements of the migration (PostgreSQL: its function stays)
        create = migration.POSTGRES_FORWARD[3:] if pg else migration.SQLITE_FORWARD[1:]
        drop = migration.POSTGRES_BACKWARD[:3] if pg else migration.SQLITE_BACKWARD
        with connection.cursor() as cur:
            for sql in drop + (create if on else []):
                cur.execute(sql)

    def empty() -> None:
        with connection.cursor() as cur:
            cur.execute("DELETE FROM patients_patientnamesuffix")
            cur.execute("DELETE FROM patients_patient")
            cur.execute("VACUUM" if not pg else "VACUUM patients_patient")

    def run(on: bool) -> None:
        set_triggers(on)
        empty()
        objs = [fastsql.new_instance(Patient, name=n, name_pinyin="x", name_initials="x", outpatient_no=f"T{i}")
                for i, n in enumerate(names)]
        write = Patient.objects.bulk_create if args.writer == "bulk_create" else fastsql.insert_many
        t0, c0, b0 = time.perf_counter(), time.process_time(), _backend_cpu(backend)
        for start in range(0, len(objs), 1000):
            with transaction.atomic():
                write(objs[start:start + 1000])
        wall, cpu, server = time.perf_counter() - t0, time.process_time() - c0, _backend_cpu(backend) - b0
        suffixes = PatientNameSuffix.objects.count()
        print(f"{'with   ' if on else 'without'} triggers: {len(objs):,} rows in {wall:6.2f} s wall, CPU {cpu:5.2f} s"
              f"{f' + server {server:5.2f} s' if pg else ''}, {suffixes:,} suffix rows"
              f" ({len(objs) / wall:,.0f} rows/s)", flush=True)

    print(f"{connection.vendor}, {args.writer}, load average {' '.join(Path('/proc/loadavg').read_text().split()[:3])}")
    try:
        for _ in range(args.rounds):
            run(False)
            run(True)
    finally:
        set_triggers(True)
        empty()
    print(f"load average {' '.join(Path('/proc/loadavg').read_text().split()[:3])}")


if __name__ == "__main__":
    main()
