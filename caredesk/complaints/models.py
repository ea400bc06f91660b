"""Complaints (投诉): the case, its timeline, its working-time deadlines, statements, resolution plans,
attachments and the notifications the deadline sweep writes.

The workflow lives in ``actions.py`` (one function per transition, audited); the models only hold
state. Complainant identity (name, phone, email) is stored encrypted, with a blind index on the
phone for exact lookup, and shown masked everywhere. Once a case is archived its dossier does not
change: every action refuses it except the analysis step.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.storage import FileSystemStorage
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _

from caredesk.core import pii
from caredesk.core.pii import EncryptedTextField


class Channel(models.TextChoices):
    PHONE = "phone", _("电话")
    WALK_IN = "walk_in", _("来访")
    LETTER = "letter", _("信件/意见箱")
    EMAIL = "email", _("电子邮件")
    ONLINE = "online", _("网上投诉")
    HOTLINE_12345 = "hotline_12345", _("12345热线转办")
    THIRD_PARTY = "third_party", _("其他第三方转办")
    FOLLOWUP = "followup", _("回访中发现")
    SURVEY = "survey", _("满意度调查")
    CALL = "call", _("来电记录")


class Category(models.TextChoices):
    SERVICE_ATTITUDE = "service_attitude", _("服务态度")
    MEDICAL_QUALITY = "medical_quality", _("医疗质量")
    PROCESS = "process", _("流程效率")
    FEES = "fees", _("费用")
    OTHER = "other", _("其他")


class Severity(models.TextChoices):
    GENERAL = "general", _("一般")
    SERIOUS = "serious", _("较重")
    MAJOR = "major", _("重大")


class Status(models.TextChoices):
    REGISTERED = "registered", _("待受理")
    ACCEPTED = "accepted", _("已受理")
    VERIFYING = "verifying", _("核实中")
    RESOLVING = "resolving", _("处理中")
    FEEDBACK = "feedback", _("待反馈")
    ARCHIVED = "archived", _("已归档")
    ANALYSED = "analysed", _("已分析")
    MERGED = "merged", _("已合并")


OPEN_STATUSES = (Status.REGISTERED, Status.ACCEPTED, Status.VERIFYING, Status.RESOLVING, Status.FEEDBACK)
CLOSED_STATUSES = (Status.ARCHIVED, Status.ANALYSED, Status.MERGED)


class Relation(models.TextChoices):
    SELF = "self", _("本人")
    SPOUSE = "spouse", _("配偶")
    PARENT = "parent", _("父母")
    CHILD = "child", _("子女")
    RELATIVE = "relative", _("其他亲属")
    FRIEND = "friend", _("朋友/同事")
    OTHER = "other", _("其他")


class Finding(models.TextChoices):
    """The department head's classification (定性) after verification."""

    SUBSTANTIATED = "substantiated", _("投诉属实")
    PARTLY = "partly", _("部分属实")
    UNSUBSTANTIATED = "unsubstantiated", _("投诉不属实")


class DisputeRoute(models.TextChoices):
    NONE = "", _("无")
    NEGOTIATION = "negotiation", _("医患协商")
    APPRAISAL = "appraisal", _("医学会鉴定")
    COURT = "court", _("司法途径")


class DeadlineKind(models.TextChoices):
    FIRST_RESPONSE = "first_response", _("首次响应")
    STATEMENT = "statement", _("书面说明")
    REPLY = "reply", _("答复投诉人")


class DeadlineUnit(models.TextChoices):
    WORKING_HOURS = "working_hours", _("工作小时")
    WORKING_DAYS = "working_days", _("工作日")


class Subcategory(models.Model):
    """Editable subcategories under the five fixed categories (e.g. 服务态度 → 语言生硬)."""

    category = models.CharField(_("类别"), max_length=20, choices=Category.choices)
    name = models.CharField(_("名称"), max_length=60)
    sort_order = models.PositiveIntegerField(_("排序"), default=0)
    is_active = models.BooleanField(_("启用"), default=True)

    class Meta:
        verbose_name = _("投诉子类")
        verbose_name_plural = _("投诉子类")
        ordering = ["category", "sort_order", "name"]
        constraints = [models.UniqueConstraint(fields=["category", "name"], name="complaint_subcategory_unique")]

    def __str__(self) -> str:
        return f"{self.get_category_display()} / {self.name}"


