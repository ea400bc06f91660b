from typing import Any

from django.core.management.base import BaseCommand, CommandError

from caredesk.accounts.actions import issue_api_token, revoke_api_token
from caredesk.accounts.models import APIToken, User


class Command(BaseCommand):
    help = "Issue a bearer token for USERNAME and print it (shown once; only its hash is stored)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("username")
        parser.add_argument("--name", default="", help="what the token is for, e.g. 'HIS 12345 gateway'")
        parser.add_argument("--revoke", metavar="PREFIX", help="revoke the user's token starting with PREFIX instead")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            user = User.objects.get(username=options["username"])
        except User.DoesNotExist as exc:
            raise CommandError(f"no such user: {options['username']}") from exc
        if options["revoke"]:
            tokens = APIToken.objects.filter(user=user, prefix__startswith=options["revoke"][:12], revoked_at__isnull=True)
            if not tokens:
                raise CommandError("no active token with that prefix")
            for token in tokens:
                revoke_api_token(token, acting_user=None)
            self.stdout.write(f"revoked {len(tokens)} token(s)")
            return
        self.stdout.write(issue_api_token(user, name=options["name"], acting_user=None))
