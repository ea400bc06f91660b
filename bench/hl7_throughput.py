"""HL7 ADT throughput over one MLLP connection, waiting for each ACK (limit: >= 300 messages/s on SQLite).

Usage: DEBUG=1 .venv/bin/python bench/hl7_throughput.py [--messages 3000]
Uses a throw-away SQLite database under a temp directory; prints msgs/s and the ratio to 300/s.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DEBUG", "1")
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
    start = time.perf_counter()
    for i in range(args.messages):
        conn.sendall(frame(message(i)))
        while END not in buffer:
            buffer += conn.recv(65536)
        ack, buffer = buffer.split(END, 1)
        if b"MSA|AA" not in ack:
            raise SystemExit(f"message {i} not accepted")
    elapsed = time.perf_counter() - start
    rate = args.messages / elapsed
    print(f"hl7: {args.messages} ADT messages over one MLLP connection in {elapsed:.1f} s = {rate:.0f} msg/s "
          f"(limit {LIMIT:.0f} msg/s; ratio {rate / LIMIT:.2f}x the limit)")


if __name__ == "__main__":
    main()
