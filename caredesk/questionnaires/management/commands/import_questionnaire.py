"""``manage.py import_questionnaire FILE.json [--code CODE] [--purpose P] [--draft]``: a FHIR R4
Questionnaire (or a Bundle of them) → spec → ``create_from_spec``. Idempotent: a file whose content
equals the latest version creates nothing. Unsupported elements are all listed, nothing is written."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from caredesk.questionnaires.actions import create_from_spec
from caredesk.questionnaires.fhirmap import ImportProblem, spec_from_resource
from caredesk.questionnaires.models import Questionnaire


class Command(BaseCommand):
    help = "Import a FHIR R4 Questionnaire (JSON) as a questionnaire version."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file")
        parser.add_argument("--code", help="questionnaire code (default: identifier or url of the resource)")
        parser.add_argument("--purpose", choices=["followup", "survey", "general"])
        parser.add_argument("--draft", action="store_true", help="keep the new version as a draft")

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["file"])
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise CommandError(f"无法读取 {path}：{exc}") from exc
        if data.get("resourceType") == "Bundle":
            resources = [e.get("resource", {}) for e in data.get("entry", [])
                         if e.get("resource", {}).get("resourceType") == "Questionnaire"]
            if options["code"] and len(resources) > 1:
                raise CommandError("--code 只能用于只含一个 Questionnaire 的文件。")
        else:
            resources = [data]
        with transaction.atomic():
            for resource in resources:
                self._one(resource, options)

    def _one(self, resource: dict[str, Any], options: dict[str, Any]) -> None:
        try:
            spec, warnings = spec_from_resource(resource, code=options["code"], purpose=options["purpose"])
        except ImportProblem as exc:
            raise CommandError("无法导入：\n- " + "\n- ".join(exc.problems)) from exc
        for warning in warnings:
            self.stderr.write(f"warning: {warning}")
        existing = Questionnaire.objects.filter(code=spec["code"]).first()
        before = existing.versions.order_by("-number").first() if existing else None
        publish = not options["draft"] and resource.get("status") != "draft"
        try:
            version = create_from_spec(spec, publish=publish)
        except ValidationError as exc:
            raise CommandError(f"无法导入 {spec['code']}：" + "；".join(exc.messages)) from exc
        state = "unchanged" if before is not None and version.pk == before.pk else "created"
        self.stdout.write(f"{state} {spec['code']} v{version.number} ({version.get_status_display()})")
