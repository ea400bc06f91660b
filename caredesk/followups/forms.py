from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from .models import CallAttempt, FollowupProblem


class AttemptForm(forms.Form):
    outcome = forms.ChoiceField(label=_("结果"), choices=CallAttempt.Outcome.choices,
                                error_messages={"required": _("请选择拨打结果。"), "invalid_choice": _("未知的拨打结果。")})
    callback_at = forms.DateTimeField(label=_("回拨时间"), required=False, input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
                                      widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
                                      error_messages={"invalid": _("回拨时间格式不正确。")})
    note = forms.CharField(label=_("备注"), required=False, max_length=300,
                           error_messages={"max_length": _("备注不能超过 300 字。")})

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("outcome") == CallAttempt.Outcome.CALLBACK and not data.get("callback_at"):
            self.add_error("callback_at", _("约定回拨需要填写回拨时间。"))
        return data


PROBLEM_ROWS = 3


class RecordForm(forms.Form):
    satisfaction = forms.TypedChoiceField(
        label=_("满意度"), coerce=int, required=False, empty_value=None,
        choices=[("", _("未评价")), (5, _("5 非常满意")), (4, _("4 满意")), (3, _("3 一般")), (2, _("2 不满意")), (1, _("1 非常不满意"))],
        error_messages={"invalid_choice": _("满意度应为 1 到 5 分。")},
    )
    recovered = forms.BooleanField(label=_("患者确认已康复"), required=False)
    red_flag = forms.CharField(label=_("危急情况（如病情加重、伤口红肿渗液、发热）"), required=False, max_length=200,
                               error_messages={"max_length": _("不能超过 200 字。")})
    summary = forms.CharField(label=_("回访小结"), required=False, widget=forms.Textarea(attrs={"rows": 3}), max_length=2000,
                              error_messages={"max_length": _("小结不能超过 2000 字。")})

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for i in range(PROBLEM_ROWS):
            self.fields[f"problem_kind_{i}"] = forms.ChoiceField(
                label=_("类别"), choices=FollowupProblem.Kind.choices, required=False, initial=FollowupProblem.Kind.PROBLEM)
            self.fields[f"problem_words_{i}"] = forms.CharField(
                label=_("患者原话"), required=False, max_length=1000, widget=forms.Textarea(attrs={"rows": 2}),
                error_messages={"max_length": _("不能超过 1000 字。")})

    def problem_rows(self) -> list[tuple[Any, Any]]:
        return [(self[f"problem_kind_{i}"], self[f"problem_words_{i}"]) for i in range(PROBLEM_ROWS)]

    def problems(self) -> list[tuple[str, str]]:
        out = []
        for i in range(PROBLEM_ROWS):
            words = (self.cleaned_data.get(f"problem_words_{i}") or "").strip()
            if words:
                out.append((self.cleaned_data.get(f"problem_kind_{i}") or FollowupProblem.Kind.PROBLEM, words))
        return out


class ReassignForm(forms.Form):
    to_user: forms.ModelChoiceField = forms.ModelChoiceField(
        label=_("分派给"), queryset=None, error_messages={"required": _("请选择回访人。")},
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from caredesk.accounts.models import User

        self.fields["to_user"].queryset = User.objects.filter(is_active=True, groups__name="agent").distinct().order_by("username")  # type: ignore[attr-defined]


class TemplateForm(forms.ModelForm):
    class Meta:
        from .models import PlanTemplate

        model = PlanTemplate
        fields = ["name", "trigger", "departments", "disabled_departments", "diagnosis_pattern", "vip_only", "min_age",
                  "max_age", "stop_when_cured", "skip_when", "priority", "is_active"]
        widgets = {"departments": forms.CheckboxSelectMultiple, "disabled_departments": forms.CheckboxSelectMultiple}
        error_messages = {"name": {"required": _("请填写名称。")}, "trigger": {"required": _("请选择触发方式。")}}


def step_formset() -> Any:
    from .models import PlanStep, PlanTemplate

    return forms.inlineformset_factory(
        PlanTemplate, PlanStep, extra=1, can_delete=True,
        fields=["order", "label", "offset", "unit", "repeat_every_months", "repeat_until_months", "channel",
                "questionnaire_code", "script"],
        widgets={"script": forms.Textarea(attrs={"rows": 2})},
    )
