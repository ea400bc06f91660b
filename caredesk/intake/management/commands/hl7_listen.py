import asyncio
import contextlib
from typing import Any

from django.core.management.base import BaseCommand

from caredesk.intake.hl7_server import serve


class Command(BaseCommand):
    help = "Listen for HL7 v2 ADT messages over MLLP and answer each with an ACK."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=2575)

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(f"HL7 MLLP listener on {options['host']}:{options['port']} (Ctrl-C stops)")
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(serve(options["host"], options["port"]))
