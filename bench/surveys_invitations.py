"""Benchmark: satisfaction-survey invitations for N outpatient visits, end to end through the outbox
(issue 6, Performance: 10,000 visits in < 60 s, no duplicates after a worker is killed).

    DEBUG=1 .venv/bin/python bench/surveys_invitations.py [--visits 10000] [--kill-test] [--json]

A fresh database (SQLite file in a temporary directory; PostgreSQL <name>_bench when DATABASE_URL
is postgres://…) gets N patients with one outpatient visit each yesterday (setup, not timed). Timed:
planning the invitations (``create_missing``: eligibility, fatigue, tokens), sending
(``send_due``: enqueue with an idempotency key per invitation, mark sent) and delivering every
message through the outbox to the file transport (Celery eager, as a worker would).

``--kill-test`` starts ``manage.py surveys_send`` in a subprocess, kills it (SIGKILL) once part of
the messages are queued, re-runs it, and checks: one outbox message per invitation, one invitation
per visit, every sent invitation has its message, and counts transport deliveries per message.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
LIMIT_SECONDS = 60.0


def _env(workdir: Path) -> dict[str, str]:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "DATA_DIR": str(workdir),
           "CELERY_TASK_ALWAYS_EAGER": "1", "LOG_LEVEL": "WARNING"}
    env.setdefault("DEBUG", "1")
    url = os.environ.get("DATABASE_URL", "")
    if url.startswith("postgres"):
        env["DATABASE_URL"] = url.rsplit("/", 1)[0] + "/" + url.rsplit("/", 1)[1].split("?")[0] + "_bench"
    else:
        env["DATABASE_URL"] = f"sqlite:///{workdir / 'bench.sqlite3'}"
    return env


def _prepare_postgres(env: dict[str, str]) -> None:
    if not env["DATABASE_URL"].startswith("postgres"):
        return
    import psycopg

    admin_url, name = env["DATABASE_URL"].rsplit("/", 1)
    with psycopg.connect(admin_url + "/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')


def child_setup(visits: int) -> None:
    """Migrate, then create the questionnaire, a rule, and N patients with a visit yesterday."""
    import django

    django.setup()
    from django.core.management import call_command
    from django.utils import timezone

    call_command("migrate", verbosity=0)
    from caredesk.accounts.models import Department
    from caredesk.core import pii
    from caredesk.patients.models import Encounter, Patient
    from caredesk.questionnaires.actions import create_from_spec
    from caredesk.surveys.models import SurveyRule

    version = create_from_spec({
        "code": "bench-survey", "title": "门诊满意度", "purpose": "survey",
        "sections": [{"title": "评价", "items": [
            {"link_id": "attitude", "text": "服务态度", "kind": "rating", "required": True, "dimension": "attitude"},
            {"link_id": "recommend", "text": "推荐意愿", "kind": "recommend", "required": True}]}],
    })
    depts = [Department.objects.create(code=f"D{i}", name=f"科室{i}") for i in range(10)]
    SurveyRule.objects.create(name="门诊次日", trigger="outpatient_visit", offset_days=1, questionnaire=version.questionnaire)
    yesterday = timezone.now() - timedelta(days=1)
    patients = []
    for i in range(visits):
        mobile = f"139{i:08d}"
        p = Patient(name=f"患者{i}", mobile=mobile, mobile_bidx=pii.blind_index("phone", mobile), mobile_last4=mobile[-4:])
        patients.append(p)
    Patient.objects.bulk_create(patients, batch_size=1000)
    ids = list(Patient.objects.order_by("pk").values_list("pk", flat=True))
    Encounter.objects.bulk_create([
        Encounter(patient_id=pid, kind="outpatient", source_system="HIS", source_id=f"B{n}", department=depts[n % 10],
                  visit_at=yesterday, status="active")
        for n, pid in enumerate(ids)
    ], batch_size=1000)


def child_run() -> dict[str, Any]:
    import django

    django.setup()
    from django.utils import timezone

    from caredesk.messaging import outbox
    from caredesk.messaging.models import OutboxMessage
    from caredesk.surveys import distribution

    today = timezone.localdate()
    send_at = timezone.now() + timedelta(days=1)  # everything planned for today 10:00 is due
    c0 = time.process_time()
    t0 = time.perf_counter()
    planned = distribution.create_missing(today)
    t1 = time.perf_counter()
    sent = distribution.send_due(now=send_at)
    t2 = time.perf_counter()
    swept = outbox.sweep(max_batches=10_000)  # anything the eager fast path left queued
    t3 = time.perf_counter()
    cpu = time.process_time() - c0
    delivered = OutboxMessage.objects.filter(status="sent").count()
    return {"planned": planned, "sent": sent.get("sent", 0), "delivered": delivered, "swept": swept,
            "plan_s": round(t1 - t0, 2), "send_and_deliver_s": round(t2 - t1, 2), "sweep_s": round(t3 - t2, 2),
            "total_s": round(t3 - t0, 2), "cpu_s": round(cpu, 2), "load_avg_1m": round(os.getloadavg()[0], 1)}


def check(env: dict[str, str]) -> dict[str, Any]:
    """Duplicates and consistency, read with plain SQL (no Django start-up)."""
    invitations = _sql(env, "SELECT id, status FROM surveys_invitation")
    sent_ids = {row[0] for row in invitations if row[1] == "sent"}
    related = [int(r[0]) for r in _sql(env, "SELECT related_id FROM messaging_outboxmessage WHERE template = 'survey.invitation'")]
    msg_ids = set(related)
    per_visit = _sql(env, "SELECT rule_id, encounter_id FROM surveys_invitation GROUP BY rule_id, encounter_id HAVING count(*) > 1")
    return {"invitations": len(invitations), "sent": len(sent_ids), "messages": len(related),
            "duplicate_messages": len(related) - len(msg_ids), "duplicate_invitations": len(per_visit),
            "sent_without_message": len(sent_ids - msg_ids), "message_without_sent": len(msg_ids - sent_ids),
            "pending": sum(1 for row in invitations if row[1] == "pending")}


def _deliveries(workdir: Path) -> dict[str, int]:
    keys: dict[str, int] = {}
    for path in (workdir / "outbox").glob("*.jsonl"):
        for line in path.read_text(encoding="utf-8").splitlines():
            key = json.loads(line)["idempotency_key"]
            keys[key] = keys.get(key, 0) + 1
    return {"delivery_lines": sum(keys.values()), "keys_delivered_twice": sum(1 for n in keys.values() if n > 1)}


def _child(env: dict[str, str], *args: str) -> Any:
    out = subprocess.run([sys.executable, __file__, *args], env=env, check=True, capture_output=True, text=True)  # noqa: S603
    return json.loads(out.stdout.strip().splitlines()[-1]) if out.stdout.strip() else None


def _sql(env: dict[str, str], sql: str) -> list[tuple[Any, ...]]:
    url = env["DATABASE_URL"]
    if url.startswith("sqlite"):
        import sqlite3

        with sqlite3.connect(url.removeprefix("sqlite:///"), timeout=30) as conn:
            return list(conn.execute(sql).fetchall())
    import psycopg

    with psycopg.connect(url) as conn:
        return list(conn.execute(sql).fetchall())  # type: ignore[arg-type]


def _queued(env: dict[str, str]) -> int:
    try:
        return int(_sql(env, "SELECT count(*) FROM messaging_outboxmessage")[0][0])
    except Exception:  # the table is busy or not there yet
        return 0


def kill_test(env: dict[str, str], workdir: Path, visits: int) -> dict[str, Any]:
    cmd = [sys.executable, str(ROOT / "manage.py"), "surveys_send", "--no-plan", "--no-reminders", "--batch", "100",
           "--date", (datetime.now() + timedelta(days=1)).date().isoformat()]  # noqa: DTZ005 - a local date is wanted
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # noqa: S603
    target = max(visits // 3, 1)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None and _queued(env) < target:
        time.sleep(0.05)
    killed_at = _queued(env)
    finished_before_kill = proc.poll() is not None
    if not finished_before_kill:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    before = check(env)
    subprocess.run(cmd, env=env, cwd=ROOT, check=True, capture_output=True)  # noqa: S603
    after = check(env)
    return {"killed_with_messages": killed_at, "finished_before_kill": finished_before_kill, "before_rerun": before,
            "after_rerun": after, **_deliveries(workdir)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--visits", type=int, default=10_000)
    parser.add_argument("--kill-test", action="store_true")
    parser.add_argument("--json", action="store_true", help="print one JSON line (for the test suite)")
    parser.add_argument("--child", nargs="+")
    args = parser.parse_args()
    if args.child:
        os.chdir(ROOT)
        if args.child[0] == "setup":
            child_setup(int(args.child[1]))
        elif args.child[0] == "plan":  # setup, then plan the invitations (the kill test sends only)
            child_setup(int(args.child[1]))
            from django.utils import timezone

            from caredesk.surveys import distribution

            print(json.dumps({"planned": distribution.create_missing(timezone.localdate())}))
        elif args.child[0] == "run":
            print(json.dumps(child_run()))
        return
    with tempfile.TemporaryDirectory(prefix="caredesk-surveys-bench-") as tmp:
        workdir = Path(tmp)
        env = _env(workdir)
        _prepare_postgres(env)
        t = time.perf_counter()
        step = "plan" if args.kill_test else "setup"
        subprocess.run([sys.executable, __file__, "--child", step, str(args.visits)], env=env, check=True,  # noqa: S603
                       stdout=subprocess.DEVNULL)
        setup_s = time.perf_counter() - t
        vendor = "postgresql" if env["DATABASE_URL"].startswith("postgres") else "sqlite"
        if args.kill_test:
            result = kill_test(env, workdir, args.visits)
            result.update({"visits": args.visits, "db": vendor})
        else:
            result = _child(env, "--child", "run")
            result.update({"visits": args.visits, "db": vendor, "setup_s": round(setup_s, 1),
                           "ratio_to_limit": round(result["total_s"] / LIMIT_SECONDS, 3),
                           "cpu_ratio_to_limit": round(result["cpu_s"] / LIMIT_SECONDS, 3),
                           "per_second": round(args.visits / max(result["total_s"], 1e-9))})
            result["check"] = check(env)
            result.update(_deliveries(workdir))
    if args.json:
        print(json.dumps(result))
        return
    for key, value in result.items():
        print(f"{key:>24}: {value}")
    if not args.kill_test:
        print(f"\n{args.visits} visits → {result['sent']} SMS through the outbox in {result['total_s']} s "
              f"(limit {LIMIT_SECONDS:.0f} s, ratio {result['ratio_to_limit']})")


if __name__ == "__main__":
    main()
