"""`make run`: web server, Celery worker and Celery beat in one terminal; Ctrl-C stops all three."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from caredesk.accounts.demo import DEMO_PASSWORD, DEMO_STAFF


class Command(BaseCommand):
    help = "Run the web server, a Celery worker and celery beat together (development and demos)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))

    def handle(self, *args: Any, **options: Any) -> None:
        (settings.DATA_DIR / "private").mkdir(parents=True, exist_ok=True)  # the broker's folders: core.apps
        py = sys.executable
        celery = [py, "-m", "celery", "-A", "config"]
        procs = {
            "web": [py, "manage.py", "runserver", f"{options['host']}:{options['port']}", "--noreload"],
            "worker": [*celery, "worker", "--loglevel=INFO", "--pool=threads", "--concurrency=2"],
            "beat": [*celery, "beat", "--loglevel=INFO", "-s", settings.CELERY_BEAT_SCHEDULE_FILENAME],
        }
        running = {name: subprocess.Popen(cmd) for name, cmd in procs.items()}  # noqa: S603 - fixed argv
        url = f"http://{options['host']}:{options['port']}/"
        self.stdout.write(self.style.SUCCESS(f"\nCareDesk is running at {url}"))
        self.stdout.write(f"Demo logins (password {DEMO_PASSWORD}):")
        for username, display, role, _d in DEMO_STAFF:
            self.stdout.write(f"  {username:<11} {role:<11} {display}")
        self.stdout.write("Press Ctrl-C to stop the web server, worker and beat.\n")

        stopping = False

        def stop(*_a: Any) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        try:
            while not stopping:
                for name, proc in running.items():
                    if proc.poll() is not None:
                        self.stderr.write(f"{name} exited with {proc.returncode}; stopping the others")
                        stopping = True
                time.sleep(0.5)
        finally:
            for proc in running.values():
                if proc.poll() is None:
                    proc.terminate()
            deadline = time.monotonic() + 10
            for proc in running.values():
                try:
                    proc.wait(max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    proc.kill()
