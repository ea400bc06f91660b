from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _


class AuditFilterForm(forms.Form):
    actor = forms.CharField(label=_("操作人"), required=False, max_length=150)
    patient = forms.IntegerField(label=_("患者编号"), required=False, min_value=1,
                                 error_messages={"invalid": _("患者编号必须是数字。")})
    verb = forms.CharField(label=_("动作"), required=False, max_length=80)
    start = forms.DateField(label=_("开始日期"), required=False, widget=forms.DateInput(attrs={"type": "date"}),
                            error_messages={"invalid": _("日期格式应为 年-月-日。")})
    end = forms.DateField(label=_("结束日期"), required=False, widget=forms.DateInput(attrs={"type": "date"}),
                          error_messages={"invalid": _("日期格式应为 年-月-日。")})

    def clean(self) -> dict:
        data = super().clean() or {}
        if data.get("start") and data.get("end") and data["start"] > data["end"]:
            self.add_error("end", _("结束日期不能早于开始日期。"))
        return data


class RevealForm(forms.Form):
    purpose = forms.CharField(
        label=_("查看用途"), min_length=2, max_length=200,
        error_messages={"required": _("请填写查看完整信息的用途。"), "min_length": _("用途至少 2 个字。")},
        widget=forms.TextInput(attrs={"placeholder": _("例如：电话回访核对身份")}),
    )


class CalendarOverrideForm(forms.Form):
    day = forms.DateField(label=_("日期"), widget=forms.DateInput(attrs={"type": "date"}),
                          error_messages={"required": _("请填写日期。"), "invalid": _("日期格式应为 年-月-日。")})
    is_working_day = forms.TypedChoiceField(
        label=_("类型"), coerce=lambda v: v == "1", choices=[("0", _("休息（院内停诊）")), ("1", _("上班"))],
        error_messages={"required": _("请选择上班还是休息。"), "invalid_choice": _("请选择上班还是休息。")},
    )
    reason = forms.CharField(label=_("原因"), max_length=200, min_length=2,
                             error_messages={"required": _("请填写原因。"), "min_length": _("原因至少 2 个字。")})
