from __future__ import annotations

import hashlib
import secrets

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Department(models.Model):
    """A hospital department (科室) in a configurable tree: 内科 → 心血管内科 …"""

    class Kind(models.TextChoices):
        CLINICAL = "clinical", _("临床科室")
        MEDTECH = "medtech", _("医技科室")
        NURSING = "nursing", _("护理单元")
        ADMIN = "admin", _("职能部门")
        SERVICE = "service", _("客服中心")

    code = models.CharField(_("编码"), max_length=32, unique=True)
    name = models.CharField(_("名称"), max_length=64)
    kind = models.CharField(_("类别"), max_length=16, choices=Kind.choices, default=Kind.CLINICAL)
    parent = models.ForeignKey(
        "self", verbose_name=_("上级科室"), null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    sort_order = models.PositiveIntegerField(_("排序"), default=0)
    is_active = models.BooleanField(_("启用"), default=True)

    class Meta:
        verbose_name = _("科室")
        verbose_name_plural = _("科室")
        ordering = ["sort_order", "code"]

    def __str__(self) -> str:
        return self.name

    def descendant_ids(self) -> set[int]:
        """This department and all below it (the tree is small: one query, walked in memory)."""
        pairs = list(Department.objects.values_list("id", "parent_id"))
        children: dict[int | None, list[int]] = {}
        for pk, parent in pairs:
            children.setdefault(parent, []).append(pk)
        found, stack = {self.pk}, [self.pk]
        while stack:
            for child in children.get(stack.pop(), []):
                if child not in found:
                    found.add(child)
                    stack.append(child)
        return found


class User(AbstractUser):
    """A staff member. Roles are permission sets (Django groups named by role code); every staff
    member belongs to one or more departments, which scope what they see."""

    display_name = models.CharField(_("姓名"), max_length=50, blank=True)
    employee_no = models.CharField(_("工号"), max_length=32, blank=True)
    departments = models.ManyToManyField(Department, verbose_name=_("所属科室"), blank=True, related_name="staff")
    password_changed_at = models.DateTimeField(_("密码修改时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("员工")
        verbose_name_plural = _("员工")
        permissions = [
            ("reveal_pii", _("查看完整身份信息")),
            ("view_all_departments", _("查看全院数据")),
            ("view_audit", _("查看审计日志")),
            ("manage_staff", _("管理员工与科室")),
        ]

    def __str__(self) -> str:
        return self.display_name or self.username

    @property
    def role_codes(self) -> list[str]:
        from .roles import ROLE_CODES

        cached = getattr(self, "_role_codes", None)
        if cached is None:
            cached = [g for g in self.groups.values_list("name", flat=True) if g in ROLE_CODES]
            self._role_codes = cached
        return cached

    @property
    def role_labels(self) -> list[str]:
        from .roles import ROLES

        return [str(ROLES[code]) for code in self.role_codes]

    def has_role(self, *codes: str) -> bool:
        return self.is_superuser or any(code in self.role_codes for code in codes)

    def visible_department_ids(self) -> set[int] | None:
        """None means every department; otherwise the user's departments and their sub-departments."""
        if self.is_superuser or self.has_perm("accounts.view_all_departments"):
            return None
        cached = getattr(self, "_visible_department_ids", None)
        if cached is None:
            cached = set()
            for dept in self.departments.all():
                cached |= dept.descendant_ids()
            self._visible_department_ids = cached
        return cached


class Doctor(models.Model):
    """A doctor as the service centre knows them (names on visits, schedules, complaints).
    Not necessarily a CareDesk user."""

    name = models.CharField(_("姓名"), max_length=50)
    department = models.ForeignKey(Department, verbose_name=_("科室"), on_delete=models.PROTECT, related_name="doctors")
    title = models.CharField(_("职称"), max_length=32, blank=True)
    staff_no = models.CharField(_("工号"), max_length=32, unique=True)
    specialty = models.CharField(_("专长"), max_length=200, blank=True)
    is_active = models.BooleanField(_("在岗"), default=True)

    scope_department_field = "department"

    class Meta:
        verbose_name = _("医生")
        verbose_name_plural = _("医生")
        ordering = ["department", "name"]

    def __str__(self) -> str:
        return f"{self.name}（{self.title}）" if self.title else self.name


class PasswordHistory(models.Model):
    """Previous password hashes, so the mlps3 profile can refuse reuse of the last five."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="password_history")
    password = models.CharField(max_length=256)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"password of user {self.user_id} from {self.created_at:%Y-%m-%d}"


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


class APIToken(models.Model):
    """A bearer token for integrations. Only its SHA-256 is stored; the clear token is shown once."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(_("名称"), max_length=100, blank=True)
    prefix = models.CharField(max_length=12, db_index=True)
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("接口令牌")
        verbose_name_plural = _("接口令牌")

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user})"

    @staticmethod
    def generate() -> str:
        return "cdk_" + secrets.token_urlsafe(32)

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
