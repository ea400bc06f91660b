"""Add sentiment, score and themes to a CSV: ``manage.py textmining_predict --csv IN --out OUT``."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from caredesk.textmining.analysis import analyse

BATCH = 1000


class Command(BaseCommand):
    help = "为 CSV 中的评论添加 sentiment、score、themes 列"

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--csv", required=True, help="输入 CSV（需有 text 列，或用 --column 指定）")
        parser.add_argument("--out", required=True, help="输出 CSV")
        parser.add_argument("--column", default="text", help="评论所在列名（默认 text）")

    def handle(self, *args: Any, **options: Any) -> None:
        source = Path(options["csv"])
        if not source.exists():
            raise CommandError(f"文件不存在：{source}")
        column = options["column"]
        with source.open(encoding="utf-8-sig", newline="") as fh:
            reader = csv.DictReader(fh)
            fields = list(reader.fieldnames or [])
            if column not in fields:
                raise CommandError(f"输入文件缺少列：{column}")
            rows = list(reader)
        out_fields = fields + [f for f in ("sentiment", "score", "themes") if f not in fields]
        with Path(options["out"]).open("w", encoding="utf-8", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=out_fields)
            writer.writeheader()
            for start in range(0, len(rows), BATCH):
                batch = rows[start : start + BATCH]
                results = analyse([r.get(column) or "" for r in batch], keywords=0)
                for row, result in zip(batch, results, strict=True):
                    row.update(sentiment=result.sentiment, score=f"{result.score:.4f}", themes=";".join(result.themes))
                    writer.writerow(row)
        self.stdout.write(f"{len(rows)} rows -> {options['out']}")
