from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand

from caredesk.followups.exports import write_tasks_csv


class Command(BaseCommand):
    help = "Write every follow-up task as CSV: record_no, patient_id, plan, step, due_date, status, assignee."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--out", required=True, help="output CSV file")

    def handle(self, *args: Any, **options: Any) -> None:
        n = write_tasks_csv(Path(options["out"]))
        self.stdout.write(f"tasks={n} out={options['out']}")
