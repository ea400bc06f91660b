"""manage.py surveys_send [--date YYYY-MM-DD] [--batch N] [--no-plan] [--no-reminders]"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from caredesk.surveys import distribution


class Command(BaseCommand):
    help = "规划缺失的满意度调查邀请，并发送到期的邀请和提醒（可重复运行，不会重复发送）。"

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--date", help="按这一天运行（YYYY-MM-DD，默认今天）：发送计划在当天结束前的邀请。")
        parser.add_argument("--batch", type=int, default=None, help="每批发送条数（默认 SURVEY_SEND_BATCH）。")
        parser.add_argument("--no-plan", action="store_true", help="不补建邀请，只发送。")
        parser.add_argument("--no-reminders", action="store_true", help="不发送提醒。")

    def handle(self, *args: Any, **options: Any) -> None:
        now = timezone.now()
        day = timezone.localdate(now)
        if options["date"]:
            try:
                day = date.fromisoformat(options["date"])
            except ValueError as exc:
                raise CommandError("--date 格式应为 YYYY-MM-DD") from exc
            if day != timezone.localdate(now):
                now = datetime.combine(day, time(23, 59, 59), ZoneInfo(settings.TIME_ZONE))
        result: dict[str, int] = {}
        if not options["no_plan"]:
            result["planned"] = distribution.create_missing(day)
        result["expired"] = distribution.expire_invitations(now=now)
        result.update(distribution.send_due(now=now, batch_size=options["batch"]))
        if not options["no_reminders"]:
            result["reminded"] = distribution.send_reminders(now=now)
        self.stdout.write(" ".join(f"{k}={v}" for k, v in sorted(result.items())))
