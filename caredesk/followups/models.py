"""Follow-up centre (回访/随访): plan templates and their steps, the plans started for a patient's
visit or stay, the generated call tasks (one per plan step and repetition, enforced by a unique
constraint), call attempts, follow-up records, urgent alerts, agent skills and absences, and the
weekly report with its signed, immutable archive."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from caredesk.core.pii import EncryptedTextField


class Channel(models.TextChoices):
    PHONE = "phone", _("电话")
    SMS = "sms", _("短信")
    WECHAT = "wechat", _("微信")
    HOME_VISIT = "home_visit", _("上门")


class PlanTemplate(models.Model):
    class Trigger(models.TextChoices):
        DISCHARGE = "discharge", _("出院")
        FIRST_OUTPATIENT = "first_outpatient", _("门诊初诊")
        ANY_OUTPATIENT = "any_outpatient", _("每次门诊")
        COMPLAINT_CLOSED = "complaint_closed", _("投诉结案")
        NEGATIVE_SURVEY = "negative_survey", _("调查差评")

    name = models.CharField(_("名称"), max_length=80)
    code = models.SlugField(_("编码"), max_length=40, unique=True)
    trigger = models.CharField(_("触发"), max_length=20, choices=Trigger.choices)
    departments = models.ManyToManyField(
        "accounts.Department", verbose_name=_("适用科室"), blank=True, related_name="+",
        help_text=_("留空表示全部科室；选中科室包含其下级科室。"),
    )
    disabled_departments = models.ManyToManyField(
        "accounts.Department", verbose_name=_("关闭此计划的科室"), blank=True, related_name="+",
        help_text=_("这些科室（含下级）不生成此计划，例如只回访初诊的科室关闭次日回访。"),
    )
    diagnosis_pattern = models.CharField(
        _("诊断匹配"), max_length=200, blank=True,
        help_text=_("多个关键词或编码前缀用逗号分隔，命中诊断名称或诊断编码之一即适用；留空表示不限。"),
    )
    customer_types = models.JSONField(_("客户类型"), default=list, blank=True, help_text=_("留空表示不限。"))
    vip_only = models.BooleanField(_("仅 VIP"), default=False)
    min_age = models.PositiveSmallIntegerField(_("最小年龄"), null=True, blank=True)
    max_age = models.PositiveSmallIntegerField(_("最大年龄"), null=True, blank=True)
    stop_when_cured = models.BooleanField(
        _("治愈确认后停止"), default=False,
        help_text=_("转归为治愈的患者，首次电话确认已康复后不再回访。"),
    )
    skip_when = models.ForeignKey(
        "self", verbose_name=_("与此计划互斥"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        help_text=_("同一次就诊已适用所选计划时，不再生成本计划（如初诊只做首次回访）。"),
    )
    priority = models.SmallIntegerField(_("优先级"), default=0, help_text=_("数字越大越靠前。"))
    is_active = models.BooleanField(_("启用"), default=True)
    created_at = models.DateTimeField(_("创建时间"), default=timezone.now)

    class Meta:
        verbose_name = _("回访计划模板")
        verbose_name_plural = _("回访计划模板")
        ordering = ["-priority", "code"]
        permissions = [
            ("work_followups", _("处理回访任务")),
            ("supervise_followups", _("分派与审核回访")),
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        if self.min_age is not None and self.max_age is not None and self.min_age > self.max_age:
            raise ValidationError(_("最小年龄不能大于最大年龄。"))


class PlanStep(models.Model):
    class Unit(models.TextChoices):
        CALENDAR_DAYS = "calendar_days", _("自然日（遇节假日顺延）")
        WORKING_DAYS = "working_days", _("工作日")

    template = models.ForeignKey(PlanTemplate, verbose_name=_("模板"), on_delete=models.CASCADE, related_name="steps")
    order = models.PositiveSmallIntegerField(_("序号"))
    label = models.CharField(_("名称"), max_length=60)
    offset = models.PositiveSmallIntegerField(_("距触发天数"))
    unit = models.CharField(_("天数单位"), max_length=16, choices=Unit.choices, default=Unit.CALENDAR_DAYS)
    repeat_every_months = models.PositiveSmallIntegerField(
        _("此后每隔几个月"), null=True, blank=True, help_text=_("填写后本步骤在上述天数之后每隔 N 个自然月重复。"),
    )
    repeat_until_months = models.PositiveSmallIntegerField(
        _("重复至触发后几个月"), null=True, blank=True,
    )
    channel = models.CharField(_("方式"), max_length=12, choices=Channel.choices, default=Channel.PHONE)
    questionnaire_code = models.CharField(_("回访记录表"), max_length=60, blank=True)
    script = models.TextField(_("话术"), blank=True)

    class Meta:
        verbose_name = _("回访步骤")
        verbose_name_plural = _("回访步骤")
        ordering = ["template", "order"]
        constraints = [models.UniqueConstraint(fields=["template", "order"], name="followup_step_order_unique")]

    def __str__(self) -> str:
        return f"{self.template.code}#{self.order} {self.label}"

    def clean(self) -> None:
        if bool(self.repeat_every_months) != bool(self.repeat_until_months):
            raise ValidationError(_("重复间隔与重复截止需同时填写。"))


class FollowupPlan(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", _("进行中")
        CLOSED = "closed", _("已结束")
        WITHDRAWN = "withdrawn", _("已撤销")

    # no index of their own: followup_plan_unique and followup_plan_patient lead with them
    template = models.ForeignKey(PlanTemplate, verbose_name=_("模板"), on_delete=models.PROTECT, related_name="plans",
                                 db_index=False)
    patient = models.ForeignKey("patients.Patient", verbose_name=_("患者"), on_delete=models.CASCADE, related_name="followup_plans",
                                db_index=False)
    encounter = models.ForeignKey(
        "patients.Encounter", verbose_name=_("就诊"), null=True, blank=True, on_delete=models.CASCADE, related_name="followup_plans",
    )
    source_key = models.CharField(_("触发来源"), max_length=60, help_text=_("enc:<就诊编号>、complaint:<编号> 等"))
    trigger_date = models.DateField(_("触发日期"))
    department = models.ForeignKey(
        "accounts.Department", verbose_name=_("科室"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
    )
    status = models.CharField(_("状态"), max_length=10, choices=Status.choices, default=Status.ACTIVE)
    reason = models.CharField(_("原因"), max_length=120, blank=True)
    created_at = models.DateTimeField(_("创建时间"), default=timezone.now)
    closed_at = models.DateTimeField(_("结束时间"), null=True, blank=True)

    scope_department_field = "department"

    class Meta:
        verbose_name = _("回访计划")
        verbose_name_plural = _("回访计划")
        constraints = [models.UniqueConstraint(fields=["template", "source_key"], name="followup_plan_unique")]
        indexes = [models.Index(fields=["patient", "status"], name="followup_plan_patient")]

    def __str__(self) -> str:
        return f"{self.template.code} {self.source_key}"


OPEN_STATUSES = ("open", "assigned")


class FollowupTask(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", _("待分派")
        ASSIGNED = "assigned", _("待回访")
        DONE = "done", _("已完成")
        UNREACHABLE = "unreachable", _("无法联系")
        WITHDRAWN = "withdrawn", _("已撤销")
        CANCELLED = "cancelled", _("已取消")

    plan = models.ForeignKey(FollowupPlan, verbose_name=_("计划"), on_delete=models.CASCADE, related_name="tasks")
    step = models.ForeignKey(PlanStep, verbose_name=_("步骤"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    step_key = models.CharField(_("步骤键"), max_length=20, help_text=_("步骤序号.重复序号"))
    patient = models.ForeignKey("patients.Patient", verbose_name=_("患者"), on_delete=models.CASCADE, related_name="followup_tasks")
    encounter = models.ForeignKey(
        "patients.Encounter", verbose_name=_("就诊"), null=True, blank=True, on_delete=models.CASCADE, related_name="+",
    )
    department = models.ForeignKey(
        "accounts.Department", verbose_name=_("科室"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
    )
    due_date = models.DateField(_("应回访日期"))
    channel = models.CharField(_("方式"), max_length=12, choices=Channel.choices, default=Channel.PHONE)
    status = models.CharField(_("状态"), max_length=12, choices=Status.choices, default=Status.OPEN)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("回访人"), null=True, blank=True, on_delete=models.SET_NULL, related_name="followup_tasks",
    )
    priority = models.SmallIntegerField(_("优先级"), default=0)
    attempts = models.PositiveSmallIntegerField(_("未接通次数"), default=0)
    next_attempt_at = models.DateTimeField(_("下次拨打"), null=True, blank=True)
    outcome = models.CharField(_("最近结果"), max_length=30, blank=True)
    satisfaction = models.PositiveSmallIntegerField(_("满意度"), null=True, blank=True)
    created_at = models.DateTimeField(_("创建时间"), default=timezone.now)
    closed_at = models.DateTimeField(_("完成时间"), null=True, blank=True)

    scope_department_field = "department"

    class Meta:
        verbose_name = _("回访任务")
        verbose_name_plural = _("回访任务")
        constraints = [models.UniqueConstraint(fields=["plan", "step_key"], name="followup_task_step_unique")]
        indexes = [
            models.Index(fields=["status", "due_date"], name="followup_task_due"),
            models.Index(fields=["assignee", "status", "due_date"], name="followup_task_queue"),
            models.Index(fields=["patient", "due_date"], name="followup_task_patient"),
        ]

    def __str__(self) -> str:
        return f"task #{self.pk} {self.step_key} {self.due_date}"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES


class CallAttempt(models.Model):
    class Outcome(models.TextChoices):
        REACHED = "reached", _("已接通")
        NO_ANSWER = "no_answer", _("无人接听")
        BUSY = "busy", _("占线")
        WRONG_NUMBER = "wrong_number", _("号码错误")
        REFUSED = "refused", _("拒绝回访")
        DECEASED = "deceased", _("患者已故")
        CALLBACK = "callback", _("约定回拨")

    task = models.ForeignKey(FollowupTask, verbose_name=_("任务"), on_delete=models.CASCADE, related_name="call_attempts")
    agent = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("回访人"), null=True, on_delete=models.SET_NULL, related_name="+")
    at = models.DateTimeField(_("时间"), default=timezone.now)
    outcome = models.CharField(_("结果"), max_length=16, choices=Outcome.choices)
    callback_at = models.DateTimeField(_("回拨时间"), null=True, blank=True)
    note = models.CharField(_("备注"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("拨打记录")
        verbose_name_plural = _("拨打记录")
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.outcome} @ {self.at:%Y-%m-%d %H:%M}"


class FollowupRecord(models.Model):
    """The follow-up record (回访记录表) of one reached call."""

    task = models.OneToOneField(FollowupTask, verbose_name=_("任务"), on_delete=models.CASCADE, related_name="record")
    patient = models.ForeignKey("patients.Patient", verbose_name=_("患者"), on_delete=models.CASCADE, related_name="+")
    department = models.ForeignKey(
        "accounts.Department", verbose_name=_("科室"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
    )
    agent = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("回访人"), null=True, on_delete=models.SET_NULL, related_name="+")
    response_id = models.BigIntegerField(_("问卷答卷"), null=True, blank=True)
    satisfaction = models.PositiveSmallIntegerField(_("满意度（1–5）"), null=True, blank=True)
    recovered = models.BooleanField(_("已康复"), default=False)
    summary = models.TextField(_("回访小结"), blank=True)
    created_at = models.DateTimeField(_("记录时间"), default=timezone.now)

    scope_department_field = "department"

    class Meta:
        verbose_name = _("回访记录")
        verbose_name_plural = _("回访记录")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(satisfaction__isnull=True) | models.Q(satisfaction__gte=1, satisfaction__lte=5),
                name="followup_record_satisfaction_range",
            )
        ]

    def __str__(self) -> str:
        return f"record of task {self.task_id}"


class FollowupProblem(models.Model):
    """A problem, suggestion or praise the patient raised, in their own words."""

    class Kind(models.TextChoices):
        PROBLEM = "problem", _("问题")
        SUGGESTION = "suggestion", _("建议")
        PRAISE = "praise", _("表扬")

    class Status(models.TextChoices):
        OPEN = "open", _("待处理")
        FORWARDED = "forwarded", _("已转交")
        RESOLVED = "resolved", _("已解决")

    record = models.ForeignKey(FollowupRecord, verbose_name=_("回访记录"), on_delete=models.CASCADE, related_name="problems")
    kind = models.CharField(_("类别"), max_length=12, choices=Kind.choices, default=Kind.PROBLEM)
    words = models.TextField(_("患者原话"))
    status = models.CharField(_("状态"), max_length=10, choices=Status.choices, default=Status.OPEN)
    linked_type = models.CharField(_("转出类型"), max_length=40, blank=True)
    linked_id = models.CharField(_("转出编号"), max_length=40, blank=True)
    created_at = models.DateTimeField(_("记录时间"), default=timezone.now)

    class Meta:
        verbose_name = _("回访问题与建议")
        verbose_name_plural = _("回访问题与建议")
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk}"


class OnDutyContact(models.Model):
    """Who in a department receives urgent follow-up alerts (值班联系人)."""

    department = models.OneToOneField("accounts.Department", verbose_name=_("科室"), on_delete=models.CASCADE, related_name="+")
    name = models.CharField(_("联系人"), max_length=50)
    phone = EncryptedTextField(_("手机号"))

    revealable_fields = ("phone",)

    class Meta:
        verbose_name = _("科室值班联系人")
        verbose_name_plural = _("科室值班联系人")

    def __str__(self) -> str:
        return f"{self.department} on-duty"


class FollowupAlert(models.Model):
    task = models.ForeignKey(FollowupTask, verbose_name=_("任务"), on_delete=models.CASCADE, related_name="alerts")
    patient = models.ForeignKey("patients.Patient", verbose_name=_("患者"), on_delete=models.CASCADE, related_name="+")
    department = models.ForeignKey(
        "accounts.Department", verbose_name=_("科室"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
    )
    reason = models.CharField(_("原因"), max_length=300)
    message_id = models.BigIntegerField(_("短信编号"), null=True, blank=True)
    created_at = models.DateTimeField(_("时间"), default=timezone.now)
    acknowledged_at = models.DateTimeField(_("确认时间"), null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("确认人"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
    )

    scope_department_field = "department"

    class Meta:
        verbose_name = _("紧急提醒")
        verbose_name_plural = _("紧急提醒")
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["task"], name="followup_alert_one_per_task")]

    def __str__(self) -> str:
        return f"alert #{self.pk}"


class AgentProfile(models.Model):
    """An agent's follow-up settings: the departments they can call for (skills) and whether they
    take automatic assignment."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, verbose_name=_("员工"), on_delete=models.CASCADE, related_name="followup_profile")
    skills = models.ManyToManyField(
        "accounts.Department", verbose_name=_("可回访科室"), blank=True, related_name="+",
        help_text=_("留空表示所有科室。"),
    )
    takes_assignments = models.BooleanField(_("参与自动分派"), default=True)
    daily_capacity = models.PositiveSmallIntegerField(_("每日上限"), default=80)

    class Meta:
        verbose_name = _("回访人员设置")
        verbose_name_plural = _("回访人员设置")

    def __str__(self) -> str:
        return f"profile of {self.user}"


