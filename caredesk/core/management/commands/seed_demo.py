from typing import Any

from django.core.management.base import BaseCommand

from caredesk.accounts.demo import DEMO_PASSWORD, DEMO_STAFF, seed_organisation


class Command(BaseCommand):
    help = "Load deterministic demo data (departments, doctors, one login per role). Idempotent."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--patients", type=int, default=200, help="demo patients with visit history")
        parser.add_argument("--seed", type=int, default=1, help="random seed; the same seed gives the same data")

    def handle(self, *args: Any, **options: Any) -> None:
        result = seed_organisation(seed=options["seed"])
        self.stdout.write(
            f"departments={result['departments']} doctors_created={result['doctors_created']} "
            f"staff_created={result['staff_created']}"
        )
        if options["patients"]:
            from caredesk.patients.demo import seed_patients

            made = seed_patients(options["patients"], seed=options["seed"])
            self.stdout.write(
                f"patients_created={made['patients_created']} encounters_created={made['encounters_created']}"
            )
        if options["verbosity"] >= 1:
            self.stdout.write(f"demo logins (password {DEMO_PASSWORD}):")
            for username, display, role, _depts in DEMO_STAFF:
                self.stdout.write(f"  {username:<11} {role:<11} {display}")
