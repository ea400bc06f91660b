from typing import Any

from django.core.management.base import BaseCommand, CommandError

from caredesk.core.audit import verify_chain


class Command(BaseCommand):
    help = "Check the audit trail's hash chain and report the first broken link."

    def handle(self, *args: Any, **options: Any) -> None:
        checked, broken, reason = verify_chain()
        if broken is None:
            self.stdout.write(self.style.SUCCESS(f"audit chain intact: {checked} events checked"))
            return
        raise CommandError(
            f"audit chain broken at event id={broken.pk} (at {broken.at.isoformat()}, verb {broken.verb}): "
            f"{reason}; {checked} events before it are intact"
        )