class DeadlinePolicy(models.Model):
    """How long a step may take, per category and severity (blank = any). The most specific active
    row wins; without one, ``deadlines.DEFAULTS`` apply."""

    category = models.CharField(_("类别"), max_length=20, choices=Category.choices, blank=True)
    severity = models.CharField(_("严重程度"), max_length=10, choices=Severity.choices, blank=True)
    kind = models.CharField(_("时限类型"), max_length=20, choices=DeadlineKind.choices)
    amount = models.PositiveIntegerField(_("时长"))
    unit = models.CharField(_("单位"), max_length=16, choices=DeadlineUnit.choices)
    remind_before_minutes = models.PositiveIntegerField(_("提前提醒（分钟）"), default=240)
    is_active = models.BooleanField(_("启用"), default=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("投诉处理时限")
        verbose_name_plural = _("投诉处理时限")
        ordering = ["kind", "category", "severity"]
        constraints = [
            models.UniqueConstraint(fields=["category", "severity", "kind"], name="complaint_policy_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.amount} {self.get_unit_display()}"


class CaseNumberSequence(models.Model):
    """One counter per prefix and month (TS202611 → 0001, 0002 …), incremented under a row lock."""

    prefix = models.CharField(max_length=20, unique=True)
    last_value = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("编号序列")
        verbose_name_plural = _("编号序列")

    def __str__(self) -> str:
        return f"{self.prefix}:{self.last_value}"


class ComplaintQuerySet(models.QuerySet["Complaint"]):
    def open(self) -> ComplaintQuerySet:
        return self.filter(status__in=OPEN_STATUSES)

    def visible_to(self, user: Any) -> ComplaintQuerySet:
        """Whole-hospital roles see every case; department heads only their departments' cases
        (and cases they own); anyone else nothing."""
        if not getattr(user, "is_authenticated", False) or not user.is_active:
            return self.none()
        if user.is_superuser or user.has_perm("complaints.view_all_complaints"):
            return self
        if not user.has_perm("complaints.view_complaint"):
            return self.none()
        visible = user.visible_department_ids()
        if visible is None:
            return self
        return self.filter(Q(department_id__in=visible) | Q(owner=user))


class Complaint(models.Model):
    case_no = models.CharField(_("投诉编号"), max_length=20, unique=True)
    channel = models.CharField(_("渠道"), max_length=16, choices=Channel.choices)
    status = models.CharField(_("状态"), max_length=12, choices=Status.choices, default=Status.REGISTERED)

    # complainant: a patient from the archive when found, otherwise a visitor
    patient = models.ForeignKey(
        "patients.Patient", verbose_name=_("关联患者"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="complaints",
    )
    complainant_name = EncryptedTextField(_("投诉人姓名"), blank=True)
    complainant_phone = EncryptedTextField(_("联系电话"), blank=True)
    complainant_phone_bidx = models.CharField(max_length=64, blank=True, db_index=True, editable=False)
    complainant_email = EncryptedTextField(_("电子邮箱"), blank=True)
    relation = models.CharField(_("与患者关系"), max_length=10, choices=Relation.choices, default=Relation.SELF)

    # target
    department = models.ForeignKey(
        "accounts.Department", verbose_name=_("被投诉科室"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="complaints",
    )
    staff_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("被投诉员工"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="complaints_about",
    )
    staff_doctor = models.ForeignKey(
        "accounts.Doctor", verbose_name=_("被投诉医生"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="complaints",
    )
    staff_text = models.CharField(_("被投诉人员（描述）"), max_length=100, blank=True)

    # the event
    event_at = models.DateTimeField(_("事件时间"), null=True, blank=True)
    event_place = models.CharField(_("事件地点"), max_length=120, blank=True)
    summary = models.CharField(_("摘要"), max_length=120, blank=True)
    content = models.TextField(_("投诉内容"))
    demands = models.TextField(_("投诉诉求"), blank=True)

    # classification
    category = models.CharField(_("类别"), max_length=20, choices=Category.choices, default=Category.OTHER)
    subcategory = models.ForeignKey(
        Subcategory, verbose_name=_("子类"), null=True, blank=True, on_delete=models.PROTECT, related_name="complaints"
    )
    severity = models.CharField(_("严重程度"), max_length=10, choices=Severity.choices, default=Severity.GENERAL)
    suggested_category = models.CharField(_("建议类别"), max_length=20, choices=Category.choices, blank=True)
    suggested_department = models.ForeignKey(
        "accounts.Department", verbose_name=_("建议科室"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )
    suggestion_confidence = models.FloatField(_("建议置信度"), null=True, blank=True)

    # people
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("首问负责人"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="complaints_owned",
    )
    registered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("登记人"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="complaints_registered",
    )

    # times
    received_at = models.DateTimeField(_("接收时间"), db_index=True)
    accepted_at = models.DateTimeField(_("受理时间"), null=True, blank=True)
    classified_at = models.DateTimeField(_("定性时间"), null=True, blank=True)
    resolved_at = models.DateTimeField(_("处理完成时间"), null=True, blank=True)
    feedback_at = models.DateTimeField(_("反馈时间"), null=True, blank=True)
    archived_at = models.DateTimeField(_("归档时间"), null=True, blank=True)
    analysed_at = models.DateTimeField(_("分析时间"), null=True, blank=True)

    # verification: the department head's classification (定性)
    finding = models.CharField(_("定性结论"), max_length=16, choices=Finding.choices, blank=True)
    finding_note = models.TextField(_("定性说明"), blank=True)
    classified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("定性人"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="+",
    )

    # resolution and feedback
    resolution_summary = models.TextField(_("处理结果"), blank=True)
    quality_review = models.BooleanField(_("转质控办/医务科"), default=False)
    committee_review = models.BooleanField(_("提交医疗安全委员会"), default=False)
    dispute_route = models.CharField(_("纠纷解决途径"), max_length=12, choices=DisputeRoute.choices, blank=True)
    satisfaction = models.PositiveSmallIntegerField(_("投诉人满意度（1–5）"), null=True, blank=True)
    feedback_note = models.TextField(_("反馈记录"), blank=True)

    # analysis (the only step after archiving)
    root_cause = models.TextField(_("原因分析"), blank=True)
    analysis_note = models.TextField(_("改进建议"), blank=True)

    # clock and escalation
    paused_at = models.DateTimeField(_("暂停计时于"), null=True, blank=True)
    pause_reason = models.CharField(_("暂停原因"), max_length=200, blank=True)
    next_due_at = models.DateTimeField(_("最近时限"), null=True, blank=True)
    is_overdue = models.BooleanField(_("已超时"), default=False)
    reopen_count = models.PositiveSmallIntegerField(_("重新处理次数"), default=0)
    escalation_level = models.PositiveSmallIntegerField(_("升级级别"), default=0)
    transfer_count = models.PositiveSmallIntegerField(_("转办次数"), default=0)
    merged_into = models.ForeignKey(
        "self", verbose_name=_("合并到"), null=True, blank=True, on_delete=models.PROTECT, related_name="merged_cases"
    )

    # where it came from (one-click creation from a call, a follow-up record, a survey answer …)
    source_type = models.CharField(_("来源类型"), max_length=60, blank=True)
    source_id = models.CharField(_("来源编号"), max_length=64, blank=True)
    external_ref = models.CharField(_("外部编号"), max_length=64, blank=True, help_text=_("如12345工单号"))

    created_at = models.DateTimeField(_("创建时间"), default=timezone.now)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    scope_department_field = "department"
    revealable_fields = ("complainant_name", "complainant_phone", "complainant_email")
    _loaded_status: str | None = None
    _allow_closed_write: bool = False

    objects = ComplaintQuerySet.as_manager()

    class Meta:
        verbose_name = _("投诉")
        verbose_name_plural = _("投诉")
        ordering = ["-received_at", "-id"]
        permissions = [
            ("view_all_complaints", _("查看全院投诉")),
            ("accept_complaint", _("受理投诉")),
            ("verify_complaint", _("核实投诉（书面说明、定性）")),
            ("resolve_complaint", _("处理与反馈投诉")),
            ("approve_plan", _("审批处理方案")),
            ("close_complaint", _("归档、分析、合并投诉")),
            ("extend_deadline", _("延长投诉时限")),
        ]
        indexes = [
            models.Index(fields=["status", "-received_at"], name="complaint_status_recv"),
            models.Index(fields=["department", "-received_at"], name="complaint_dept_recv"),
            models.Index(fields=["category", "-received_at"], name="complaint_cat_recv"),
            models.Index(fields=["is_overdue", "-received_at"], name="complaint_overdue_recv"),
            models.Index(fields=["source_type", "source_id"], name="complaint_source"),
            models.Index(fields=["patient"], name="complaint_patient"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(satisfaction__isnull=True) | Q(satisfaction__gte=1, satisfaction__lte=5),
                name="complaint_satisfaction_range",
            ),
        ]

    def __str__(self) -> str:
        return self.case_no

    def save(self, *args: Any, **kwargs: Any) -> None:
        """An archived dossier is immutable: a case loaded as archived/analysed/merged cannot be
        saved again, except by the analysis step (which sets ``_allow_closed_write``)."""
        loaded = getattr(self, "_loaded_status", None)
        if loaded in CLOSED_STATUSES and not getattr(self, "_allow_closed_write", False):
            from django.core.exceptions import ValidationError

            raise ValidationError("案件已归档，档案不可再修改。")
        super().save(*args, **kwargs)
        self._loaded_status = self.status

    @classmethod
    def from_db(cls, db: Any, field_names: Any, values: Any, **kwargs: Any) -> Complaint:
        obj = super().from_db(db, field_names, values, **kwargs)
        obj._loaded_status = obj.__dict__.get("status")
        return obj

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def is_closed(self) -> bool:
        """Archived, analysed or merged: the dossier is frozen."""
        return self.status in CLOSED_STATUSES

    @property
    def is_paused(self) -> bool:
        return self.paused_at is not None

    @property
    def masked_name(self) -> str:
        return pii.mask_name(self.complainant_name)

    @property
    def masked_phone(self) -> str:
        return pii.mask_phone(self.complainant_phone)

    @property
    def staff_label(self) -> str:
        if self.staff_doctor_id:
            return str(self.staff_doctor)
        if self.staff_user_id:
            return str(self.staff_user)
        return self.staff_text


class ComplaintEvent(models.Model):
    """One row per transition or notable act on a case: the timeline."""

    complaint = models.ForeignKey(Complaint, on_delete=models.CASCADE, related_name="events")
    verb = models.CharField(_("动作"), max_length=40)
    from_status = models.CharField(_("原状态"), max_length=12, choices=Status.choices, blank=True)
    to_status = models.CharField(_("新状态"), max_length=12, choices=Status.choices, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("操作人"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="+",
    )
    actor_label = models.CharField(_("操作人名称"), max_length=60, blank=True)
    note = models.TextField(_("说明"), blank=True)
    data = models.JSONField(_("数据"), default=dict, blank=True)
    at = models.DateTimeField(_("时间"), default=timezone.now)

    class Meta:
        verbose_name = _("投诉处理记录")
        verbose_name_plural = _("投诉处理记录")
        ordering = ["at", "id"]
        indexes = [models.Index(fields=["complaint", "at"], name="complaint_event_timeline")]

    def __str__(self) -> str:
        return f"{self.complaint_id} {self.verb}"


class ComplaintDeadlineQuerySet(models.QuerySet["ComplaintDeadline"]):
    def open(self) -> ComplaintDeadlineQuerySet:
        return self.filter(met_at__isnull=True, cancelled_at__isnull=True)

    def running(self) -> ComplaintDeadlineQuerySet:
        """Open and not paused: the ones whose clock is ticking."""
        return self.open().filter(paused_at__isnull=True)


class ComplaintDeadline(models.Model):
    """One time limit of a case. The sweep works on these rows with conditional UPDATEs; the partial
    indexes hold only the rows still waiting for a reminder or a breach, so it stays fast."""

    complaint = models.ForeignKey(Complaint, on_delete=models.CASCADE, related_name="deadlines")
    kind = models.CharField(_("时限类型"), max_length=20, choices=DeadlineKind.choices)
    round = models.PositiveSmallIntegerField(_("轮次"), default=0, help_text=_("重新处理时递增"))
    due_at = models.DateTimeField(_("截止时间"))
    original_due_at = models.DateTimeField(_("原截止时间"))
    remind_at = models.DateTimeField(_("提醒时间"), null=True, blank=True)
    met_at = models.DateTimeField(_("完成时间"), null=True, blank=True)
    cancelled_at = models.DateTimeField(_("取消时间"), null=True, blank=True)
    paused_at = models.DateTimeField(_("暂停于"), null=True, blank=True)
    paused_seconds = models.PositiveIntegerField(_("累计暂停秒数"), default=0)
    extended_count = models.PositiveSmallIntegerField(_("延期次数"), default=0)
    extension_reason = models.TextField(_("延期原因"), blank=True)
    complainant_notified_at = models.DateTimeField(_("已告知投诉人于"), null=True, blank=True)
    reminded_at = models.DateTimeField(_("已提醒于"), null=True, blank=True)
    breached_at = models.DateTimeField(_("超时于"), null=True, blank=True)
    escalated_at = models.DateTimeField(_("已升级于"), null=True, blank=True)
    created_at = models.DateTimeField(_("创建时间"), default=timezone.now)

    objects = ComplaintDeadlineQuerySet.as_manager()

    class Meta:
        verbose_name = _("投诉时限")
        verbose_name_plural = _("投诉时限")
        ordering = ["due_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["complaint", "kind", "round"], name="complaint_deadline_unique"),
        ]
        indexes = [
            models.Index(
                fields=["remind_at"], name="complaint_deadline_remind",
                condition=Q(met_at__isnull=True, cancelled_at__isnull=True, paused_at__isnull=True,
                            reminded_at__isnull=True),
            ),
            models.Index(
                fields=["due_at"], name="complaint_deadline_breach",
                condition=Q(met_at__isnull=True, cancelled_at__isnull=True, paused_at__isnull=True,
                            breached_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.complaint_id} {self.kind} {self.due_at:%Y-%m-%d %H:%M}"

    @property
    def is_open(self) -> bool:
        return self.met_at is None and self.cancelled_at is None

    def state(self, now: Any = None) -> str:
        """met / met_late / cancelled / paused / overdue / due_soon / running (for badges)."""
        now = now or timezone.now()
        if self.cancelled_at:
            return "cancelled"
        if self.met_at:
            return "met_late" if self.met_at > self.due_at else "met"
        if self.paused_at:
            return "paused"
        if self.due_at <= now:
            return "overdue"
        if self.remind_at and self.remind_at <= now:
            return "due_soon"
        return "running"


class StatementRequest(models.Model):
    """A written statement (书面说明) asked from the staff involved, by a deadline."""

    complaint = models.ForeignKey(Complaint, on_delete=models.CASCADE, related_name="statements")
    staff_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("说明人（员工）"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="complaint_statements",
    )
    staff_name = models.CharField(_("说明人"), max_length=60, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("要求人"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="+",
    )
    requested_at = models.DateTimeField(_("要求时间"), default=timezone.now)
    due_at = models.DateTimeField(_("提交期限"), null=True, blank=True)
    note = models.TextField(_("要求说明"), blank=True)
    content = models.TextField(_("说明内容"), blank=True)
    submitted_at = models.DateTimeField(_("提交时间"), null=True, blank=True)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("录入人"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="+",
    )

    class Meta:
        verbose_name = _("书面说明")
        verbose_name_plural = _("书面说明")
        ordering = ["requested_at", "id"]

    def __str__(self) -> str:
        return f"{self.complaint_id} statement {self.pk}"


class ResolutionPlan(models.Model):
    class Kind(models.TextChoices):
        EXPLANATION = "explanation", _("解释沟通")
        APOLOGY = "apology", _("赔礼道歉")
        CORRECTION = "correction", _("纠正整改")
        REFUND = "refund", _("退费")
        COMPENSATION = "compensation", _("经济补偿")

    class State(models.TextChoices):
        PROPOSED = "proposed", _("待审批")
        APPROVED = "approved", _("已批准")
        REJECTED = "rejected", _("未批准")

    NEEDS_APPROVAL = (Kind.REFUND, Kind.COMPENSATION)

    complaint = models.ForeignKey(Complaint, on_delete=models.CASCADE, related_name="plans")
    kind = models.CharField(_("处理方式"), max_length=16, choices=Kind.choices)
    description = models.TextField(_("方案内容"))
    amount = models.DecimalField(_("金额（元）"), max_digits=12, decimal_places=2, null=True, blank=True)
    state = models.CharField(_("审批状态"), max_length=10, choices=State.choices, default=State.PROPOSED)
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("提出人"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="+",
    )
    proposed_at = models.DateTimeField(_("提出时间"), default=timezone.now)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("审批人"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="+",
    )
    decided_at = models.DateTimeField(_("审批时间"), null=True, blank=True)
    decision_note = models.TextField(_("审批意见"), blank=True)

    class Meta:
        verbose_name = _("处理方案")
        verbose_name_plural = _("处理方案")
        ordering = ["proposed_at", "id"]

    def __str__(self) -> str:
        return f"{self.complaint_id} {self.kind} {self.state}"

    @property
    def needs_approval(self) -> bool:
        return self.kind in self.NEEDS_APPROVAL


class PrivateComplaintStorage(FileSystemStorage):
    """MEDIA_ROOT/complaints (MEDIA_ROOT is DATA_DIR/private): outside the web root, no URL; files
    are served only by the permission-checked download view. Follows MEDIA_ROOT changes."""

    @cached_property
    def base_location(self) -> str:
        return str(Path(settings.MEDIA_ROOT) / "complaints")

    def url(self, name: str | None) -> str:
        raise ValueError("complaint attachments have no public URL")


def _attachment_storage() -> FileSystemStorage:
    return PrivateComplaintStorage()


def _attachment_path(instance: Attachment, filename: str) -> str:
    now = timezone.now()
    suffix = Path(filename).suffix.lower()[:10]
    return f"{now:%Y/%m}/{instance.complaint_id}-{instance.sha256[:16]}{suffix}"


class Attachment(models.Model):
    class Kind(models.TextChoices):
        EVIDENCE = "evidence", _("投诉人材料")
        LETTER = "letter", _("来信扫描")
        STATEMENT = "statement", _("书面说明")
        RECORDING = "recording", _("录音")
        OTHER = "other", _("其他")

    complaint = models.ForeignKey(Complaint, on_delete=models.CASCADE, related_name="attachments")
    kind = models.CharField(_("类型"), max_length=12, choices=Kind.choices, default=Kind.EVIDENCE)
    file = models.FileField(_("文件"), storage=_attachment_storage, upload_to=_attachment_path, max_length=200)
    original_name = models.CharField(_("原文件名"), max_length=200)
    content_type = models.CharField(_("文件类型"), max_length=100)
    size = models.PositiveIntegerField(_("大小（字节）"))
    sha256 = models.CharField(max_length=64)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("上传人"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="+",
    )
    uploaded_at = models.DateTimeField(_("上传时间"), default=timezone.now)

    class Meta:
        verbose_name = _("投诉附件")
        verbose_name_plural = _("投诉附件")
        ordering = ["uploaded_at", "id"]

    def __str__(self) -> str:
        return self.original_name


class ComplaintNotification(models.Model):
    """An in-app notice to a staff member: a deadline is near, a deadline is breached (escalation)."""

    class Kind(models.TextChoices):
        REMINDER = "reminder", _("即将到期提醒")
        BREACH = "breach", _("超时升级")
        ASSIGNED = "assigned", _("待办分派")

    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="complaint_notifications")
    complaint = models.ForeignKey(Complaint, on_delete=models.CASCADE, related_name="notifications")
    deadline = models.ForeignKey(ComplaintDeadline, null=True, blank=True, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(_("类型"), max_length=10, choices=Kind.choices)
    message = models.CharField(_("内容"), max_length=300)
    created_at = models.DateTimeField(_("时间"), default=timezone.now)
    read_at = models.DateTimeField(_("已读于"), null=True, blank=True)

    class Meta:
        verbose_name = _("投诉通知")
        verbose_name_plural = _("投诉通知")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["recipient", "deadline", "kind"], name="complaint_notification_once"),
        ]
        indexes = [models.Index(fields=["recipient", "read_at", "-created_at"], name="complaint_notice_inbox")]

    def __str__(self) -> str:
        return f"{self.kind} → {self.recipient_id} ({self.complaint_id})"
from .models_extra import CaseStudy, CaseTag, Praise, RectificationItem, RectificationNotice  # noqa: E402, F401  (praise, rectification, case library)
