"""The ingest log: every message or file that arrives lands here first, so a replay or a crash
loses and duplicates nothing, and staff can browse and replay what failed."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from caredesk.core.pii import EncryptedTextField


class IngestMessage(models.Model):
    """One inbound message (an HL7 v2 message, a FHIR resource). The raw payload holds patient data,
    so it is stored encrypted. Identity of a message: (channel, sender, control_id, content_hash).
    The same sender+control id with the same content is a duplicate (acknowledged, not applied); with
    different content it is applied and flagged (``control_id_reused``)."""

    class Channel(models.TextChoices):
        HL7 = "hl7", "HL7 v2"
        FHIR = "fhir", "FHIR"
        FILE = "file", _("文件导入")
        API = "api", "API"

    class Status(models.TextChoices):
        RECEIVED = "received", _("已接收")
        APPLIED = "applied", _("已处理")
        DUPLICATE = "duplicate", _("重复")
        IGNORED = "ignored", _("无需处理")
        ERROR = "error", _("出错")

    channel = models.CharField(_("渠道"), max_length=8, choices=Channel.choices)
    sender = models.CharField(_("发送方"), max_length=120, blank=True)
    control_id = models.CharField(_("消息控制号"), max_length=120, blank=True)
    message_type = models.CharField(_("消息类型"), max_length=40, blank=True)
    content_hash = models.CharField(max_length=64)
    payload = EncryptedTextField(_("原始内容"))
    status = models.CharField(_("状态"), max_length=10, choices=Status.choices, default=Status.RECEIVED, db_index=True)
    control_id_reused = models.BooleanField(_("控制号重复使用"), default=False)
    # Older (MSH-7) than the newest message already applied to the same patient or encounter: kept
    # and acknowledged, but the older data did not overwrite the newer.
    stale = models.BooleanField(_("过期消息"), default=False)
    message_at = models.DateTimeField(_("消息时间"), null=True, blank=True)
    error = models.TextField(_("错误"), blank=True)
    ack_code = models.CharField(max_length=2, blank=True)
    patient_id = models.BigIntegerField(_("患者编号"), null=True, blank=True)
    attempts = models.PositiveIntegerField(default=1)
    received_at = models.DateTimeField(_("接收时间"), default=timezone.now, db_index=True)
    processed_at = models.DateTimeField(_("处理时间"), null=True, blank=True)
    peer = models.CharField(_("来源地址"), max_length=64, blank=True)

    class Meta:
        verbose_name = _("接入消息")
        verbose_name_plural = _("接入消息")
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "sender", "control_id", "content_hash"], name="ingest_one_row_per_message"
            )
        ]
        indexes = [models.Index(fields=["channel", "sender", "control_id"], name="ingest_control_idx")]

    def __str__(self) -> str:
        return f"{self.channel}:{self.sender}:{self.control_id} ({self.status})"


class ImportRun(models.Model):
    """One run of a file import (门诊日志 / 出院名单). Counts follow the command's output line:
    imported=N updated=M unchanged=U rejected=K."""

    class Status(models.TextChoices):
        RUNNING = "running", _("导入中")
        DONE = "done", _("完成")
        FAILED = "failed", _("失败")

    file_name = models.CharField(_("文件名"), max_length=255)
    file_sha256 = models.CharField(max_length=64, db_index=True)
    source_system = models.CharField(_("来源系统"), max_length=64, blank=True)
    encoding = models.CharField(_("编码"), max_length=20, blank=True)
    mapping = models.ForeignKey("ColumnMapping", null=True, blank=True, on_delete=models.SET_NULL)
    status = models.CharField(_("状态"), max_length=10, choices=Status.choices, default=Status.RUNNING)
    total_rows = models.PositiveIntegerField(default=0)
    imported = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    rejected = models.PositiveIntegerField(default=0)
    rejects_path = models.CharField(_("拒绝行文件"), max_length=500, blank=True)
    error = models.TextField(blank=True)
    started_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    # A first big load builds the search indexes after its rows (``patients.bulkload``): the
    # statements that rebuild them, stored before they are dropped; cleared once they are back.
    deferred_indexes = models.JSONField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("导入批次")
        verbose_name_plural = _("导入批次")
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.file_name} ({self.status})"


class ImportReject(models.Model):
    """A row that did not go in, with where and why. The row's values are not kept here (they may
    hold patient data); the rejects CSV next to the input file has them for the person who uploaded."""

    run = models.ForeignKey(ImportRun, on_delete=models.CASCADE, related_name="rejects")
    line = models.PositiveIntegerField(_("行号"))
    column = models.CharField(_("列"), max_length=64, blank=True)
    reason = models.CharField(_("原因"), max_length=300)

    class Meta:
        ordering = ["run", "line"]

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


class ColumnMapping(models.Model):
    """A saved layout for files whose headers are not the standard set: {standard header: file header}."""

    name = models.CharField(_("名称"), max_length=100, unique=True)
    columns = models.JSONField(_("列对应"), default=dict)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("列映射")
        verbose_name_plural = _("列映射")

    def __str__(self) -> str:
        return self.name
