"""Satisfaction surveys: who is invited when (SurveyRule → Invitation), opt-outs, anonymous QR
entry points per department or ward, and the closed loop for bad answers (FeedbackItem).

The answers themselves are ``questionnaires.Response`` rows (source ``surveys.invitation`` /
``surveys.departmentqr``); statistics read those plus the invitations (response rate).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class SurveyRule(models.Model):
    """When to invite whom: a trigger, an offset in days, the questionnaire, departments."""

    class Trigger(models.TextChoices):
        OUTPATIENT_VISIT = "outpatient_visit", _("门诊就诊后")
        DISCHARGE = "discharge", _("出院后")
        COMPLAINT_CLOSED = "complaint_closed", _("投诉办结后")

    class Channel(models.TextChoices):
        SMS = "sms", _("短信链接")

    name = models.CharField(_("名称"), max_length=80)
    trigger = models.CharField(_("触发事件"), max_length=20, choices=Trigger.choices)
    offset_days = models.PositiveSmallIntegerField(
        _("延后天数"), default=1, help_text=_("事件发生后第几天发送：门诊通常为次日（1），出院为 +N 天。")
    )
    questionnaire = models.ForeignKey(
        "questionnaires.Questionnaire", verbose_name=_("问卷"), on_delete=models.PROTECT, related_name="survey_rules"
    )
    departments = models.ManyToManyField(
        "accounts.Department", verbose_name=_("适用科室"), blank=True, related_name="+",
        help_text=_("不选则适用于全部科室。"),
    )
    channel = models.CharField(_("渠道"), max_length=10, choices=Channel.choices, default=Channel.SMS)
    valid_days = models.PositiveSmallIntegerField(_("链接有效天数"), default=7)
    is_active = models.BooleanField(_("启用"), default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("创建时间"), default=timezone.now)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        ordering = ["trigger", "name"]
        verbose_name = _("调查规则")
        verbose_name_plural = _("调查规则")

    def __str__(self) -> str:
        return self.name


class Invitation(models.Model):
    """One patient invited to answer one questionnaire about one visit. The link token is stored
    only as its SHA-256; the raw token is derived from ``token_salt`` and the server secret when a
    message is written (first SMS and reminder) and never stored."""

    class Status(models.TextChoices):
        PENDING = "pending", _("待发送")
        SENT = "sent", _("已发送")
        OPENED = "opened", _("已打开")
        ANSWERED = "answered", _("已作答")
        EXPIRED = "expired", _("已过期")
        OPTED_OUT = "opted_out", _("已退订")
        SKIPPED = "skipped", _("未发送")

    class SkipReason(models.TextChoices):
        NONE = "", _("—")
        FATIGUE = "fatigue", _("30 天内已邀请过")
        OPTED_OUT = "opted_out", _("患者已退订")
        NO_CONSENT = "no_consent", _("未同意短信调查")
        DO_NOT_CONTACT = "do_not_contact", _("拒绝联系")
        DECEASED = "deceased", _("患者已故")
        NO_MOBILE = "no_mobile", _("无手机号")
        NO_QUESTIONNAIRE = "no_questionnaire", _("问卷未发布")
        CANCELLED = "cancelled", _("就诊已取消")
        TOO_LATE = "too_late", _("已过发送期限")

    OPEN_STATUSES = (Status.PENDING, Status.SENT, Status.OPENED)

    rule = models.ForeignKey(SurveyRule, verbose_name=_("规则"), on_delete=models.PROTECT, related_name="invitations")
    patient = models.ForeignKey(
        "patients.Patient", verbose_name=_("患者"), on_delete=models.CASCADE, related_name="survey_invitations"
    )
    encounter = models.ForeignKey(
        "patients.Encounter", verbose_name=_("就诊记录"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="survey_invitations",
    )
    # What caused it ("encounter:12", "complaint:7"): unique per rule, so re-runs never duplicate.
    source_key = models.CharField(max_length=60)
    department = models.ForeignKey(
        "accounts.Department", verbose_name=_("科室"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    doctor = models.ForeignKey(
        "accounts.Doctor", verbose_name=_("医生"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    version = models.ForeignKey(
        "questionnaires.QuestionnaireVersion", verbose_name=_("问卷版本"), null=True, blank=True,
        on_delete=models.PROTECT, related_name="+",
    )
    token_salt = models.CharField(max_length=32, editable=False)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    scheduled_at = models.DateTimeField(_("计划发送时间"))
    expires_at = models.DateTimeField(_("链接失效时间"))
    status = models.CharField(_("状态"), max_length=10, choices=Status.choices, default=Status.PENDING)
    skip_reason = models.CharField(_("未发送原因"), max_length=20, choices=SkipReason.choices, blank=True, default="")
    sent_at = models.DateTimeField(_("发送时间"), null=True, blank=True)
    opened_at = models.DateTimeField(_("打开时间"), null=True, blank=True)
    answered_at = models.DateTimeField(_("作答时间"), null=True, blank=True)
    reminders_sent = models.PositiveSmallIntegerField(_("已提醒次数"), default=0)
    last_reminder_at = models.DateTimeField(_("最近提醒时间"), null=True, blank=True)
    response = models.ForeignKey(
        "questionnaires.Response", verbose_name=_("答卷"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("创建时间"), default=timezone.now)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    scope_department_field = "department"

    class Meta:
        ordering = ["-scheduled_at", "-id"]
        verbose_name = _("调查邀请")
        verbose_name_plural = _("调查邀请")
        constraints = [
            models.UniqueConstraint(fields=["rule", "source_key"], name="survey_invitation_rule_source"),
            models.UniqueConstraint(
                fields=["rule", "encounter"], condition=Q(encounter__isnull=False), name="survey_invitation_rule_encounter"
            ),
        ]
        indexes = [
            models.Index(fields=["status", "scheduled_at"], name="survey_inv_due_idx"),
            models.Index(fields=["patient", "scheduled_at"], name="survey_inv_patient_idx"),
            models.Index(fields=["department", "scheduled_at"], name="survey_inv_dept_idx"),
        ]
        permissions = [("enter_by_phone", _("电话中代患者填写满意度问卷"))]

    def __str__(self) -> str:
        return f"{self.rule_id}/{self.pk}"

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES and self.expires_at > timezone.now()


class OptOut(models.Model):
    """A patient (or a phone number) that asked not to receive survey messages."""

    patient = models.ForeignKey(
        "patients.Patient", verbose_name=_("患者"), null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    phone_bidx = models.CharField(max_length=64, blank=True, db_index=True)
    invitation = models.ForeignKey(
        Invitation, verbose_name=_("来源邀请"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    source = models.CharField(_("来源"), max_length=20, default="link")
    created_at = models.DateTimeField(_("退订时间"), default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("退订记录")
        verbose_name_plural = _("退订记录")
        indexes = [models.Index(fields=["patient"], name="survey_optout_patient_idx")]

    def __str__(self) -> str:
        return f"optout {self.pk}"


class DepartmentQR(models.Model):
    """An anonymous entry point printed as a poster in a department or ward."""

    department = models.ForeignKey(
        "accounts.Department", verbose_name=_("科室/病区"), on_delete=models.CASCADE, related_name="+"
    )
    location = models.CharField(_("张贴位置"), max_length=80, blank=True, help_text=_("如：门诊二楼候诊区、5 楼东病区。"))
    questionnaire = models.ForeignKey(
        "questionnaires.Questionnaire", verbose_name=_("问卷"), on_delete=models.PROTECT, related_name="+"
    )
    token = models.CharField(max_length=32, unique=True, editable=False)
    is_active = models.BooleanField(_("启用"), default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("创建时间"), default=timezone.now)

    scope_department_field = "department"

    class Meta:
        ordering = ["department__sort_order", "department__code", "location"]
        verbose_name = _("科室二维码")
        verbose_name_plural = _("科室二维码")

    def __str__(self) -> str:
        return f"{self.department_id}/{self.location}"


class FeedbackItem(models.Model):
    """The closed loop for a bad answer (收集-分析-整改-复核): the responsible department calls the
    patient within the deadline, rectifies when warranted, and the item closes only after a re-check."""

    class Status(models.TextChoices):
        OPEN = "open", _("待联系")
        CONTACTED = "contacted", _("已联系")
        RECTIFYING = "rectifying", _("整改中")
        RECHECKING = "rechecking", _("待复核")
        CLOSED = "closed", _("已关闭")

    class CallOutcome(models.TextChoices):
        NONE = "", _("—")
        REACHED = "reached", _("已沟通")
        NO_ANSWER = "no_answer", _("未接通")
        REFUSED = "refused", _("患者拒绝沟通")
        WRONG_NUMBER = "wrong_number", _("号码错误")

    class RecheckResult(models.TextChoices):
        NONE = "", _("—")
        PASSED = "passed", _("复核通过")
        FAILED = "failed", _("复核未通过")

    OPEN_STATUSES = (Status.OPEN, Status.CONTACTED, Status.RECTIFYING, Status.RECHECKING)

    response = models.ForeignKey(
        "questionnaires.Response", verbose_name=_("来源答卷"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )
    # Other sources (a follow-up call …): ("followups.followuptask", "42").
    source_type = models.CharField(max_length=60, blank=True)
    source_id = models.CharField(max_length=40, blank=True)
    patient = models.ForeignKey(
        "patients.Patient", verbose_name=_("患者"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    department = models.ForeignKey(
        "accounts.Department", verbose_name=_("责任科室"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )
    # [{"kind": "dimension", "code": "attitude", "value": 1.5}, {"kind": "recommend", "value": 3},
    #  {"kind": "negative_text", "item": "comment", "score": 0.08}, {"kind": "manual", "text": "…"}]
    reasons = models.JSONField(_("触发原因"), default=list, blank=True)
    summary = models.CharField(_("摘要"), max_length=300, blank=True)
    status = models.CharField(_("状态"), max_length=12, choices=Status.choices, default=Status.OPEN)
    due_at = models.DateTimeField(_("处理期限"))
    is_overdue = models.BooleanField(_("已超时"), default=False)
    overdue_marked_at = models.DateTimeField(null=True, blank=True)
    call_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("回访人"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )
    call_at = models.DateTimeField(_("回访时间"), null=True, blank=True)
    call_outcome = models.CharField(_("回访结果"), max_length=16, choices=CallOutcome.choices, blank=True, default="")
    call_note = models.TextField(_("回访记录"), blank=True)
    rectification_note = models.TextField(_("整改措施"), blank=True)
    rectification_link = models.CharField(_("整改单链接"), max_length=300, blank=True)
    rectified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("整改登记人"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )
    rectified_at = models.DateTimeField(_("整改登记时间"), null=True, blank=True)
    recheck_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("复核人"), null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )
    recheck_at = models.DateTimeField(_("复核时间"), null=True, blank=True)
    recheck_result = models.CharField(_("复核结论"), max_length=10, choices=RecheckResult.choices, blank=True, default="")
    recheck_note = models.TextField(_("复核意见"), blank=True)
    closed_at = models.DateTimeField(_("关闭时间"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("创建时间"), default=timezone.now)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    scope_department_field = "department"

    class Meta:
        ordering = ["due_at", "id"]
        verbose_name = _("反馈整改单")
        verbose_name_plural = _("反馈整改单")
        constraints = [
            models.UniqueConstraint(
                fields=["response"], condition=Q(response__isnull=False), name="survey_feedback_one_per_response"
            ),
        ]
        indexes = [
            models.Index(fields=["status", "due_at"], name="survey_fb_board_idx"),
            models.Index(fields=["department", "status", "due_at"], name="survey_fb_dept_idx"),
            models.Index(fields=["is_overdue", "status"], name="survey_fb_overdue_idx"),
            models.Index(fields=["source_type", "source_id"], name="survey_fb_source_idx"),
        ]
        permissions = [("recheck_feedbackitem", _("复核反馈整改单"))]

    def __str__(self) -> str:
        return f"feedback {self.pk}"

    @property
    def is_closed(self) -> bool:
        return self.status == self.Status.CLOSED

    @property
    def overdue_now(self) -> bool:
        return self.status != self.Status.CLOSED and self.due_at < timezone.now()
from .models_stats import *  # noqa: E402, F403 - the statistics tables (survey-stats: models_stats.py)
