"""Questionnaires: the form engine shared by follow-up records and satisfaction surveys.

A questionnaire has numbered versions; only a draft version is edited, a published version is
frozen and answers (Response/Answer) always point at the version the patient saw. Items belong to a
version, carry a stable ``link_id`` (also the FHIR linkId), a kind, choices with scores, an optional
scoring dimension, conditions (``enable_when``) and red-flag rules.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Dimension(models.Model):
    """A scoring dimension (服务态度, 就诊效率 …); items score into at most one."""

    code = models.SlugField(_("代码"), max_length=40, unique=True)
    name = models.CharField(_("名称"), max_length=40)
    order = models.PositiveSmallIntegerField(_("排序"), default=0)
    is_active = models.BooleanField(_("启用"), default=True)

    class Meta:
        ordering = ["order", "code"]
        verbose_name = _("评分维度")
        verbose_name_plural = _("评分维度")

    def __str__(self) -> str:
        return self.name


class Questionnaire(models.Model):
    class Purpose(models.TextChoices):
        FOLLOWUP = "followup", _("回访记录")
        SURVEY = "survey", _("满意度调查")
        GENERAL = "general", _("通用")

    code = models.SlugField(_("代码"), max_length=60, unique=True)
    title = models.CharField(_("标题"), max_length=120)
    purpose = models.CharField(_("用途"), max_length=16, choices=Purpose.choices, default=Purpose.GENERAL)
    description = models.TextField(_("说明"), blank=True)
    department = models.ForeignKey(
        "accounts.Department", verbose_name=_("适用科室"), null=True, blank=True,
        on_delete=models.SET_NULL, related_name="+",
    )
    is_active = models.BooleanField(_("启用"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["purpose", "code"]
        verbose_name = _("问卷")
        verbose_name_plural = _("问卷")

    def __str__(self) -> str:
        return self.title

    def published_version(self) -> QuestionnaireVersion | None:
        return (
            self.versions.filter(status=QuestionnaireVersion.Status.PUBLISHED).order_by("-number").first()
        )


class QuestionnaireVersion(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", _("草稿")
        PUBLISHED = "published", _("已发布")
        RETIRED = "retired", _("已停用")

    questionnaire = models.ForeignKey(Questionnaire, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField(_("版本号"))
    status = models.CharField(_("状态"), max_length=12, choices=Status.choices, default=Status.DRAFT)
    title = models.CharField(_("标题"), max_length=120)
    introduction = models.TextField(_("开场说明"), blank=True)
    thanks = models.TextField(_("结束语"), blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    published_at = models.DateTimeField(null=True, blank=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["questionnaire", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["questionnaire", "number"], name="questionnaire_version_unique"),
        ]
        verbose_name = _("问卷版本")
        verbose_name_plural = _("问卷版本")

    def __str__(self) -> str:
        return f"{self.title} v{self.number}"

    @property
    def is_editable(self) -> bool:
        return self.status == self.Status.DRAFT


class Section(models.Model):
    version = models.ForeignKey(QuestionnaireVersion, on_delete=models.CASCADE, related_name="sections")
    order = models.PositiveSmallIntegerField(_("排序"), default=0)
    title = models.CharField(_("标题"), max_length=120)
    description = models.TextField(_("说明"), blank=True)

    class Meta:
        ordering = ["version", "order", "id"]
        verbose_name = _("问卷分节")
        verbose_name_plural = _("问卷分节")

    def __str__(self) -> str:
        return self.title


class Item(models.Model):
    class Kind(models.TextChoices):
        SINGLE = "single", _("单选")
        MULTIPLE = "multiple", _("多选")
        RATING = "rating", _("评分（1–5）")
        RECOMMEND = "recommend", _("推荐意愿（0–10）")
        TEXT = "text", _("简答")
        TEXTAREA = "textarea", _("详细回答")
        DATE = "date", _("日期")
        NUMBER = "number", _("数值")

    CHOICE_KINDS = frozenset({Kind.SINGLE, Kind.MULTIPLE})
    SCALE_RANGES = {Kind.RATING: (1, 5), Kind.RECOMMEND: (0, 10)}

    version = models.ForeignKey(QuestionnaireVersion, on_delete=models.CASCADE, related_name="items")
    section = models.ForeignKey(Section, null=True, blank=True, on_delete=models.CASCADE, related_name="items")
    link_id = models.SlugField(_("题目代码"), max_length=60)
    order = models.PositiveSmallIntegerField(_("排序"), default=0)
    text = models.CharField(_("题目"), max_length=300)
    help_text = models.CharField(_("提示"), max_length=300, blank=True)
    kind = models.CharField(_("题型"), max_length=12, choices=Kind.choices)
    required = models.BooleanField(_("必答"), default=False)
    # [{"code": "a", "label": "很满意", "score": 5}, …] for single/multiple choice.
    choices = models.JSONField(_("选项"), default=list, blank=True)
    dimension = models.ForeignKey(
        Dimension, verbose_name=_("评分维度"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # Show this item only when the conditions hold: [{"item": "q1", "op": "=", "value": "no"}, …].
    # Operators: = != > >= < <= in answered unanswered (FHIR enableWhen, our spelling).
    enable_when = models.JSONField(_("显示条件"), default=list, blank=True)
    enable_behavior = models.CharField(
        _("条件组合"), max_length=3, choices=[("all", _("全部满足")), ("any", _("任一满足"))], default="all"
    )
    # Red flags (urgent answers): {"choices": ["worse"], "max": 2, "min": null} — any match raises one.
    red_flag = models.JSONField(_("警示规则"), default=dict, blank=True)
    min_value = models.DecimalField(_("最小值"), max_digits=10, decimal_places=2, null=True, blank=True)
    max_value = models.DecimalField(_("最大值"), max_digits=10, decimal_places=2, null=True, blank=True)

    class Meta:
        ordering = ["version", "order", "id"]
        constraints = [models.UniqueConstraint(fields=["version", "link_id"], name="questionnaire_item_link_unique")]
        verbose_name = _("题目")
        verbose_name_plural = _("题目")

    def __str__(self) -> str:
        return self.text

    @property
    def is_choice(self) -> bool:
        return self.kind in self.CHOICE_KINDS

    def choice_map(self) -> dict[str, dict[str, Any]]:
        return {str(c["code"]): c for c in self.choices}


class Response(models.Model):
    """One filling-in of a questionnaire version, by a patient (H5) or an agent during a call."""

    class Status(models.TextChoices):
        IN_PROGRESS = "in_progress", _("填写中")
        COMPLETED = "completed", _("已提交")

    class Channel(models.TextChoices):
        PHONE = "phone", _("电话")
        SMS_LINK = "sms_link", _("短信链接")
        QR = "qr", _("扫码")
        WECHAT = "wechat", _("微信")
        PAPER = "paper", _("纸质录入")
        HOME_VISIT = "home_visit", _("家访")
        OTHER = "other", _("其他")

    version = models.ForeignKey(QuestionnaireVersion, on_delete=models.PROTECT, related_name="responses")
    questionnaire = models.ForeignKey(Questionnaire, on_delete=models.PROTECT, related_name="responses")
    patient = models.ForeignKey(
        "patients.Patient", null=True, blank=True, on_delete=models.SET_NULL, related_name="questionnaire_responses"
    )
    # The visit the answers are about (its department, doctor and ward drive the statistics).
    encounter = models.ForeignKey(
        "patients.Encounter", null=True, blank=True, on_delete=models.SET_NULL, related_name="questionnaire_responses"
    )
    department = models.ForeignKey(
        "accounts.Department", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    doctor = models.ForeignKey("accounts.Doctor", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    channel = models.CharField(_("渠道"), max_length=12, choices=Channel.choices, default=Channel.OTHER)
    status = models.CharField(_("状态"), max_length=12, choices=Status.choices, default=Status.IN_PROGRESS)
    # What this response belongs to, e.g. ("followups.followuptask", "42") or ("surveys.invitation", "7").
    source_type = models.CharField(max_length=60, blank=True)
    source_id = models.CharField(max_length=40, blank=True)
    respondent = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        help_text=_("代患者录入的员工；患者自己填写时为空。"),
    )
    started_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    total_score = models.DecimalField(max_digits=6, decimal_places=2, null=True, blank=True)
    # {"attitude": 4.5, …}: the mean item score per dimension code.
    dimension_scores = models.JSONField(default=dict, blank=True)
    recommend = models.PositiveSmallIntegerField(null=True, blank=True)
    red_flags = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-started_at"]
        indexes = [
            models.Index(fields=["source_type", "source_id"], name="qresponse_source_idx"),
            models.Index(fields=["questionnaire", "submitted_at"], name="qresponse_submitted_idx"),
        ]
        verbose_name = _("问卷答卷")
        verbose_name_plural = _("问卷答卷")

    def __str__(self) -> str:
        return f"{self.questionnaire_id}/{self.pk}"

    @property
    def has_red_flag(self) -> bool:
        return bool(self.red_flags)


class Answer(models.Model):
    response = models.ForeignKey(Response, on_delete=models.CASCADE, related_name="answers")
    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="answers")
    value_text = models.TextField(blank=True)
    value_number = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    value_choices = models.JSONField(default=list, blank=True)
    value_date = models.DateField(null=True, blank=True)
    score = models.DecimalField(max_digits=6, decimal_places=2, null=True, blank=True)

    class Meta:
        ordering = ["response", "item__order", "item_id"]
        constraints = [models.UniqueConstraint(fields=["response", "item"], name="questionnaire_answer_unique")]
        verbose_name = _("答案")
        verbose_name_plural = _("答案")

    def __str__(self) -> str:
        return f"{self.response_id}:{self.item_id}"
