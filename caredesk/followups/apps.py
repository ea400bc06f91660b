from typing import Any

from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


def _ensure_defaults(sender: Any, **kwargs: Any) -> None:
    from .plans import ensure_default_plans

    ensure_default_plans()


class FollowupsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "caredesk.followups"
    verbose_name = _("回访随访")

    def ready(self) -> None:
        # The shipped templates (出院随访, 初诊首次回访, 次日回访) exist after every migrate; a hospital
        # that does not want one switches it off (is_active) rather than deleting it.
        post_migrate.connect(_ensure_defaults, sender=self, dispatch_uid="followups-default-plans")
        from caredesk.accounts.models import Department

        from .generate import TEMPLATES
        from .models import PlanStep, PlanTemplate

        TEMPLATES.watch(PlanTemplate, PlanStep, PlanTemplate.departments.through,
                        PlanTemplate.disabled_departments.through, Department)
