from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _


class WordForm(forms.Form):
    word = forms.CharField(label=_("词语"), max_length=50, error_messages={"required": _("请填写词语。")})
    freq = forms.IntegerField(label=_("词频（可空）"), required=False, min_value=1, max_value=1_000_000,
                              error_messages={"invalid": _("词频必须是正整数。"), "min_value": _("词频必须是正整数。")})
    tag = forms.CharField(label=_("词性（可空，如 n、v、nr）"), required=False, max_length=10)
    active = forms.BooleanField(label=_("启用"), required=False, initial=True)

    def clean_word(self) -> str:
        word = self.cleaned_data["word"].strip()
        if not word or any(ch.isspace() for ch in word):
            raise forms.ValidationError(_("词语不能包含空格。"))
        return word


class ThemeForm(forms.Form):
    code = forms.SlugField(label=_("主题编码（英文）"), max_length=32,
                           error_messages={"required": _("请填写主题编码。"), "invalid": _("编码只能包含字母、数字、下划线和连字符。")})
    label = forms.CharField(label=_("主题名称"), max_length=32, error_messages={"required": _("请填写主题名称。")})
    keywords = forms.CharField(label=_("关键词（每行一个，或用逗号分隔）"), widget=forms.Textarea(attrs={"rows": 4}),
                               error_messages={"required": _("请至少填写一个关键词。")})
    active = forms.BooleanField(label=_("启用"), required=False, initial=True)

    def keyword_list(self) -> list[str]:
        raw = self.cleaned_data["keywords"].replace("，", ",").replace("、", ",").replace("\n", ",")
        return [k.strip() for k in raw.split(",") if k.strip()]
