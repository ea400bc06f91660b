"""manage.py import_visits PATH [--mapping NAME] [--source-system NAME] [--save-mapping NAME --map 姓名=病人姓名 ...]"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from caredesk.intake.actions import import_visits, save_column_mapping
from caredesk.intake.models import ColumnMapping
from caredesk.intake.visit_file import COLUMNS


class Command(BaseCommand):
    help = "Import a visit file (CSV or xlsx, one row per encounter) into the patient archive."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", nargs="?", help="CSV (UTF-8 or GBK/GB18030) or xlsx file")
        parser.add_argument("--mapping", help="name of a saved column mapping for a non-standard layout")
        parser.add_argument("--source-system", default="HIS", help="source system the 流水号 belongs to (default HIS)")
        parser.add_argument("--save-mapping", metavar="NAME", help="save a column mapping under NAME (with --map)")
        parser.add_argument("--map", action="append", default=[], metavar="标准列=文件列",
                            help="one column of the mapping to save, e.g. 姓名=病人姓名 (repeat)")
        parser.add_argument("--batch-size", type=int, default=2000)
        parser.add_argument("--method", choices=["staged", "batch"], default="staged",
                            help="staged (default): temporary table + set-based SQL, COPY on PostgreSQL; "
                                 "batch: the row-by-row reference path")

    def handle(self, *args: Any, **opts: Any) -> None:
        if opts["save_mapping"]:
            columns = {}
            known = {f for f in COLUMNS} | {c[0] for c in COLUMNS.values()} | {a for c in COLUMNS.values() for a in c[1]}
            for pair in opts["map"]:
                standard, sep, theirs = pair.partition("=")
                if not sep or standard.strip() not in known or not theirs.strip():
                    raise CommandError(f"bad --map {pair!r}: use 标准列=文件列 with a standard header on the left")
                columns[standard.strip()] = theirs.strip()
            save_column_mapping(name=opts["save_mapping"], columns=columns, acting_user=None)
            self.stdout.write(f"mapping saved: {opts['save_mapping']} ({len(columns)} columns)")
            if not opts["path"]:
                return
        if not opts["path"]:
            raise CommandError("PATH is required")
        path = Path(opts["path"])
        if not path.is_file():
            raise CommandError(f"no such file: {path}")
        mapping = None
        if opts["mapping"]:
            mapping = ColumnMapping.objects.filter(name=opts["mapping"]).first()
            if mapping is None:
                raise CommandError(f"no saved column mapping named {opts['mapping']!r}")
        run = import_visits(path, source_system=opts["source_system"], mapping=mapping, batch_size=opts["batch_size"],
                           method=opts["method"])
        if run.error:
            raise CommandError(run.error)
        self.stdout.write(f"imported={run.imported} updated={run.updated} unchanged={run.unchanged} rejected={run.rejected}")
        if run.rejects_path:
            self.stderr.write(f"rejects: {run.rejects_path}")
