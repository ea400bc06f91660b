from typing import Any

from django.core.management.base import BaseCommand

from caredesk.complaints import sweep


class Command(BaseCommand):
    help = "Run the complaint deadline sweep once: reminders before deadlines, breaches escalated. Idempotent."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--batch-size", type=int, default=sweep.BATCH_SIZE)

    def handle(self, *args: Any, **options: Any) -> None:
        counts = sweep.sweep(batch_size=options["batch_size"])
        self.stdout.write(" ".join(f"{k}={v}" for k, v in counts.items()))
