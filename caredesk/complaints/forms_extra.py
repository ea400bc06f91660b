"""Forms for praise, rectification, the case library, the bulletin and the H5 pages."""

from __future__ import annotations

from datetime import date
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from caredesk.accounts.models import Department, Doctor, User

from .models import Channel
from .models_extra import Praise, RectificationItem

REQUIRED = {"required": _("此项为必填项。")}
DATE_INVALID = {"invalid": _("日期格式应为 年-月-日。"), "required": _("请填写日期。")}


class PraiseForm(forms.Form):
    channel = forms.ChoiceField(label=_("渠道"), choices=Channel.choices, initial=Channel.LETTER, error_messages=REQUIRED)
    kind = forms.ChoiceField(label=_("形式"), choices=Praise.Kind.choices, error_messages=REQUIRED)
    department = forms.ModelChoiceField(
        label=_("受表扬科室"), queryset=Department.objects.filter(is_active=True).order_by("sort_order", "code"),
        error_messages={"required": _("请选择受表扬科室。"), "invalid_choice": _("请选择受表扬科室。")},
    )
    staff_doctor = forms.ModelChoiceField(
        label=_("受表扬医生"), required=False,
        queryset=Doctor.objects.filter(is_active=True).select_related("department").order_by("department__code", "name"),
        error_messages={"invalid_choice": _("请选择在岗医生。")},
    )
    staff_name = forms.CharField(label=_("受表扬人员（姓名）"), required=False, max_length=60,
                                 help_text=_("不是医生或不在名单中时填写，如护士、导医、保洁人员"))
    received_at = forms.DateTimeField(
        label=_("收到时间"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
        error_messages={"required": _("请填写收到时间。"), "invalid": _("时间格式应为 年-月-日 时:分。")},
    )
    content = forms.CharField(label=_("表扬内容"), widget=forms.Textarea(attrs={"rows": 4}), max_length=4000,
                              error_messages={"required": _("请填写表扬内容。")})
    praiser_name = forms.CharField(label=_("表扬人"), required=False, max_length=50)
    praiser_phone = forms.CharField(label=_("表扬人电话"), required=False, max_length=20)

    def clean_received_at(self) -> Any:
        value = self.cleaned_data["received_at"]
        if value and value > timezone.now():
            raise forms.ValidationError(_("收到时间不能晚于现在。"))
        return value

    def clean(self) -> dict:
        data = super().clean() or {}
        doctor = data.get("staff_doctor")
        if doctor and data.get("department") and doctor.department_id != data["department"].pk:
            self.add_error("staff_doctor", _("该医生不属于所选科室。"))
        return data


class PeriodForm(forms.Form):
    start = forms.DateField(label=_("开始日期"), required=False, widget=forms.DateInput(attrs={"type": "date"}),
                            error_messages=DATE_INVALID)
    end = forms.DateField(label=_("结束日期"), required=False, widget=forms.DateInput(attrs={"type": "date"}),
                          error_messages=DATE_INVALID)
    department = forms.ModelChoiceField(label=_("科室"), required=False, queryset=Department.objects.none(), empty_label=_("全部"),
                                        error_messages={"invalid_choice": _("请选择科室。")})

    def __init__(self, *args: Any, departments: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["department"].queryset = departments if departments is not None else Department.objects.all()  # type: ignore[attr-defined]

    def clean(self) -> dict:
        data = super().clean() or {}
        if data.get("start") and data.get("end") and data["start"] > data["end"]:
            self.add_error("end", _("结束日期不能早于开始日期。"))
        return data


class RectificationForm(forms.Form):
    title = forms.CharField(label=_("整改事项"), max_length=120, error_messages={"required": _("请填写整改事项。")})
    topic = forms.CharField(label=_("主题"), max_length=60, required=False,
                            help_text=_("与满意度调查的题目对应，便于对比整改前后的评分"))
    measures = forms.CharField(label=_("整改措施"), widget=forms.Textarea(attrs={"rows": 3}), max_length=4000,
                               error_messages={"required": _("请填写整改措施。")})
    department = forms.ModelChoiceField(label=_("责任科室"), queryset=Department.objects.none(),
                                        error_messages={"required": _("请选择责任科室。"), "invalid_choice": _("请选择责任科室。")})
    owner = forms.ModelChoiceField(label=_("责任人"), queryset=User.objects.none(),
                                   error_messages={"required": _("请选择责任人。"), "invalid_choice": _("请选择责任人。")})
    due_date = forms.DateField(label=_("整改期限"), widget=forms.DateInput(attrs={"type": "date"}), error_messages=DATE_INVALID)

    def __init__(self, *args: Any, departments: Any, owners: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["department"].queryset = departments  # type: ignore[attr-defined]
        self.fields["owner"].queryset = owners  # type: ignore[attr-defined]
        self.fields["owner"].label_from_instance = lambda u: u.display_name or u.username  # type: ignore[attr-defined]

    def clean_due_date(self) -> date:
        value = self.cleaned_data["due_date"]
        if value < timezone.localdate():
            raise forms.ValidationError(_("整改期限不能早于今天。"))
        return value


EVIDENCE_TYPES = {
    ".pdf": "application/pdf", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".png": "image/png",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
EVIDENCE_MAX_BYTES = 10 * 1024 * 1024


class EvidenceForm(forms.Form):
    evidence_text = forms.CharField(label=_("整改情况说明"), widget=forms.Textarea(attrs={"rows": 4}), max_length=4000,
                                    error_messages={"required": _("请说明整改做了什么。")})
    evidence_file = forms.FileField(label=_("佐证材料（PDF、图片、Word、Excel，10 MB 以内）"), required=False)

    def clean_evidence_file(self) -> Any:
        upload = self.cleaned_data.get("evidence_file")
        if not upload:
            return upload
        suffix = "." + upload.name.rsplit(".", 1)[-1].lower() if "." in upload.name else ""
        if suffix not in EVIDENCE_TYPES:
            raise forms.ValidationError(_("只接受 PDF、JPG、PNG、Word（docx）、Excel（xlsx）文件。"))
        if upload.size > EVIDENCE_MAX_BYTES:
            raise forms.ValidationError(_("文件不能超过 10 MB。"))
        head = upload.read(8)
        upload.seek(0)
        magic = {".pdf": b"%PDF", ".png": b"\x89PNG", ".jpg": b"\xff\xd8", ".jpeg": b"\xff\xd8", ".docx": b"PK", ".xlsx": b"PK"}
        if not head.startswith(magic[suffix]):
            raise forms.ValidationError(_("文件内容与扩展名不符。"))
        return upload


class VerifyForm(forms.Form):
    result = forms.ChoiceField(label=_("验证结果"), choices=RectificationItem.Result.choices, widget=forms.RadioSelect,
                               error_messages={"required": _("请选择验证结果。")})
    note = forms.CharField(label=_("验证意见"), widget=forms.Textarea(attrs={"rows": 3}), max_length=2000,
                           error_messages={"required": _("请填写验证意见。")})


# --- patient H5 pages ---------------------------------------------------------------------------------

H5_TEXT = {"required": _("此项为必填项。"), "max_length": _("内容过长，请精简。")}


class H5VerifyMixin(forms.Form):
    """Phone + SMS code (+ the captcha answer when the page asks for one)."""

    phone = forms.CharField(label=_("手机号码"), max_length=20, error_messages={"required": _("请输入手机号码。")},
                            widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "tel"}))
    code = forms.CharField(label=_("短信验证码"), max_length=6, required=False,
                           widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code"}))
    captcha = forms.CharField(label=_("请计算图中算式的结果"), max_length=4, required=False,
                              widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}))


class H5ComplaintForm(H5VerifyMixin):
    complainant_name = forms.CharField(label=_("您的姓名（可不填）"), max_length=50, required=False)
    relation = forms.ChoiceField(label=_("您与患者的关系"), choices=[], error_messages=H5_TEXT)
    department = forms.ModelChoiceField(
        label=_("涉及科室（不清楚可不选）"), required=False, queryset=Department.objects.none(),
        error_messages={"invalid_choice": _("请选择科室。")},
    )
    staff_text = forms.CharField(label=_("涉及人员（可不填）"), max_length=100, required=False)
    event_date = forms.DateField(label=_("发生日期（可不填）"), required=False, widget=forms.DateInput(attrs={"type": "date"}),
                                 error_messages={"invalid": _("日期格式应为 年-月-日。")})
    content = forms.CharField(label=_("请描述经过"), min_length=5, max_length=2000, widget=forms.Textarea(attrs={"rows": 5}),
                              error_messages={**H5_TEXT, "required": _("请描述您遇到的问题。"), "min_length": _("请至少写 5 个字。")})
    demands = forms.CharField(label=_("您的诉求（可不填）"), max_length=1000, required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from .models import Relation

        super().__init__(*args, **kwargs)
        self.fields["relation"].choices = Relation.choices  # type: ignore[attr-defined]
        self.fields["department"].queryset = Department.objects.filter(  # type: ignore[attr-defined]
            is_active=True, kind__in=[Department.Kind.CLINICAL, Department.Kind.MEDTECH, Department.Kind.NURSING],
        ).order_by("sort_order", "code")

    def clean_event_date(self) -> date | None:
        value = self.cleaned_data.get("event_date")
        if value and value > timezone.localdate():
            raise forms.ValidationError(_("发生日期不能晚于今天。"))
        return value


class H5PraiseForm(H5VerifyMixin):
    praiser_name = forms.CharField(label=_("您的姓名（可不填）"), max_length=50, required=False)
    department = forms.ModelChoiceField(label=_("表扬科室"), queryset=Department.objects.none(),
                                        error_messages={"required": _("请选择科室。"), "invalid_choice": _("请选择科室。")})
    staff_name = forms.CharField(label=_("表扬的医生、护士或工作人员（可不填）"), max_length=60, required=False)
    content = forms.CharField(label=_("想说的话"), min_length=2, max_length=2000, widget=forms.Textarea(attrs={"rows": 5}),
                              error_messages={**H5_TEXT, "required": _("请写下您想说的话。"), "min_length": _("请至少写 2 个字。")})

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["department"].queryset = Department.objects.filter(is_active=True).order_by("sort_order", "code")  # type: ignore[attr-defined]


class H5StatusForm(H5VerifyMixin):
    case_no = forms.CharField(label=_("投诉编号"), max_length=20, error_messages={"required": _("请输入投诉编号。")},
                              widget=forms.TextInput(attrs={"autocapitalize": "characters", "autocomplete": "off"}))

    def clean_case_no(self) -> str:
        return self.cleaned_data["case_no"].strip().upper()


# --- case library ----------------------------------------------------------------------------------


class CaseEditForm(forms.Form):
    title = forms.CharField(label=_("标题"), max_length=120, error_messages={"required": _("请填写标题。")})
    narrative = forms.CharField(label=_("案情经过"), widget=forms.Textarea(attrs={"rows": 6}),
                                error_messages={"required": _("请填写案情经过。")})
    handling = forms.CharField(label=_("处理经过"), required=False, widget=forms.Textarea(attrs={"rows": 4}))
    lessons = forms.CharField(label=_("经验教训"), required=False, widget=forms.Textarea(attrs={"rows": 4}))
    tags = forms.CharField(label=_("标签"), required=False, max_length=300, help_text=_("用逗号或空格分隔，如：沟通 候诊 门诊"))
