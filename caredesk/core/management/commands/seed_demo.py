from typing import Any

from django.core.management.base import BaseCommand

from caredesk.accounts.demo import DEMO_PASSWORD, DEMO_STAFF, seed_organisation


class Command(BaseCommand):
    help = "Load deterministic demo data (departments, doctors, one login per role). Idempotent."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--patients", type=int, default=200, help="demo patients with visit history")
        parser.add_argument("--complaints", type=int, default=40, help="demo complaints (some taken through the workflow)")
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
            from caredesk.surveys.demo import seed_surveys

            surveys = seed_surveys(seed=options["seed"])
            self.stdout.write(" ".join(f"survey_{k}={v}" for k, v in surveys.items()))
            from caredesk.followups.demo import seed_followups

            fu = seed_followups(seed=options["seed"])
            self.stdout.write(f"followup_tasks={fu['tasks']} assigned_today={fu['assigned']}")
        if options["complaints"]:
            from caredesk.complaints.demo import seed_complaints

            made_c = seed_complaints(options["complaints"], seed=options["seed"])
            self.stdout.write(f"complaints_created={made_c['complaints_created']}")
        if options["verbosity"] >= 1:
            self.stdout.write(f"demo logins (password {DEMO_PASSWORD}):")
            for username, display, role, _depts in DEMO_STAFF:
                self.stdout.write(f"  {username:<11} {role:<11} {display}")
