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


@transaction.atomic
def update_staff(
    user: User,
    *,
    display_name: str,
    employee_no: str,
    roles: list[str],
    departments: list[Department],
    is_active: bool,
    acting_user: Any,
) -> User:
    unknown = set(roles) - ROLE_CODES
    if unknown:
        raise ValueError(f"unknown roles: {sorted(unknown)}")
    before = {"roles": sorted(user.role_codes), "departments": sorted(d.code for d in user.departments.all()),
              "is_active": user.is_active}
    user.display_name = display_name
    user.employee_no = employee_no
    user.is_active = is_active
    user.save(update_fields=["display_name", "employee_no", "is_active"])
    user.groups.set(Group.objects.filter(name__in=roles))
    user.departments.set(departments)
    user.__dict__.pop("_role_codes", None)
    after = {"roles": sorted(roles), "departments": sorted(d.code for d in departments), "is_active": is_active}
    audit.record(actor=acting_user, verb="staff.updated", target=user, before=before, after=after)
    return user


@transaction.atomic
def reset_password(user: User, new_password: str, *, acting_user: Any) -> None:
    """An administrator sets a temporary password; the 90-day clock is expired so that the mlps3
    profile makes the staff member choose their own at the next login."""
    if user.password:
        PasswordHistory.objects.create(user=user, password=user.password)
    user.set_password(new_password)
    user.password_changed_at = None
    user.save(update_fields=["password", "password_changed_at"])
    audit.record(actor=acting_user, verb="staff.password_reset", target=user)


@transaction.atomic
def unlock_staff(user: User, *, acting_user: Any) -> None:
    from axes.utils import reset

    reset(username=user.username)
    audit.record(actor=acting_user, verb="staff.unlocked", target=user)


@transaction.atomic
def save_department(
    department: Department | None, *, code: str, name: str, kind: str, parent: Department | None,
    sort_order: int, is_active: bool, acting_user: Any,
) -> Department:
    creating = department is None
    if department is None:
        department = Department()
    if parent is not None and department.pk and parent.pk in department.descendant_ids():
        raise ValueError("a department cannot sit below itself")
    department.code, department.name, department.kind = code, name, kind
    department.parent, department.sort_order, department.is_active = parent, sort_order, is_active
    department.save()
    audit.record(actor=acting_user, verb="department.created" if creating else "department.updated",
                 target=department, code=code)
    return department
