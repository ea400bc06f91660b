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

from caredesk.intake.hl7_server import END, frame, serve  # noqa: E402

LIMIT = 300.0


def message(i: int) -> str:
    trigger = "A04" if i % 3 else "A01"
    klass = "O" if trigger == "A04" else "I"
    return "\r".join([
        f"MSH|^~\\&|HIS|BENCH|CAREDESK|KFZX|20260301100000||ADT^{trigger}^ADT_{trigger}|B{i}|P|2.5",
        f"EVN|{trigger}|20260301100000",
        f"PID|1||P{i % 2000:06d}^^^BENCH^MR||王^{i % 2000}||19800101|M",
        f"PV1|1|{klass}|WK-GK||||D1^刘^医生||||||||||||VB{i}",
    ])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=3000)
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    from caredesk.accounts.models import Department, Doctor

    dept = Department.objects.create(code="WK-GK", name="骨科")
    Doctor.objects.create(name="医生 刘", staff_no="D1", department=dept)  # PV1-7 "D1^刘^医生" reads so
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
        conn.sendall(frame(message(i)))
        while END not in buffer:
            buffer += conn.recv(65536)
        ack, buffer = buffer.split(END, 1)
        if b"MSA|AA" not in ack:
            raise SystemExit(f"message {i} not accepted")
    elapsed = time.perf_counter() - start
    cpu_ms = (time.process_time() - cpu) * 1000 / args.messages
    rate = args.messages / elapsed
    print(f"hl7: {args.messages} ADT messages over one MLLP connection in {elapsed:.1f} s = {rate:.0f} msg/s "
          f"(limit {LIMIT:.0f} msg/s; ratio {rate / LIMIT:.2f}x the limit); CPU {cpu_ms:.2f} ms/msg for client + "
          f"listener = {1000 / cpu_ms:.0f} msg/s on one free core; load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
