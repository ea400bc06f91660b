from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from .models import ColumnMapping
from .visit_file import COLUMNS

MAX_UPLOAD_BYTES = 200 * 1024 * 1024


class VisitUploadForm(forms.Form):
    file = forms.FileField(label=_("就诊数据文件"), help_text=_("CSV（UTF-8 或 GBK）或 xlsx，每行一次就诊"))
    source_system = forms.CharField(label=_("来源系统"), max_length=64, initial="HIS",
                                    help_text=_("流水号所属的系统，例如 HIS"))
    mapping = forms.ModelChoiceField(label=_("列映射"), queryset=ColumnMapping.objects.order_by("name"), required=False,
                                     empty_label=_("标准表头（不用映射）"))

    def clean_file(self) -> Any:
        f = self.cleaned_data["file"]
        name = (f.name or "").lower()
        if not name.endswith((".csv", ".txt", ".xlsx")):
            raise forms.ValidationError(_("只支持 CSV 或 xlsx 文件。"))
        if f.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError(_("文件太大（上限 200 MB），请使用命令 import_visits 导入。"))
        return f


class ColumnMappingForm(forms.Form):
    """A name plus, for each standard column, the header used in the other layout (blank = same)."""

    name = forms.CharField(label=_("映射名称"), max_length=100)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for fld, (standard, _aliases) in COLUMNS.items():
            self.fields[f"col_{fld}"] = forms.CharField(label=standard, max_length=64, required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        columns = {COLUMNS[f][0]: (data.get(f"col_{f}") or "").strip() for f in COLUMNS}
        columns = {k: v for k, v in columns.items() if v}
        if not columns:
            raise forms.ValidationError(_("请至少填写一列的对应表头。"))
        data["columns"] = columns
        return data
