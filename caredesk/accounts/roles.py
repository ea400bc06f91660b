"""Roles are permission sets. Each role is a Django group named by its code; ``sync_roles`` keeps
the groups' permissions equal to ROLE_PERMISSIONS (run after every migrate). Each later module
declares its own permissions per role in ``caredesk/<module>/roles.py``; ``role_permissions()``
merges them with the ones below."""

from __future__ import annotations

from importlib import import_module
from typing import Any

from django.utils.translation import gettext_lazy as _

ROLES: dict[str, Any] = {
    "agent": _("客服专员"),
    "consultant": _("咨询员"),
    "guide": _("导医"),
    "supervisor": _("客服主管"),
    "dept_head": _("科室负责人"),
    "quality": _("质控/医务"),
    "executive": _("院领导"),
    "admin": _("系统管理员"),
}
ROLE_CODES = frozenset(ROLES)

ROLE_PERMISSIONS: dict[str, list[str]] = {
    "agent": ["patients.view_all_patients"],
    "consultant": ["patients.view_all_patients"],
    "guide": ["patients.view_all_patients"],
    "supervisor": [
        "accounts.view_all_departments",
        "accounts.reveal_pii",
        "patients.view_all_patients",
        "patients.merge_patients",
        "intake.add_importrun",
        "intake.view_ingestmessage",
    ],
    "dept_head": [],
    "quality": [
        "accounts.view_all_departments",
        "accounts.view_audit",
        "accounts.reveal_pii",
        "patients.view_all_patients",
    ],
    "executive": ["accounts.view_all_departments", "patients.view_all_patients"],
    "admin": [
        "patients.view_all_patients",
        "accounts.view_all_departments",
        "accounts.view_audit",
        "accounts.manage_staff",
        "accounts.reveal_pii",
        "core.change_calendaroverride",
        "patients.merge_patients",
        "intake.add_importrun",
        "intake.view_ingestmessage",
    ],
}


MODULE_ROLE_FILES = (
    "caredesk.questionnaires.roles",
    "caredesk.followups.roles",
    "caredesk.complaints.roles",
    "caredesk.complaints.roles_extra",
    "caredesk.surveys.roles",
    "caredesk.textmining.roles",
)


def role_permissions() -> dict[str, list[str]]:
    """ROLE_PERMISSIONS plus every module's own additions, without duplicates."""
    merged = {code: list(perms) for code, perms in ROLE_PERMISSIONS.items()}
    for dotted in MODULE_ROLE_FILES:
        for code, perms in import_module(dotted).ROLE_PERMISSIONS.items():
            bucket = merged.setdefault(code, [])
            bucket.extend(p for p in perms if p not in bucket)
    return merged


def sync_roles() -> None:
    from django.contrib.auth.models import Group, Permission

    permissions = role_permissions()
    for code in ROLES:
        group, _created = Group.objects.get_or_create(name=code)
        wanted = []
        for dotted in permissions.get(code, []):
            app_label, codename = dotted.split(".", 1)
            perm = Permission.objects.filter(content_type__app_label=app_label, codename=codename).first()
            if perm is not None:
                wanted.append(perm)
        group.permissions.set(wanted)


def sync_roles_after_migrate(**kwargs: Any) -> None:
    sync_roles()
