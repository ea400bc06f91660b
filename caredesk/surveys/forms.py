from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from caredesk.accounts.models import Department
from caredesk.questionnaires.models import Questionnaire

from .models import FeedbackItem, SurveyRule


def survey_questionnaires() -> Any:
    return Questionnaire.objects.filter(is_active=True).order_by("purpose", "code")


class RuleForm(forms.ModelForm):
    departments = forms.ModelMultipleChoiceField(
        label=_("适用科室"), queryset=Department.objects.filter(is_active=True), required=False,
        help_text=_("不选则适用于全部科室。"), widget=forms.SelectMultiple(attrs={"size": 8}),
    )

    class Meta:
        model = SurveyRule
        fields = ["name", "trigger", "offset_days", "questionnaire", "channel", "valid_days", "is_active"]
        error_messages = {
            "name": {"required": _("请填写规则名称。")},
            "questionnaire": {"required": _("请选择问卷。")},
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["questionnaire"].queryset = survey_questionnaires()  # type: ignore[attr-defined]
        if self.instance.pk:
            self.fields["departments"].initial = list(self.instance.departments.all())

    def clean_valid_days(self) -> int:
        days = self.cleaned_data["valid_days"]
        if not 1 <= days <= 60:
            raise forms.ValidationError(_("链接有效天数应在 1 到 60 天之间。"))
        return int(days)

    def clean_offset_days(self) -> int:
        days = self.cleaned_data["offset_days"]
        if days > 90:
            raise forms.ValidationError(_("延后天数不能超过 90 天。"))
        return int(days)


class QRForm(forms.Form):
    department = forms.ModelChoiceField(label=_("科室/病区"), queryset=Department.objects.filter(is_active=True),
                                        error_messages={"required": _("请选择科室或病区。")})
    location = forms.CharField(label=_("张贴位置"), max_length=80, required=False)
    questionnaire = forms.ModelChoiceField(label=_("问卷"), queryset=Questionnaire.objects.none(),
                                           error_messages={"required": _("请选择问卷。")})

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["questionnaire"].queryset = survey_questionnaires()  # type: ignore[attr-defined]


class CallForm(forms.Form):
    outcome = forms.ChoiceField(label=_("回访结果"), choices=[c for c in FeedbackItem.CallOutcome.choices if c[0]],
                                error_messages={"required": _("请选择回访结果。")})
    note = forms.CharField(label=_("回访记录"), widget=forms.Textarea(attrs={"rows": 3}), max_length=2000,
                           error_messages={"required": _("请填写回访记录。")})


class RectificationForm(forms.Form):
    note = forms.CharField(label=_("整改措施"), widget=forms.Textarea(attrs={"rows": 3}), max_length=4000,
                           error_messages={"required": _("请填写整改措施。")})
    link = forms.CharField(label=_("整改单链接或编号"), max_length=300, required=False)


class NoRectificationForm(forms.Form):
    note = forms.CharField(label=_("无需整改的理由"), widget=forms.Textarea(attrs={"rows": 2}), max_length=2000,
                           error_messages={"required": _("请说明无需整改的理由。")})


class RecheckForm(forms.Form):
    result = forms.ChoiceField(label=_("复核结论"), choices=[c for c in FeedbackItem.RecheckResult.choices if c[0]],
                               widget=forms.RadioSelect, error_messages={"required": _("请选择复核结论。")})
    note = forms.CharField(label=_("复核意见"), widget=forms.Textarea(attrs={"rows": 3}), max_length=2000,
                           error_messages={"required": _("请填写复核意见。")})


class BoardFilterForm(forms.Form):
    department = forms.ModelChoiceField(label=_("科室"), queryset=Department.objects.all(), required=False)
    status = forms.ChoiceField(label=_("状态"), required=False,
                               choices=[("", _("未关闭")), *FeedbackItem.Status.choices, ("all", _("全部"))])
    overdue = forms.BooleanField(label=_("仅看超时"), required=False)


class PhoneStartForm(forms.Form):
    questionnaire = forms.ModelChoiceField(label=_("问卷"), queryset=Questionnaire.objects.none(),
                                           error_messages={"required": _("请选择问卷。")})
    encounter = forms.ChoiceField(label=_("针对的就诊"), required=False)

    def __init__(self, *args: Any, encounters: Any = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["questionnaire"].queryset = survey_questionnaires().filter(  # type: ignore[attr-defined]
            purpose=Questionnaire.Purpose.SURVEY
        )
        self.fields["encounter"].choices = [("", _("不针对具体就诊"))] + [  # type: ignore[attr-defined]
            (str(e.pk), f"{e.when:%Y-%m-%d} {e.get_kind_display()} {e.department_name or ''}") for e in encounters
        ]
