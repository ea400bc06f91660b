"""manage.py import_fhir PATH [--source NAME]: FHIR R4 Bundles / NDJSON of Patient and Encounter."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from caredesk.api.fhir.importer import import_path


class Command(BaseCommand):
    help = "Import FHIR R4 Patient and Encounter resources (Bundle JSON or NDJSON; a file or a directory)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path")
        parser.add_argument("--source", default="", help="sender name (default: the directory name or file stem)")

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["path"])
        if not path.exists():
            raise CommandError(f"{path} does not exist")

        def report(where: str, reason: str) -> None:
            self.stderr.write(f"rejected {where}: {reason}")

        result = import_path(path, source=options["source"], report=report)
        self.stdout.write(result.line())
