"""HL7 ADT throughput over one MLLP connection, waiting for each ACK (limit: >= 300 messages/s on SQLite).

Usage: .venv/bin/python bench/hl7_throughput.py [--messages 3000]
Uses a throw-away SQLite database under a temp directory (the production settings: WAL,
synchronous=NORMAL) with DEBUG off (DEBUG on logs every SQL statement, ~30 % slower) and throw-away
keys; prints msgs/s and the ratio to 300/s.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DEBUG", "0")
os.environ.setdefault("SECRET_KEY", base64.b64encode(os.urandom(40)).decode())
os.environ.setdefault("FIELD_ENCRYPTION_KEY", base64.b64encode(os.urandom(32)).decode())
os.environ.setdefault("LOG_LEVEL", "WARNING")
os.environ["DATA_DIR"] = tempfile.mkdtemp(prefix="caredesk-hl7bench-")
os.environ.pop("DATABASE_URL", None)
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()
from django.core.management import call_command  # noqa: E402
from django.utils import timezone  # noqa: E402

from caredesk.intake.hl7_server import END, frame, serve  # noqa: E402

LIMIT = 300.0


def message(i: int, stamp: str) -> str:
    """A live feed's mix, as of ``stamp``: per four messages an admission, an outpatient
    registration, the discharge of the admission two messages back, and another registration."""
    kind = ("A01", "A04", "A03", "A04")[i % 4]
    visit = i - 2 if kind == "A03" else i
    klass = "O" if kind == "A04" else "I"
    person = visit % 2000
    discharge = "|" * 26 + stamp if kind == "A03" else ""
    return "\r".join([
        f"MSH|^~\\&|HIS|BENCH|CAREDESK|KFZX|{stamp}||ADT^{kind}^ADT_{kind}|B{i}|P|2.5",
        f"EVN|{kind}|{stamp}",
        f"PID|1||P{person:06d}^^^BENCH^MR||王^{person}||19800101|M|||||138{person:08d}",
        f"PV1|1|{klass}|WK-GK||||D1^刘^医生||||||||||||VB{visit}{discharge}",
    ])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=3000)
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    from caredesk.accounts.models import Department, Doctor
    from caredesk.questionnaires.models import Questionnaire
    from caredesk.surveys.models import SurveyRule

    dept = Department.objects.create(code="WK-GK", name="骨科")
    Doctor.objects.create(name="医生 刘", staff_no="D1", department=dept)  # PV1-7 "D1^刘^医生" reads so
    # a configured hospital: the shipped follow-up plans (created by migrate) and two survey rules
    for name, trigger, code in (("门诊次日", "outpatient_visit", "survey-outpatient"), ("出院三天", "discharge", "survey-inpatient")):
        SurveyRule.objects.create(name=name, trigger=trigger, offset_days=1, questionnaire=Questionnaire.objects.get(code=code))
    stamp = timezone.localtime().strftime("%Y%m%d%H%M%S")
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    ready = threading.Event()

    async def run() -> None:
        event = asyncio.Event()
        task = asyncio.ensure_future(serve("127.0.0.1", port, event))
        await event.wait()
        ready.set()
        await task

    threading.Thread(target=lambda: asyncio.run(run()), daemon=True).start()
    ready.wait(10)
    conn = socket.create_connection(("127.0.0.1", port))
    buffer = b""
    start, cpu = time.perf_counter(), time.process_time()
    for i in range(args.messages):
        conn.sendall(frame(message(i, stamp)))
        while END not in buffer:
            buffer += conn.recv(65536)
        ack, buffer = buffer.split(END, 1)
        if b"MSA|AA" not in ack:
            raise SystemExit(f"message {i} not accepted")
    conn.close()  # the listener plans what is still waiting when the sender hangs up
    from caredesk.followups.models import FollowupTask
    from caredesk.surveys.models import Invitation

    def planned() -> tuple[int, int]:
        return FollowupTask.objects.count(), Invitation.objects.count()

    counts, settled = planned(), time.perf_counter()
    while time.perf_counter() - settled < 0.5:  # until planning has been quiet for half a second
        time.sleep(0.05)
        if (now := planned()) != counts:
            counts, settled = now, time.perf_counter()
    elapsed = settled - start
    cpu_ms = (time.process_time() - cpu) * 1000 / args.messages
    rate = args.messages / elapsed
    print(f"planned: {counts[0]} follow-up tasks, {counts[1]} survey invitations (included in the time)")
    print(f"hl7: {args.messages} ADT messages over one MLLP connection in {elapsed:.1f} s = {rate:.0f} msg/s "
          f"(limit {LIMIT:.0f} msg/s; ratio {rate / LIMIT:.2f}x the limit); CPU {cpu_ms:.2f} ms/msg for client + "
          f"listener = {1000 / cpu_ms:.0f} msg/s on one free core; load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
