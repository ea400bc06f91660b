"""Forms of the staff pages: the intake form, the list filters and one small form per action."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from caredesk.accounts.models import Department, Doctor

from .models import (
    Category,
    Channel,
    DeadlineKind,
    DeadlineUnit,
    DisputeRoute,
    Finding,
    Relation,
    ResolutionPlan,
    Severity,
    Status,
    Subcategory,
)

DT_WIDGET = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
DT_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"]


def _blank(choices: Any, label: Any = "—") -> list[tuple[str, Any]]:
    return [("", label), *choices]


class IntakeForm(forms.Form):
    channel = forms.ChoiceField(label=_("渠道"), choices=Channel.choices)
    received_at = forms.DateTimeField(label=_("接收时间"), widget=DT_WIDGET, input_formats=DT_FORMATS)
    complainant_name = forms.CharField(label=_("投诉人姓名"), max_length=60, required=False)
    complainant_phone = forms.CharField(label=_("联系电话"), max_length=30, required=False)
    complainant_email = forms.EmailField(label=_("电子邮箱"), required=False,
                                         error_messages={"invalid": _("电子邮箱格式不正确。")})
    relation = forms.ChoiceField(label=_("与患者关系"), choices=Relation.choices, initial=Relation.SELF)
    department = forms.ModelChoiceField(label=_("被投诉科室"), queryset=Department.objects.none(), required=False,
                                        empty_label=_("未确定"))
    staff_doctor = forms.ModelChoiceField(label=_("被投诉医生"), queryset=Doctor.objects.none(), required=False,
                                          empty_label=_("—"))
    staff_text = forms.CharField(label=_("被投诉人员（描述）"), max_length=100, required=False,
                                 help_text=_("不知道姓名时描述岗位或特征，如“二楼收费窗口女工作人员”"))
    event_at = forms.DateTimeField(label=_("事件时间"), widget=DT_WIDGET, input_formats=DT_FORMATS, required=False)
    event_place = forms.CharField(label=_("事件地点"), max_length=120, required=False)
    content = forms.CharField(label=_("投诉内容"), widget=forms.Textarea(attrs={"rows": 5}), min_length=5,
                              error_messages={"required": _("请填写投诉内容。"), "min_length": _("投诉内容至少5个字。")})
    demands = forms.CharField(label=_("投诉诉求"), widget=forms.Textarea(attrs={"rows": 2}), required=False)
    category = forms.ChoiceField(label=_("类别"), choices=Category.choices, initial=Category.OTHER)
    subcategory = forms.ModelChoiceField(label=_("子类"), queryset=Subcategory.objects.none(), required=False,
                                         empty_label=_("—"))
    severity = forms.ChoiceField(label=_("严重程度"), choices=Severity.choices, initial=Severity.GENERAL)
    external_ref = forms.CharField(label=_("外部编号"), max_length=64, required=False, help_text=_("如12345工单号"))
    source_type = forms.CharField(widget=forms.HiddenInput, required=False)
    source_id = forms.CharField(widget=forms.HiddenInput, required=False)
    patient_id = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["department"].queryset = Department.objects.filter(is_active=True)  # type: ignore[attr-defined]
        self.fields["staff_doctor"].queryset = Doctor.objects.filter(is_active=True).select_related("department")  # type: ignore[attr-defined]
        self.fields["subcategory"].queryset = Subcategory.objects.filter(is_active=True)  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        sub = data.get("subcategory")
        if sub is not None and data.get("category") and sub.category != data["category"]:
            self.add_error("subcategory", _("子类与所选类别不一致。"))
        if not (data.get("complainant_phone") or data.get("complainant_email")) and data.get("channel") in ("phone", "hotline_12345"):
            self.add_error("complainant_phone", _("电话渠道请留下联系电话，以便告知受理编号和答复时间。"))
        return data


class FilterForm(forms.Form):
    q = forms.CharField(label=_("查找"), required=False, max_length=60)
    status = forms.ChoiceField(label=_("状态"), choices=_blank(Status.choices, _("全部")), required=False)
    category = forms.ChoiceField(label=_("类别"), choices=_blank(Category.choices, _("全部")), required=False)
    severity = forms.ChoiceField(label=_("严重程度"), choices=_blank(Severity.choices, _("全部")), required=False)
    channel = forms.ChoiceField(label=_("渠道"), choices=_blank(Channel.choices, _("全部")), required=False)
    department = forms.ModelChoiceField(label=_("科室"), queryset=Department.objects.none(), required=False,
                                        empty_label=_("全部"))
    overdue = forms.BooleanField(label=_("仅超时"), required=False)
    start = forms.DateField(label=_("接收自"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label=_("接收至"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args: Any, departments: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["department"].queryset = departments if departments is not None else Department.objects.filter(is_active=True)  # type: ignore[attr-defined]


# --- one form per action --------------------------------------------------------------------------

TEXT = forms.Textarea(attrs={"rows": 3})


class NoteForm(forms.Form):
    note = forms.CharField(label=_("备注"), widget=TEXT, required=False)


class RequestStatementForm(forms.Form):
    staff_name = forms.CharField(label=_("说明人"), max_length=60)
    note = forms.CharField(label=_("要求说明"), widget=TEXT, required=False)


class RecordStatementForm(forms.Form):
    content = forms.CharField(label=_("书面说明内容"), widget=forms.Textarea(attrs={"rows": 4}))


class ClassifyForm(forms.Form):
    finding = forms.ChoiceField(label=_("定性结论"), choices=Finding.choices)
    note = forms.CharField(label=_("定性说明"), widget=TEXT)
    category = forms.ChoiceField(label=_("类别（可修正）"), choices=_blank(Category.choices, _("不变")), required=False)
    severity = forms.ChoiceField(label=_("严重程度（可修正）"), choices=_blank(Severity.choices, _("不变")), required=False)


class PlanForm(forms.Form):
    kind = forms.ChoiceField(label=_("处理方式"), choices=ResolutionPlan.Kind.choices)
    description = forms.CharField(label=_("方案内容"), widget=TEXT)
    amount = forms.DecimalField(label=_("金额（元）"), required=False, min_value=0, max_digits=12, decimal_places=2)
    committee_review = forms.BooleanField(label=_("提交医疗安全委员会讨论"), required=False)
    dispute_route = forms.ChoiceField(label=_("纠纷解决途径"), choices=DisputeRoute.choices, required=False)


class DecisionForm(forms.Form):
    note = forms.CharField(label=_("审批意见"), widget=TEXT, required=False)


class ResolveForm(forms.Form):
    summary = forms.CharField(label=_("处理结果"), widget=forms.Textarea(attrs={"rows": 4}))


class FeedbackForm(forms.Form):
    rating = forms.TypedChoiceField(
        label=_("投诉人满意度"), coerce=int,
        choices=[(5, _("5 非常满意")), (4, _("4 满意")), (3, _("3 一般")), (2, _("2 不满意")), (1, _("1 非常不满意"))],
    )
    note = forms.CharField(label=_("反馈记录"), widget=TEXT, required=False)


class AnalyseForm(forms.Form):
    root_cause = forms.CharField(label=_("原因分析"), widget=TEXT)
    suggestion = forms.CharField(label=_("改进建议"), widget=TEXT, required=False)


class ReasonForm(forms.Form):
    reason = forms.CharField(label=_("原因"), widget=TEXT)


class TransferForm(forms.Form):
    department = forms.ModelChoiceField(label=_("转至科室"), queryset=Department.objects.filter(is_active=True))
    reason = forms.CharField(label=_("转办原因"), widget=TEXT)


class ExtendForm(forms.Form):
    kind = forms.ChoiceField(label=_("时限"), choices=DeadlineKind.choices, initial=DeadlineKind.REPLY)
    working_days = forms.IntegerField(label=_("延长工作日数"), min_value=1, max_value=60)
    reason = forms.CharField(label=_("延期原因"), widget=TEXT)
    notified_note = forms.CharField(label=_("告知情况（无联系方式时必填）"), max_length=200, required=False)


class MergeForm(forms.Form):
    into = forms.CharField(label=_("合并到（投诉编号）"), max_length=20)
    reason = forms.CharField(label=_("原因"), widget=TEXT, required=False)


class AttachmentForm(forms.Form):
    kind = forms.ChoiceField(label=_("附件类型"), choices=[
        ("evidence", _("投诉人材料")), ("letter", _("来信扫描")), ("statement", _("书面说明")),
        ("recording", _("录音")), ("other", _("其他")),
    ])
    file = forms.FileField(label=_("文件"))


ACTION_FORMS: dict[str, type[forms.Form]] = {
    "accept": NoteForm,
    "request_statement": RequestStatementForm,
    "record_statement": RecordStatementForm,
    "classify": ClassifyForm,
    "propose_plan": PlanForm,
    "approve_plan": DecisionForm,
    "reject_plan": DecisionForm,
    "resolve": ResolveForm,
    "give_feedback": FeedbackForm,
    "archive": NoteForm,
    "analyse": AnalyseForm,
    "reopen": ReasonForm,
    "transfer": TransferForm,
    "pause": ReasonForm,
    "resume": NoteForm,
    "extend_deadline": ExtendForm,
    "merge": MergeForm,
}


class PolicyForm(forms.Form):
    category = forms.ChoiceField(label=_("类别"), choices=_blank(Category.choices, _("全部类别")), required=False)
    severity = forms.ChoiceField(label=_("严重程度"), choices=_blank(Severity.choices, _("全部")), required=False)
    kind = forms.ChoiceField(label=_("时限类型"), choices=DeadlineKind.choices)
    amount = forms.IntegerField(label=_("时长"), min_value=1, max_value=1000)
    unit = forms.ChoiceField(label=_("单位"), choices=DeadlineUnit.choices)
    remind_before_minutes = forms.IntegerField(label=_("提前提醒（分钟）"), min_value=0, max_value=10080, initial=240)
    is_active = forms.BooleanField(label=_("启用"), required=False, initial=True)


class SubcategoryForm(forms.Form):
    category = forms.ChoiceField(label=_("类别"), choices=Category.choices)
    name = forms.CharField(label=_("子类名称"), max_length=60)
    is_active = forms.BooleanField(label=_("启用"), required=False, initial=True)
