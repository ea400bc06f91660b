"""Questionnaire items prepared for the HTML form partial ``questionnaires/_items.html``, and the
builder's forms."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from caredesk.accounts.models import Department

from . import engine
from .models import Dimension, Item, Questionnaire, QuestionnaireVersion, Section


@dataclass
class Field:
    item: Item
    name: str
    value: Any
    error: str
    shown: bool
    conditions: str  # JSON for the browser, empty when unconditional
    scale: list[int]

    @property
    def selected(self) -> list[str]:
        if self.value is None:
            return []
        values = self.value if isinstance(self.value, list) else [self.value]
        return [engine.display_value(self.item, v) if isinstance(v, Decimal) else str(v) for v in values]

    @property
    def text_value(self) -> str:
        if self.value is None:
            return ""
        if isinstance(self.value, Decimal):
            return engine.display_value(self.item, self.value)
        return str(self.value)


def fields_for(spec: engine.VersionSpec, values: dict[str, Any] | None = None,
               errors: dict[str, str] | None = None, prefix: str = "") -> list[Field]:
    """One Field per item, in order, with its current value, error and initial visibility.
    ``values`` may hold engine values or raw strings (a re-displayed POST)."""
    values = values or {}
    errors = errors or {}
    cleaned = {k: engine.clean_value(spec.by_link[k], v)[0] for k, v in values.items() if k in spec.by_link}
    cleaned = {k: v for k, v in cleaned.items() if v is not None}
    shown = {item.link_id for item in engine.enabled_items(spec, cleaned)}
    fields = []
    for item in spec.items:
        low_high = Item.SCALE_RANGES.get(item.kind)  # type: ignore[call-overload]
        conditions = ""
        if item.enable_when:
            conditions = json.dumps(
                {"behavior": item.enable_behavior,
                 "when": [{**c, "item": f"{prefix}{c.get('item', '')}"} for c in item.enable_when]},
                ensure_ascii=False,
            )
        fields.append(Field(
            item=item, name=f"{prefix}{item.link_id}", value=cleaned.get(item.link_id, values.get(item.link_id)),
            error=errors.get(item.link_id, ""), shown=item.link_id in shown, conditions=conditions,
            scale=list(range(low_high[0], low_high[1] + 1)) if low_high else [],
        ))
    return fields


# --- builder forms ---------------------------------------------------------------------------------

CONDITION_ROWS = 3
OP_CHOICES = [
    ("=", _("等于")), ("!=", _("不等于")), ("in", _("属于其中之一（逗号分隔）")), (">", _("大于")), (">=", _("大于等于")),
    ("<", _("小于")), ("<=", _("小于等于")), ("answered", _("已作答")), ("unanswered", _("未作答")),
]


def parse_choices(text: str) -> list[dict[str, Any]]:
    """``代码|选项文字|分值`` per line (分值 optional) → choices; ValidationError with the line number."""
    choices: list[dict[str, Any]] = []
    seen: set[str] = set()
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        parts = [p.strip() for p in line.replace("｜", "|").split("|")]
        if len(parts) not in (2, 3) or not parts[0] or not parts[1]:
            raise forms.ValidationError(
                _("第 %(n)s 行格式不对：应为 代码|选项文字|分值（分值可省略），例如 5|很满意|5。") % {"n": number}
            )
        code = parts[0]
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,40}", code):
            raise forms.ValidationError(
                _("第 %(n)s 行：选项代码只能用字母、数字、下划线或连字符（不超过 40 个）。") % {"n": number}
            )
        if code in seen:
            raise forms.ValidationError(_("第 %(n)s 行：选项代码 %(code)s 重复。") % {"n": number, "code": code})
        seen.add(code)
        choice: dict[str, Any] = {"code": code, "label": parts[1]}
        if len(parts) == 3 and parts[2]:
            try:
                score = Decimal(parts[2])
            except InvalidOperation:
                raise forms.ValidationError(_("第 %(n)s 行：分值必须是数字。") % {"n": number}) from None
            if not score.is_finite():
                raise forms.ValidationError(_("第 %(n)s 行：分值必须是数字。") % {"n": number})
            choice["score"] = int(score) if score == score.to_integral_value() else float(score)
        choices.append(choice)
    return choices


def choices_text(choices: list[dict[str, Any]]) -> str:
    lines = []
    for c in choices:
        score = c.get("score")
        lines.append(f"{c['code']}|{c['label']}" + (f"|{score}" if score is not None else ""))
    return "\n".join(lines)


def _typed(source: Item, value: str) -> Any:
    if source.kind in (Item.Kind.RATING, Item.Kind.RECOMMEND, Item.Kind.NUMBER):
        number = Decimal(value)
        return int(number) if number == number.to_integral_value() else float(number)
    return value


class QuestionnaireForm(forms.Form):
    code = forms.SlugField(
        label=_("问卷代码"), max_length=60, help_text=_("英文字母、数字和连字符，例如 survey-emergency；创建后不再修改。"),
        error_messages={"invalid": _("问卷代码只能包含英文字母、数字、下划线和连字符。"), "required": _("请填写问卷代码。")},
    )
    title = forms.CharField(label=_("标题"), max_length=120, error_messages={"required": _("请填写标题。")})
    purpose = forms.ChoiceField(label=_("用途"), choices=Questionnaire.Purpose.choices)
    description = forms.CharField(label=_("说明"), required=False, widget=forms.Textarea(attrs={"rows": 2}))
    department = forms.ModelChoiceField(label=_("适用科室"), queryset=Department.objects.all(), required=False,
                                        empty_label=_("全院通用"))

    def clean_code(self) -> str:
        code = self.cleaned_data["code"]
        if Questionnaire.objects.filter(code=code).exists():
            raise forms.ValidationError(_("问卷代码 %(code)s 已存在。") % {"code": code})
        return code


class VersionForm(forms.Form):
    title = forms.CharField(label=_("标题"), max_length=120, error_messages={"required": _("请填写标题。")})
    introduction = forms.CharField(label=_("开场说明"), required=False, widget=forms.Textarea(attrs={"rows": 2}))
    thanks = forms.CharField(label=_("结束语"), required=False, widget=forms.Textarea(attrs={"rows": 2}))


class SectionForm(forms.Form):
    title = forms.CharField(label=_("分节标题"), max_length=120, required=False)
    description = forms.CharField(label=_("分节说明"), required=False, widget=forms.Textarea(attrs={"rows": 2}))


class DimensionForm(forms.Form):
    code = forms.SlugField(label=_("维度代码"), max_length=40,
                           error_messages={"invalid": _("维度代码只能包含英文字母、数字、下划线和连字符。"),
                                           "required": _("请填写维度代码。")})
    name = forms.CharField(label=_("维度名称"), max_length=40, error_messages={"required": _("请填写维度名称。")})


class SectionChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return obj.title or str(_("（未命名分节）"))


class ItemForm(forms.Form):
    """One item of a draft: its kind, text, choices (``代码|选项文字|分值`` per line), scoring dimension,
    up to three display conditions on earlier items, and a red-flag rule. ``item_data`` holds the
    result for ``actions.add_item`` / ``update_item``."""

    text = forms.CharField(label=_("题目"), max_length=300, error_messages={"required": _("请填写题目。")})
    link_id = forms.SlugField(
        label=_("题目代码"), max_length=60, required=False,
        help_text=_("留空则自动生成（q1、q2…）；导出 FHIR 时作为 linkId。"),
        error_messages={"invalid": _("题目代码只能包含英文字母、数字、下划线和连字符。")},
    )
    kind = forms.ChoiceField(label=_("题型"), choices=Item.Kind.choices)
    required = forms.BooleanField(label=_("必答"), required=False)
    help_text = forms.CharField(label=_("提示"), max_length=300, required=False)
    section = SectionChoiceField(label=_("所在分节"), queryset=Section.objects.none(), empty_label=None)
    choices_text = forms.CharField(
        label=_("选项"), required=False, widget=forms.Textarea(attrs={"rows": 5, "class": "mono"}),
        help_text=_("单选、多选题使用：每行一个选项，格式 代码|选项文字|分值，分值可省略。例如 5|很满意|5"),
    )
    dimension = forms.ModelChoiceField(label=_("评分维度"), queryset=Dimension.objects.none(), required=False,
                                       empty_label=_("不计入维度"))
    enable_behavior = forms.ChoiceField(label=_("条件组合"), choices=[("all", _("全部满足")), ("any", _("任一满足"))])
    red_flag_choices = forms.CharField(label=_("警示选项代码"), required=False,
                                       help_text=_("选中这些选项时触发警示，多个用逗号分隔。"))
    red_flag_max = forms.DecimalField(label=_("分值不高于此值时警示"), required=False,
                                      error_messages={"invalid": _("请输入数字。")})
    red_flag_min = forms.DecimalField(label=_("数值不低于此值时警示"), required=False,
                                      error_messages={"invalid": _("请输入数字。")})
    min_value = forms.DecimalField(label=_("最小值"), required=False, error_messages={"invalid": _("请输入数字。")})
    max_value = forms.DecimalField(label=_("最大值"), required=False, error_messages={"invalid": _("请输入数字。")})

    def __init__(self, *args: Any, version: QuestionnaireVersion, item: Item | None = None,
                 section: Section | None = None, **kwargs: Any) -> None:
        if item is not None and "initial" not in kwargs:
            kwargs["initial"] = self.initial_for(item)
        elif section is not None:
            kwargs.setdefault("initial", {})["section"] = section
        super().__init__(*args, **kwargs)
        self.version, self.item = version, item
        self.fields["section"].queryset = version.sections.order_by("order", "id")  # type: ignore[attr-defined]
        dims = Dimension.objects.filter(is_active=True)
        if item is not None and item.dimension_id:
            dims = Dimension.objects.filter(Q(is_active=True) | Q(pk=item.dimension_id))
        self.fields["dimension"].queryset = dims  # type: ignore[attr-defined]
        self.earlier = self._earlier_items(section)
        item_choices = [("", _("（无条件）"))] + [(i.link_id, f"{i.link_id} · {i.text[:30]}") for i in self.earlier]
        # Three rows, or as many as an imported item already has (so editing never drops one).
        self.rows = max(CONDITION_ROWS, len(item.enable_when) if item is not None else 0)
        for n in range(self.rows):
            self.fields[f"cond{n}_item"] = forms.ChoiceField(label=_("条件题目"), choices=item_choices, required=False)
            self.fields[f"cond{n}_op"] = forms.ChoiceField(label=_("运算"), choices=OP_CHOICES, required=False)
            self.fields[f"cond{n}_value"] = forms.CharField(label=_("比较值"), required=False, max_length=200)

    def _earlier_items(self, section: Section | None) -> list[Item]:
        from .actions import ordered_items

        items = ordered_items(self.version)
        if self.item is not None:
            index = next((n for n, i in enumerate(items) if i.pk == self.item.pk), len(items))
            return items[:index]
        if section is not None:
            return [i for i in items if i.section is not None and i.section.order <= section.order]
        return items

    @property
    def condition_rows(self) -> list[tuple[Any, Any, Any]]:
        return [(self[f"cond{n}_item"], self[f"cond{n}_op"], self[f"cond{n}_value"]) for n in range(self.rows)]

    @staticmethod
    def initial_for(item: Item) -> dict[str, Any]:
        rule = item.red_flag or {}
        initial: dict[str, Any] = {
            "text": item.text, "link_id": item.link_id, "kind": item.kind, "required": item.required,
            "help_text": item.help_text, "section": item.section_id, "choices_text": choices_text(item.choices),
            "dimension": item.dimension_id, "enable_behavior": item.enable_behavior,
            "red_flag_choices": ", ".join(str(c) for c in rule.get("choices", [])),
            "red_flag_max": rule.get("max"), "red_flag_min": rule.get("min"),
            "min_value": item.min_value, "max_value": item.max_value,
        }
        for n, c in enumerate(item.enable_when):
            value = c.get("value")
            initial[f"cond{n}_item"] = c.get("item", "")
            initial[f"cond{n}_op"] = c.get("op", "=")
            if isinstance(value, list):
                value = ", ".join(str(v) for v in value)
            initial[f"cond{n}_value"] = "" if value is None else value
        return initial

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        kind = data.get("kind")
        choices: list[dict[str, Any]] = []
        if kind in Item.CHOICE_KINDS:
            try:
                choices = parse_choices(data.get("choices_text", ""))
            except forms.ValidationError as exc:
                self.add_error("choices_text", exc)
                return data
            if not choices:
                self.add_error("choices_text", _("单选或多选题至少需要一个选项。"))
                return data
        codes = {c["code"] for c in choices}
        red_flag: dict[str, Any] = {}
        flagged = [c for c in re.split(r"[,，、\s]+", data.get("red_flag_choices") or "") if c]
        if flagged:
            if kind not in Item.CHOICE_KINDS:
                self.add_error("red_flag_choices", _("只有单选、多选题可以按选项设置警示。"))
            unknown = [c for c in flagged if c not in codes]
            if unknown:
                self.add_error("red_flag_choices", _("警示选项 %(codes)s 不在选项列表中。") % {"codes": "、".join(unknown)})
            red_flag["choices"] = flagged
        for key in ("max", "min"):
            value = data.get(f"red_flag_{key}")
            if value is not None:
                if kind not in (Item.Kind.RATING, Item.Kind.RECOMMEND, Item.Kind.NUMBER):
                    self.add_error(f"red_flag_{key}", _("只有评分、推荐和数值题可以按分值设置警示。"))
                red_flag[key] = int(value) if value == value.to_integral_value() else float(value)
        low, high = data.get("min_value"), data.get("max_value")
        if low is not None and high is not None and low > high:
            self.add_error("max_value", _("最大值不能小于最小值。"))
        by_link = {i.link_id: i for i in self.earlier}
        conditions = []
        for n in range(self.rows):
            link = data.get(f"cond{n}_item") or ""
            op = data.get(f"cond{n}_op") or "="
            raw = (data.get(f"cond{n}_value") or "").strip()
            if not link:
                if raw:
                    self.add_error(f"cond{n}_item", _("请选择条件所依据的题目。"))
                continue
            source = by_link.get(link)
            if source is None:
                self.add_error(f"cond{n}_item", _("条件只能引用这道题前面的题目。"))
                continue
            condition: dict[str, Any] = {"item": link, "op": op}
            if op not in ("answered", "unanswered"):
                if not raw:
                    self.add_error(f"cond{n}_value", _("请填写比较值。"))
                    continue
                parts = [p for p in re.split(r"[,，、]\s*", raw) if p] if op == "in" else [raw]
                try:
                    values = [_typed(source, p) for p in parts]
                except InvalidOperation:
                    self.add_error(f"cond{n}_value", _("“%(text)s”是数值题，比较值必须是数字。") % {"text": source.text})
                    continue
                condition["value"] = values if op == "in" else values[0]
                from .actions import check_condition_value

                try:
                    check_condition_value(source, condition, data.get("text", ""))
                except ValidationError as exc:
                    self.add_error(f"cond{n}_value", exc.messages[0])
                    continue
            conditions.append(condition)
        if self.errors:
            return data
        self.item_data = {
            "text": data["text"], "link_id": data.get("link_id") or "", "kind": kind,
            "required": bool(data.get("required")), "help_text": data.get("help_text", ""),
            "choices": choices, "dimension": data.get("dimension"), "enable_when": conditions,
            "enable_behavior": data.get("enable_behavior") or "all", "red_flag": red_flag,
            "min_value": low if kind == Item.Kind.NUMBER else None,
            "max_value": high if kind == Item.Kind.NUMBER else None,
        }
        return data
