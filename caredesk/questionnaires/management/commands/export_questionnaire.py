"""``manage.py export_questionnaire CODE --out FILE.json [--number N]``: one version as a FHIR R4
Questionnaire (default: the published version, else the latest)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from caredesk.questionnaires.fhirmap import questionnaire_resource
from caredesk.questionnaires.models import Questionnaire


class Command(BaseCommand):
    help = "Export a questionnaire version as a FHIR R4 Questionnaire (JSON)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("code")
        parser.add_argument("--out", required=True, help="output file (.json); '-' for standard output")
        parser.add_argument("--number", type=int, dest="number", help="version number (default: published, else latest)")

    def handle(self, *args: Any, **options: Any) -> None:
        questionnaire = Questionnaire.objects.filter(code=options["code"]).first()
        if questionnaire is None:
            raise CommandError(f"问卷 {options['code']} 不存在。")
        if options["number"]:
            version = questionnaire.versions.filter(number=options["number"]).first()
        else:
            version = questionnaire.published_version() or questionnaire.versions.order_by("-number").first()
        if version is None:
            raise CommandError(f"问卷 {options['code']} 没有该版本。")
        text = json.dumps(questionnaire_resource(version), ensure_ascii=False, indent=2) + "\n"
        if options["out"] == "-":
            self.stdout.write(text, ending="")
            return
        Path(options["out"]).write_text(text, encoding="utf-8")
        self.stdout.write(f"exported {questionnaire.code} v{version.number} to {options['out']}")
