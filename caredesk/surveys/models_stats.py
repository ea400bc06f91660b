"""Pre-aggregated survey statistics (read by the dashboard; never written by hand).

Every table holds rows at three grains: ``D`` (one day), ``W`` (a Monday-to-Sunday week, ``day`` is
the Monday) and ``M`` (a calendar month, ``day`` is the 1st). Day rows are built from the answers by
``surveys.aggregates.rebuild_day``; week and month rows are sums of day rows, rebuilt with them.
Each row also carries the ``week`` and ``month`` it belongs to (week rows have no month, month rows
no week), so a period is read as whole months (or weeks) plus the days at its edges, and grouped by
week or month whatever the grain of the rows read.

Keys: questionnaire, department, doctor (not on item and text tables), ``setting`` (the encounter's
kind: 门诊 outpatient / 住院 inpatient — a "ward" in the statistics is an inpatient department) and
the answering channel. Null keys are kept (a QR answer has no doctor).
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

__all__ = [
    "CommentInsight", "DailyDimensionStat", "DailyItemStat", "DailyKeywordStat", "DailyResponseStat", "DailyThemeStat",
    "Grain", "StatBuild",
]


class Grain(models.TextChoices):
    DAY = "D", _("日")
    WEEK = "W", _("周")
    MONTH = "M", _("月")


class StatBase(models.Model):
    grain = models.CharField(max_length=1, choices=Grain.choices, default=Grain.DAY)
    day = models.DateField()
    week = models.DateField(null=True)
    month = models.DateField(null=True)
    questionnaire = models.ForeignKey("questionnaires.Questionnaire", on_delete=models.CASCADE, related_name="+")
    department = models.ForeignKey("accounts.Department", null=True, on_delete=models.CASCADE, related_name="+")
    setting = models.CharField(max_length=10, blank=True)
    channel = models.CharField(max_length=12, blank=True)

    scope_department_field = "department"

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{self.grain} {self.day} q{self.questionnaire_id} d{self.department_id}"


class DailyResponseStat(StatBase):
    """Responses per day × questionnaire × department × doctor × setting × channel."""

    doctor = models.ForeignKey("accounts.Doctor", null=True, on_delete=models.CASCADE, related_name="+")
    responses = models.PositiveIntegerField(default=0)
    score_sum = models.FloatField(default=0)  # every scored answer (for the overall mean)
    score_count = models.PositiveIntegerField(default=0)
    recommend_count = models.PositiveIntegerField(default=0)
    recommend_sum = models.PositiveIntegerField(default=0)
    promoters = models.PositiveIntegerField(default=0)  # recommend 9–10
    passives = models.PositiveIntegerField(default=0)  # 7–8
    detractors = models.PositiveIntegerField(default=0)  # 0–6
    comments = models.PositiveIntegerField(default=0)  # responses with free text
    negative_comments = models.PositiveIntegerField(default=0)
    high_score_negative = models.PositiveIntegerField(default=0)
    invitations_sent = models.PositiveIntegerField(default=0)
    invitations_answered = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("答卷日统计")
        verbose_name_plural = _("答卷日统计")
        indexes = [
            models.Index(fields=["grain", "questionnaire", "day"], name="srs_grain_q_day"),
            models.Index(fields=["grain", "day"], name="srs_grain_day"),
            models.Index(fields=["department", "grain", "day"], name="srs_dept_grain_day"),
            models.Index(fields=["doctor", "grain", "day"], name="srs_doctor_grain_day"),
        ]


class DailyDimensionStat(StatBase):
    """Item scores per dimension (服务态度 …): sum and count, for the mean per dimension."""

    doctor = models.ForeignKey("accounts.Doctor", null=True, on_delete=models.CASCADE, related_name="+")
    dimension = models.ForeignKey("questionnaires.Dimension", on_delete=models.CASCADE, related_name="+")
    score_sum = models.FloatField(default=0)
    score_count = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("维度日统计")
        verbose_name_plural = _("维度日统计")
        indexes = [
            models.Index(fields=["grain", "questionnaire", "day"], name="sds_grain_q_day"),
            models.Index(fields=["department", "grain", "day"], name="sds_dept_grain_day"),
            models.Index(fields=["doctor", "grain", "day"], name="sds_doctor_grain_day"),
        ]


SCORE_VALUES = range(11)  # n0 … n10: how many answers scored 0 … 10


class DailyItemStat(StatBase):
    """Answers per item: count, score sum and the distribution of scores 0–10 (no doctor key)."""

    item = models.ForeignKey("questionnaires.Item", on_delete=models.CASCADE, related_name="+")
    answers = models.PositiveIntegerField(default=0)
    scored = models.PositiveIntegerField(default=0)
    score_sum = models.FloatField(default=0)
    n0 = models.PositiveIntegerField(default=0)
    n1 = models.PositiveIntegerField(default=0)
    n2 = models.PositiveIntegerField(default=0)
    n3 = models.PositiveIntegerField(default=0)
    n4 = models.PositiveIntegerField(default=0)
    n5 = models.PositiveIntegerField(default=0)
    n6 = models.PositiveIntegerField(default=0)
    n7 = models.PositiveIntegerField(default=0)
    n8 = models.PositiveIntegerField(default=0)
    n9 = models.PositiveIntegerField(default=0)
    n10 = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("题目日统计")
        verbose_name_plural = _("题目日统计")
        indexes = [
            models.Index(fields=["grain", "questionnaire", "day"], name="sis_grain_q_day"),
            models.Index(fields=["department", "grain", "day"], name="sis_dept_grain_day"),
        ]


class DailyThemeStat(StatBase):
    """Free-text comments per theme (等候, 态度 …), with how many of them were negative."""

    theme = models.CharField(max_length=32)
    comments = models.PositiveIntegerField(default=0)
    negative = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("主题日统计")
        verbose_name_plural = _("主题日统计")
        indexes = [
            models.Index(fields=["grain", "questionnaire", "day"], name="sts_grain_q_day"),
            models.Index(fields=["department", "grain", "day"], name="sts_dept_grain_day"),
        ]


class DailyKeywordStat(StatBase):
    """Word frequencies of the free-text comments (the top words of each group and day)."""

    word = models.CharField(max_length=40)
    count = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("关键词日统计")
        verbose_name_plural = _("关键词日统计")
        indexes = [
            models.Index(fields=["grain", "questionnaire", "day"], name="sks_grain_q_day"),
            models.Index(fields=["department", "grain", "day"], name="sks_dept_grain_day"),
        ]


class CommentInsight(models.Model):
    """One response's free text as analysed by the nightly job (sentiment, themes, the
    "high score with a negative comment" flag), so the dashboard lists comments without touching
    the answer tables."""

    response = models.OneToOneField("questionnaires.Response", on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    questionnaire = models.ForeignKey("questionnaires.Questionnaire", on_delete=models.CASCADE, related_name="+")
    department = models.ForeignKey("accounts.Department", null=True, on_delete=models.CASCADE, related_name="+")
    doctor = models.ForeignKey("accounts.Doctor", null=True, on_delete=models.CASCADE, related_name="+")
    setting = models.CharField(max_length=10, blank=True)
    channel = models.CharField(max_length=12, blank=True)
    text = models.TextField()
    mean_score = models.FloatField(null=True)
    recommend = models.PositiveSmallIntegerField(null=True)
    sentiment = models.CharField(max_length=10)
    sentiment_score = models.FloatField()
    themes = models.JSONField(default=list)
    high_score_negative = models.BooleanField(default=False)

    scope_department_field = "department"

    class Meta:
        verbose_name = _("评论分析")
        verbose_name_plural = _("评论分析")
        indexes = [
            models.Index(fields=["questionnaire", "day"], name="sci_q_day"),
            models.Index(fields=["high_score_negative", "day"], name="sci_flag_day"),
        ]
        permissions = [("view_survey_stats", _("查看满意度统计"))]

    def __str__(self) -> str:
        return f"{self.day} r{self.response_id} {self.sentiment}"


class StatBuild(models.Model):
    """When each day's statistics were last rebuilt (shown on the dashboard as the data's age)."""

    day = models.DateField(unique=True)
    built_at = models.DateTimeField()
    responses = models.PositiveIntegerField(default=0)
    seconds = models.FloatField(default=0)

    class Meta:
        verbose_name = _("统计生成记录")
        verbose_name_plural = _("统计生成记录")
        ordering = ["-day"]

    def __str__(self) -> str:
        return f"{self.day} {self.built_at:%Y-%m-%d %H:%M}"
