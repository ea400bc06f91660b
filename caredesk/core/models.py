from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class AuditEvent(models.Model):
    """One row per audited action. Append-only: rows are never updated or deleted.

    Each row carries ``row_hash`` = SHA-256 over its own content and the previous row's hash, so
    any later edit or removal breaks the chain and ``manage.py audit_verify`` finds it. On
    PostgreSQL a trigger also rejects UPDATE and DELETE outright.
    """

    class Result(models.TextChoices):
        OK = "ok", _("成功")
        DENIED = "denied", _("拒绝")
        FAILED = "failed", _("失败")

    at = models.DateTimeField(_("时间"), db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("操作人"), null=True, blank=True,
        on_delete=models.PROTECT, related_name="+",
    )
    actor_label = models.CharField(_("操作人账号"), max_length=150, blank=True)
    verb = models.CharField(_("动作"), max_length=80, db_index=True)
    object_type = models.CharField(_("对象类型"), max_length=80, blank=True)
    object_id = models.CharField(_("对象编号"), max_length=64, blank=True)
    patient_id = models.BigIntegerField(_("患者编号"), null=True, blank=True)
    result = models.CharField(_("结果"), max_length=10, choices=Result.choices, default=Result.OK)
    ip = models.GenericIPAddressField(_("IP 地址"), null=True, blank=True)
    purpose = models.CharField(_("目的"), max_length=200, blank=True)
    details = models.JSONField(_("详情"), default=dict, blank=True)
    prev_hash = models.CharField(max_length=64, blank=True)
    row_hash = models.CharField(max_length=64, unique=True)

    class Meta:
        verbose_name = _("审计事件")
        verbose_name_plural = _("审计事件")
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["actor", "at"], name="audit_actor_at_idx"),
            models.Index(fields=["patient_id", "at"], name="audit_patient_at_idx"),
            models.Index(fields=["object_type", "object_id"], name="audit_object_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor_label} {self.verb}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise RuntimeError("Audit events are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("Audit events are append-only.")


class CalendarOverride(models.Model):
    """The hospital's own exceptions to the statutory calendar: an extra closure (院内停诊) or an
    extra working day. An override always wins over ``chinese_calendar``."""

    date = models.DateField(_("日期"), unique=True)
    is_working_day = models.BooleanField(_("是否工作日"))
    reason = models.CharField(_("原因"), max_length=200)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("院内日历调整")
        verbose_name_plural = _("院内日历调整")
        ordering = ["date"]

    def __str__(self) -> str:
        return f"{self.date:%Y-%m-%d} {'work' if self.is_working_day else 'closed'}"


class ConfigStamp(models.Model):
    """A random token per cached piece of configuration (follow-up plan templates, survey rules…),
    replaced whenever that configuration changes; see ``caredesk.core.configcache``."""

    name = models.CharField(primary_key=True, max_length=60)
    token = models.CharField(max_length=32)

    class Meta:
        verbose_name = _("配置版本")
        verbose_name_plural = _("配置版本")

    def __str__(self) -> str:
        return self.name
