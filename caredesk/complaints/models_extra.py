"""Praise (表扬), rectification items (整改) and the case library (案例库): the parts of the complaints
module built around the case itself. Imported at the end of ``models.py`` so Django registers them
in the ``complaints`` app; the writes live in ``praise.py``, ``rectification.py`` and ``caselib.py``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files.storage import FileSystemStorage
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from caredesk.core import pii
from caredesk.core.pii import EncryptedTextField

from .models import Channel

# --- Praise -----------------------------------------------------------------------------------------


class Praise(models.Model):
    """A letter, banner or word of thanks for a person or a department, counted per person and per
    department (the staff-quality module reads ``praise.praise_counts``)."""

    class Kind(models.TextChoices):
        LETTER = "letter", _("表扬信")
        BANNER = "banner", _("锦旗")
        VERBAL = "verbal", _("口头表扬")
        ONLINE = "online", _("网上表扬")
        OTHER = "other", _("其他")

    ref_no = models.CharField(_("表扬编号"), max_length=20, unique=True)
    channel = models.CharField(_("渠道"), max_length=16, choices=Channel.choices)
    kind = models.CharField(_("形式"), max_length=10, choices=Kind.choices)
    department = models.ForeignKey(
        "accounts.Department", verbose_name=_("受表扬科室"), on_delete=models.PROTECT, related_name="praises",
    )
    staff_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("受表扬员工"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="praises",
    )
    staff_doctor = models.ForeignKey(
        "accounts.Doctor", verbose_name=_("受表扬医生"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="praises",
    )
    staff_name = models.CharField(_("受表扬人员（姓名）"), max_length=60, blank=True)
    content = models.TextField(_("表扬内容"))
    praiser_name = EncryptedTextField(_("表扬人"), blank=True)
    praiser_phone = EncryptedTextField(_("联系电话"), blank=True)
    praiser_phone_bidx = models.CharField(max_length=64, blank=True, db_index=True, editable=False)
    received_at = models.DateTimeField(_("收到时间"))
    registered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("登记人"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="praises_registered",
    )
    created_at = models.DateTimeField(_("登记时间"), default=timezone.now)

    scope_department_field = "department"

    class Meta:
        verbose_name = _("表扬")
        verbose_name_plural = _("表扬")
        ordering = ["-received_at", "-id"]
        # The monthly bulletin has no model of its own; its permission lives here.
        permissions = [("view_bulletin", _("查看投诉统计简报"))]
        indexes = [
            models.Index(fields=["department", "-received_at"], name="praise_dept_recv"),
            models.Index(fields=["-received_at"], name="praise_recv"),
        ]

    def __str__(self) -> str:
        return self.ref_no

    @property
    def person_label(self) -> str:
        if self.staff_doctor_id:
            return self.staff_doctor.name if self.staff_doctor else ""
        if self.staff_user_id and self.staff_user:
            return self.staff_user.display_name or self.staff_user.username
        return self.staff_name

    @property
    def masked_praiser(self) -> str:
        return pii.mask_name(self.praiser_name)


# --- Rectification ----------------------------------------------------------------------------------


def _private_storage() -> FileSystemStorage:
    """Evidence files live under DATA_DIR/private/rectification: never a static URL."""
    return FileSystemStorage(location=Path(settings.MEDIA_ROOT) / "rectification", base_url=None)


def _evidence_path(instance: RectificationItem, filename: str) -> str:
    suffix = Path(filename).suffix.lower()[:10]
    return f"{timezone.now():%Y/%m}/{instance.pk}-{timezone.now():%d%H%M%S}{suffix}"


class RectificationQuerySet(models.QuerySet["RectificationItem"]):
    def open(self) -> RectificationQuerySet:
        return self.filter(status__in=RectificationItem.OPEN_STATUSES)

    def overdue(self, today: Any = None) -> RectificationQuerySet:
        today = today or timezone.localdate()
        return self.filter(status=RectificationItem.Status.OPEN, due_date__lt=today)


class RectificationItem(models.Model):
    """One improvement a department owes after a complaint (or, later, a survey finding): who does
    it, by when, the evidence, and a second person's verification that it was done and worked.

    open → submitted (evidence given) → verified (accepted) — or back to open when the verifier
    rejects the evidence. An open item past its due date is escalated by the sweep, once per
    level."""

    class Status(models.TextChoices):
        OPEN = "open", _("整改中")
        SUBMITTED = "submitted", _("待验证")
        VERIFIED = "verified", _("已验证")

    class Result(models.TextChoices):
        EFFECTIVE = "effective", _("整改有效")
        INEFFECTIVE = "ineffective", _("整改不到位")

    OPEN_STATUSES = (Status.OPEN, Status.SUBMITTED)

    complaint = models.ForeignKey(
        "complaints.Complaint", verbose_name=_("关联投诉"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="rectifications",
    )
    source_type = models.CharField(_("来源类型"), max_length=60, blank=True, help_text=_("如 surveys.response"))
    source_id = models.CharField(_("来源编号"), max_length=64, blank=True)
    title = models.CharField(_("整改事项"), max_length=120)
    topic = models.CharField(_("主题"), max_length=60, blank=True, help_text=_("与满意度调查题目对应，如 服务态度、候诊时间"))
    measures = models.TextField(_("整改措施"))
    department = models.ForeignKey(
        "accounts.Department", verbose_name=_("责任科室"), on_delete=models.PROTECT, related_name="rectifications",
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("责任人"), on_delete=models.PROTECT, related_name="rectifications",
    )
    due_date = models.DateField(_("整改期限"))
    status = models.CharField(_("状态"), max_length=10, choices=Status.choices, default=Status.OPEN)

    evidence_text = models.TextField(_("整改情况说明"), blank=True)
    evidence_file = models.FileField(
        _("佐证材料"), storage=_private_storage, upload_to=_evidence_path, max_length=200, blank=True,
    )
    evidence_name = models.CharField(_("材料原文件名"), max_length=200, blank=True)
    evidence_at = models.DateTimeField(_("提交时间"), null=True, blank=True)

    verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("验证人"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="+",
    )
    verified_at = models.DateTimeField(_("验证时间"), null=True, blank=True)
    result = models.CharField(_("验证结果"), max_length=12, choices=Result.choices, blank=True)
    verification_note = models.TextField(_("验证意见"), blank=True)

    escalation_level = models.PositiveSmallIntegerField(_("升级级别"), default=0)
    escalated_at = models.DateTimeField(_("最近升级时间"), null=True, blank=True)

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("创建人"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="+",
    )
    created_at = models.DateTimeField(_("创建时间"), default=timezone.now)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    scope_department_field = "department"
    objects = RectificationQuerySet.as_manager()

    class Meta:
        verbose_name = _("整改事项")
        verbose_name_plural = _("整改事项")
        ordering = ["due_date", "id"]
        permissions = [("verify_rectificationitem", _("验证整改"))]
        indexes = [
            models.Index(fields=["department", "status", "due_date"], name="rectif_dept_status_due"),
            models.Index(fields=["owner", "status"], name="rectif_owner_status"),
            models.Index(fields=["source_type", "source_id"], name="rectif_source"),
            models.Index(fields=["due_date"], name="rectif_overdue", condition=Q(status="open")),
        ]

    def __str__(self) -> str:
        return self.title

    def is_overdue(self, today: Any = None) -> bool:
        return self.status == self.Status.OPEN and self.due_date < (today or timezone.localdate())


class RectificationNotice(models.Model):
    """An in-app notice about an overdue rectification item: one per person, item and level."""

    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="rectification_notices")
    item = models.ForeignKey(RectificationItem, on_delete=models.CASCADE, related_name="notices")
    level = models.PositiveSmallIntegerField(_("升级级别"))
    message = models.CharField(_("内容"), max_length=300)
    created_at = models.DateTimeField(_("时间"), default=timezone.now)
    read_at = models.DateTimeField(_("已读于"), null=True, blank=True)

    class Meta:
        verbose_name = _("整改超期通知")
        verbose_name_plural = _("整改超期通知")
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["recipient", "item", "level"], name="rectif_notice_once")]

    def __str__(self) -> str:
        return f"{self.item_id} L{self.level} → {self.recipient_id}"


# --- Case library -----------------------------------------------------------------------------------


class CaseTag(models.Model):
    name = models.CharField(_("标签"), max_length=30, unique=True)

    class Meta:
        verbose_name = _("案例标签")
        verbose_name_plural = _("案例标签")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class CaseStudy(models.Model):
    """A closed complaint rewritten for training: the text is de-identified automatically (names,
    numbers, dates → placeholders) when the draft is made, then a person from the quality office or
    the supervisor reviews, edits and publishes it. Only published cases are in the library."""

    class State(models.TextChoices):
        DRAFT = "draft", _("待审核")
        PUBLISHED = "published", _("已发布")
        WITHDRAWN = "withdrawn", _("已撤回")

    complaint = models.OneToOneField(
        "complaints.Complaint", verbose_name=_("来源投诉"), on_delete=models.PROTECT, related_name="case_study",
    )
    title = models.CharField(_("标题"), max_length=120)
    category = models.CharField(_("类别"), max_length=20, blank=True)
    department_name = models.CharField(_("科室"), max_length=64, blank=True)
    narrative = models.TextField(_("案情经过"))
    handling = models.TextField(_("处理经过"), blank=True)
    lessons = models.TextField(_("经验教训"), blank=True)
    tags = models.ManyToManyField(CaseTag, verbose_name=_("标签"), blank=True, related_name="cases")
    state = models.CharField(_("状态"), max_length=10, choices=State.choices, default=State.DRAFT)
    replacements = models.PositiveIntegerField(_("自动脱敏处数"), default=0)
    drafted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("起草人"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="+",
    )
    drafted_at = models.DateTimeField(_("起草时间"), default=timezone.now)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("审核发布人"), null=True, blank=True, on_delete=models.PROTECT,
        related_name="+",
    )
    published_at = models.DateTimeField(_("发布时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("投诉案例")
        verbose_name_plural = _("投诉案例")
        ordering = ["-published_at", "-id"]
        permissions = [("publish_casestudy", _("审核发布投诉案例"))]
        indexes = [models.Index(fields=["state", "-published_at"], name="casestudy_state_pub")]

    def __str__(self) -> str:
        return self.title
