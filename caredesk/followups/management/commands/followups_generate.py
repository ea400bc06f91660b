from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from caredesk.followups.generate import sweep
from caredesk.followups.plans import ensure_default_plans


class Command(BaseCommand):
    help = "Run the follow-up sweep for a day: start plans and create tasks for the day's (and recent) encounters, repair, queue SMS steps."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--date", help="YYYY-MM-DD (default: today)")
        parser.add_argument("--lookback", type=int, default=None, help="days before --date to re-check")
        parser.add_argument("--chunk", type=int, default=1000, help="encounters per transaction")

    def handle(self, *args: Any, **options: Any) -> None:
        day = None
        if options["date"]:
            try:
                day = date.fromisoformat(options["date"])
            except ValueError as exc:
                raise CommandError("--date must be YYYY-MM-DD") from exc
        ensure_default_plans()
        summary = sweep(day, lookback_days=options["lookback"], chunk_size=options["chunk"])
        self.stdout.write(" ".join(f"{k}={v}" for k, v in summary.items()))
