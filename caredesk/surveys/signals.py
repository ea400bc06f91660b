"""Keep the "no active survey rule" cache of distribution.active_rules honest in this process."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver

from .models import SurveyRule


@receiver(post_save, sender=SurveyRule)
@receiver(post_delete, sender=SurveyRule)
@receiver(m2m_changed, sender=SurveyRule.departments.through)
def _rules_changed(**kwargs: Any) -> None:
    from .distribution import clear_rule_cache

    clear_rule_cache()
