from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from caredesk.followups.actions import assign_day


class Command(BaseCommand):
    help = "Assign the open follow-up tasks due by a day to the available agents (balanced by load and skills)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--date", help="YYYY-MM-DD (default: today)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            day = date.fromisoformat(options["date"]) if options["date"] else None
        except ValueError as exc:
            raise CommandError("--date must be YYYY-MM-DD") from exc
        counts = assign_day(day)
        self.stdout.write(" ".join(f"{k}={v}" for k, v in counts.items()))