class Absence(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, verbose_name=_("员工"), on_delete=models.CASCADE, related_name="followup_absences")
    start = models.DateField(_("开始日期"))
    end = models.DateField(_("结束日期"))
    reason = models.CharField(_("事由"), max_length=60, blank=True)

    class Meta:
        verbose_name = _("请假")
        verbose_name_plural = _("请假")
        ordering = ["-start"]
        constraints = [models.CheckConstraint(condition=models.Q(end__gte=models.F("start")), name="followup_absence_order")]

    def __str__(self) -> str:
        return f"{self.user} {self.start}–{self.end}"


class WeeklyReport(models.Model):
    """The weekly follow-up report (回访报告) of one agent or of the team. Once signed it is frozen:
    ``snapshot`` holds the figures and texts as signed, and nothing may change any more."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("草稿")
        SUBMITTED = "submitted", _("待审核")
        SIGNED = "signed", _("已签发")

    week_start = models.DateField(_("周一"))
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("回访人"), null=True, blank=True, on_delete=models.PROTECT, related_name="+",
        help_text=_("留空表示全组报告。"),
    )
    scope_key = models.CharField(max_length=40, editable=False)
    status = models.CharField(_("状态"), max_length=10, choices=Status.choices, default=Status.DRAFT)
    figures = models.JSONField(_("数据"), default=dict, blank=True)
    agent_notes = models.TextField(_("回访人小结"), blank=True)
    guidance = models.TextField(_("主管指导意见"), blank=True)
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("审核人"), null=True, blank=True, on_delete=models.PROTECT, related_name="+",
    )
    signed_at = models.DateTimeField(_("签发时间"), null=True, blank=True)
    snapshot = models.JSONField(_("签发存档"), null=True, blank=True)
    snapshot_sha256 = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(_("创建时间"), default=timezone.now)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("回访周报")
        verbose_name_plural = _("回访周报")
        ordering = ["-week_start", "scope_key"]
        constraints = [models.UniqueConstraint(fields=["week_start", "scope_key"], name="followup_report_unique")]

    def __str__(self) -> str:
        return f"report {self.week_start} {self.scope_key}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        self.scope_key = f"agent:{self.agent_id}" if self.agent_id else "team"
        if self.pk:
            stored = WeeklyReport.objects.filter(pk=self.pk).values_list("status", flat=True).first()
            if stored == self.Status.SIGNED:
                raise ValidationError(_("已签发的周报不可修改。"))
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        if self.status == self.Status.SIGNED:
            raise ValidationError(_("已签发的周报不可删除。"))
        return super().delete(*args, **kwargs)
