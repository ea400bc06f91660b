"""Writes on staff accounts. Each is atomic and audited."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone

from caredesk.core import audit

from .models import APIToken, Department, PasswordHistory, User, hash_token
from .roles import ROLE_CODES


@transaction.atomic
def create_staff(
    *,
    username: str,
    password: str,
    display_name: str,
    roles: list[str],
    departments: list[Department],
    acting_user: Any,
    employee_no: str = "",
) -> User:
    unknown = set(roles) - ROLE_CODES
    if unknown:
        raise ValueError(f"unknown roles: {sorted(unknown)}")
    user = User(username=username, display_name=display_name, employee_no=employee_no)
    user.set_password(password)
    user.password_changed_at = timezone.now()
    user.save()
    user.groups.set(Group.objects.filter(name__in=roles))
    user.departments.set(departments)
    audit.record(actor=acting_user, verb="staff.created", target=user, roles=sorted(roles))
    return user


@transaction.atomic
def change_password(user: User, new_password: str, *, acting_user: Any) -> None:
    """Keeps the old hash in the history (for the no-reuse rule) and restarts the 90-day clock."""
    if user.password:
        PasswordHistory.objects.create(user=user, password=user.password)
    user.set_password(new_password)
    user.password_changed_at = timezone.now()
    user.save(update_fields=["password", "password_changed_at"])
    keep = list(user.password_history.values_list("id", flat=True)[:10])
    user.password_history.exclude(id__in=keep).delete()
    audit.record(actor=acting_user, verb="auth.password_changed", target=user)


@transaction.atomic
def issue_api_token(user: User, *, name: str = "", acting_user: Any) -> str:
    """Create a token and return it in clear text: the only time anyone sees it."""
    raw = APIToken.generate()
    token = APIToken.objects.create(user=user, name=name, prefix=raw[:12], token_hash=hash_token(raw))
    audit.record(actor=acting_user, verb="api_token.issued", target=token, user_id=user.pk)
    return raw


@transaction.atomic
def revoke_api_token(token: APIToken, *, acting_user: Any) -> None:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit.record(actor=acting_user, verb="api_token.revoked", target=token, user_id=token.user_id)
