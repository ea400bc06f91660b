"""Scoping: every query that reaches a user goes through ``scope_to_user``.

A model says how it relates to departments with ``scope_department_field`` (a lookup path such as
``"department"`` or ``"encounter__department"``); users with ``accounts.view_all_departments`` see
everything, others only their departments and the departments below them.
"""

from __future__ import annotations

from typing import Any, TypeVar

from django.db.models import Model, QuerySet
from django.shortcuts import get_object_or_404

M = TypeVar("M", bound=Model)


def scope_to_user(qs: QuerySet[M], user: Any, department_field: str | None = None) -> QuerySet[M]:
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return qs.none()
    field = department_field or getattr(qs.model, "scope_department_field", None)
    if field is None:
        raise TypeError(f"{qs.model.__name__} declares no scope_department_field; pass department_field=")
    visible = user.visible_department_ids()
    if visible is None:
        return qs
    return qs.filter(**{f"{field}__in": visible})


def get_visible_or_404(qs: QuerySet[M], user: Any, department_field: str | None = None, **lookup: Any) -> M:
    """Fetch one object the user may see; anything else is a 404 (never reveal that it exists)."""
    return get_object_or_404(scope_to_user(qs, user, department_field), **lookup)
