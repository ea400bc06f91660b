from typing import Any

from django.core.management.base import BaseCommand

from caredesk.complaints import classifier


class Command(BaseCommand):
    help = (
        "Train the category/department suggestion model from the hospital's closed complaints "
        f"(needs at least {classifier.MIN_TRAINING}; otherwise the keyword fallback stays in use)."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        result = classifier.train()
        if not result["trained"]:
            self.stdout.write(
                f"only {result['cases']} closed complaints (need {classifier.MIN_TRAINING}); keyword suggestions stay in use"
            )
            return
        self.stdout.write(
            f"trained on {result['cases']} closed complaints: {result['category_classes']} categories, "
            f"{result['department_classes']} departments → {classifier.model_path()}"
        )
