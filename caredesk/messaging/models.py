"""The messaging outbox: one row per message to a patient or complainant (SMS, email, WeChat).

A message is written in the same transaction as the business change that causes it, then sent by
the sweep (Celery beat, every minute) through the configured transport. Recipient and body are
stored encrypted; the recipient also has a blind index for exact lookup.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from caredesk.core.pii import EncryptedTextField


class OutboxMessage(models.Model):
    class Channel(models.TextChoices):
        SMS = "sms", _("短信")
        EMAIL = "email", _("邮件")
        WECHAT = "wechat", _("微信")

    class Status(models.TextChoices):
        QUEUED = "queued", _("待发送")
        SENDING = "sending", _("发送中")
        SENT = "sent", _("已发送")
        FAILED = "failed", _("发送失败")
        DEAD = "dead", _("多次失败已放弃")

    channel = models.CharField(_("渠道"), max_length=10, choices=Channel.choices)
    recipient = EncryptedTextField(_("接收人"))
    recipient_index = models.CharField(max_length=64, db_index=True, editable=False)
    template = models.CharField(_("模板"), max_length=80)
    params = models.JSONField(_("参数"), default=dict, blank=True)
    body = EncryptedTextField(_("内容"), blank=True)
    idempotency_key = models.CharField(_("幂等键"), max_length=200, unique=True)
    status = models.CharField(_("状态"), max_length=10, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveIntegerField(_("已尝试次数"), default=0)
    next_attempt_at = models.DateTimeField(_("下次发送时间"))
    claim_token = models.CharField(max_length=32, blank=True, editable=False)
    claimed_at = models.DateTimeField(null=True, blank=True, editable=False)
    last_error = models.CharField(_("最近错误"), max_length=500, blank=True)
    provider_message_id = models.CharField(_("网关消息编号"), max_length=100, blank=True)
    sent_at = models.DateTimeField(_("发送时间"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("送达时间"), null=True, blank=True)
    related_type = models.CharField(_("关联对象类型"), max_length=80, blank=True)
    related_id = models.CharField(_("关联对象编号"), max_length=64, blank=True)
    patient_id = models.BigIntegerField(_("患者编号"), null=True, blank=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("待发消息")
        verbose_name_plural = _("待发消息")
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="outbox_due_idx"),
            models.Index(fields=["related_type", "related_id"], name="outbox_related_idx"),
            models.Index(fields=["patient_id"], name="outbox_patient_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=["queued", "sending", "sent", "failed", "dead"]),
                name="outbox_status_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"outbox #{self.pk} {self.channel} {self.template} {self.status}"
