"""Editable hospital dictionary and theme rules for the text analytics."""

from __future__ import annotations

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class DictionaryWord(models.Model):
    """A word jieba must keep whole (a department, a service term...)."""

    word = models.CharField(_("词语"), max_length=50)
    freq = models.PositiveIntegerField(_("词频"), null=True, blank=True)
    tag = models.CharField(_("词性"), max_length=10, blank=True)
    active = models.BooleanField(_("启用"), default=True)
    updated_at = models.DateTimeField(_("更新时间"), default=timezone.now)

    class Meta:
        verbose_name = _("词典词语")
        verbose_name_plural = _("词典词语")
        ordering = ["word"]
        constraints = [models.UniqueConstraint(fields=["word"], name="textmining_word_unique")]

    def __str__(self) -> str:
        return self.word


class ThemeRule(models.Model):
    """A theme (等候, 态度...) recognised when a comment contains one of its keywords."""

    code = models.SlugField(_("主题编码"), max_length=32)
    label = models.CharField(_("主题名称"), max_length=32)
    keywords = models.TextField(_("关键词"), help_text=_("每行一个，或用逗号分隔"))
    active = models.BooleanField(_("启用"), default=True)
    updated_at = models.DateTimeField(_("更新时间"), default=timezone.now)

    class Meta:
        verbose_name = _("主题规则")
        verbose_name_plural = _("主题规则")
        ordering = ["code"]
        constraints = [models.UniqueConstraint(fields=["code"], name="textmining_theme_code_unique")]

    def __str__(self) -> str:
        return f"{self.code} {self.label}"

    def keyword_list(self) -> list[str]:
        raw = self.keywords.replace("，", ",").replace("\n", ",").replace("、", ",")
        return [k.strip() for k in raw.split(",") if k.strip()]
