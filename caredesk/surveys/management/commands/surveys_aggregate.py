"""Rebuild the survey statistics: ``manage.py surveys_aggregate [--date D | --from D --to D]``."""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from caredesk.surveys import aggregates


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(f"日期格式应为 YYYY-MM-DD：{value}") from exc


class Command(BaseCommand):
    help = "重算满意度统计表（默认：昨天和今天）；可重复执行"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--date", help="重算这一天")
        parser.add_argument("--from", dest="start", help="起始日期（含）")
        parser.add_argument("--to", dest="end", help="结束日期（含，默认今天）")

    def handle(self, *args: Any, **options: Any) -> None:
        today = timezone.localdate()
        if options["date"]:
            start = end = _date(options["date"])
        elif options["start"]:
            start = _date(options["start"])
            end = _date(options["end"]) if options["end"] else today
        else:
            start, end = today - dt.timedelta(days=1), today
        if end < start:
            raise CommandError("结束日期早于起始日期")
        began = time.perf_counter()
        totals = aggregates.rebuild_range(start, end)
        self.stdout.write(
            f"{start}..{end}: {totals.get('responses', 0)} responses, {totals.get('comments', 0)} comments,"
            f" {time.perf_counter() - began:.1f}s"
        )
