"""The questionnaire engine: conditions, validation, scoring and red flags, on plain values.

Values by item kind: single → choice code (str); multiple → list of codes; rating, recommend,
number → Decimal; text, textarea → str; date → datetime.date. ``clean`` turns raw input (strings or
lists of strings, e.g. from a POST) into those values and returns Chinese error messages per link_id.
Items whose conditions do not hold are skipped: not required, and any answer sent for them is dropped.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils.translation import gettext as _

from .models import Item, QuestionnaireVersion

Value = Any
LONG_TEXT_LIMIT = 4000
SHORT_TEXT_LIMIT = 300


@dataclass
class VersionSpec:
    """A version with its items loaded once (two queries), in display order."""

    version: QuestionnaireVersion
    items: list[Item]
    by_link: dict[str, Item] = field(init=False)

    def __post_init__(self) -> None:
        self.by_link = {item.link_id: item for item in self.items}

    @classmethod
    def load(cls, version: QuestionnaireVersion) -> VersionSpec:
        items = list(version.items.select_related("dimension", "section").order_by("section__order", "order", "id"))
        return cls(version=version, items=items)


@dataclass
class Result:
    values: dict[str, Value]
    errors: dict[str, str]
    scores: dict[str, Decimal]
    total: Decimal | None
    dimensions: dict[str, float]
    recommend: int | None
    red_flags: list[str]

    @property
    def ok(self) -> bool:
        return not self.errors


# --- conditions -----------------------------------------------------------------------------------


def _compare(answer: Value, op: str, expected: Any) -> bool:
    if op == "answered":
        return _present(answer)
    if op == "unanswered":
        return not _present(answer)
    if not _present(answer):
        return False
    if isinstance(answer, list):  # multiple choice: "=" means "includes"
        if op in ("=", "in"):
            wanted = expected if isinstance(expected, list) else [expected]
            return any(str(w) in answer for w in wanted)
        if op == "!=":
            return str(expected) not in answer
        return False
    if op == "in":
        return str(answer) in [str(e) for e in (expected if isinstance(expected, list) else [expected])]
    if op in ("=", "!="):
        same = str(answer) == str(expected)
        if isinstance(answer, Decimal):
            try:
                same = answer == Decimal(str(expected))
            except InvalidOperation:
                same = False
        return same if op == "=" else not same
    try:
        left, right = Decimal(str(answer)), Decimal(str(expected))
    except InvalidOperation:
        return False
    return {">": left > right, ">=": left >= right, "<": left < right, "<=": left <= right}.get(op, False)


def is_enabled(item: Item, values: Mapping[str, Value]) -> bool:
    conditions = item.enable_when or []
    if not conditions:
        return True
    outcomes = (_compare(values.get(c.get("item", "")), c.get("op", "="), c.get("value")) for c in conditions)
    return all(outcomes) if item.enable_behavior == "all" else any(outcomes)


def enabled_items(spec: VersionSpec, values: Mapping[str, Value]) -> list[Item]:
    """Items shown for these answers; conditions may chain, so an item hidden hides its dependants."""
    shown: dict[str, Value] = {}
    result = []
    for item in spec.items:
        if is_enabled(item, shown):
            result.append(item)
            if item.link_id in values:
                shown[item.link_id] = values[item.link_id]
    return result


# --- cleaning -------------------------------------------------------------------------------------


def _present(value: Value) -> bool:
    return value not in (None, "", []) and value != ()


def _as_list(raw: Any) -> list[str]:
    if raw is None:
        return []
    if isinstance(raw, str):
        return [raw] if raw.strip() else []
    if isinstance(raw, Iterable):
        return [str(v) for v in raw if str(v).strip()]
    return [str(raw)]


def _first(raw: Any) -> str:
    values = _as_list(raw)
    return values[0].strip() if values else ""


def clean_value(item: Item, raw: Any) -> tuple[Value, str | None]:
    """One item's raw input → (value, error message or None). Empty input → (None, None)."""
    kind = item.kind
    if kind == Item.Kind.MULTIPLE:
        codes = _as_list(raw)
        if not codes:
            return None, None
        known = item.choice_map()
        unknown = [c for c in codes if c not in known]
        if unknown:
            return None, _("请选择列表中的选项。")
        return sorted(set(codes), key=list(known).index), None
    text = _first(raw)
    if not text:
        return None, None
    if kind == Item.Kind.SINGLE:
        if text not in item.choice_map():
            return None, _("请选择列表中的选项。")
        return text, None
    if kind in (Item.Kind.RATING, Item.Kind.RECOMMEND, Item.Kind.NUMBER):
        try:
            number = Decimal(text)
        except InvalidOperation:
            return None, _("请输入数字。")
        if not number.is_finite():
            return None, _("请输入数字。")
        scale = Item.SCALE_RANGES.get(kind)  # type: ignore[call-overload]
        low, high = scale if scale else (item.min_value, item.max_value)
        if kind != Item.Kind.NUMBER and number != number.to_integral_value():
            return None, _("请选择一个整数分值。")
        if (low is not None and number < low) or (high is not None and number > high):
            if low is not None and high is not None:
                return None, _("请输入 %(low)s 到 %(high)s 之间的数值。") % {"low": low, "high": high}
            return None, _("数值超出允许范围。")
        return number, None
    if kind == Item.Kind.DATE:
        try:
            return dt.date.fromisoformat(text), None
        except ValueError:
            return None, _("日期格式应为 年-月-日，例如 2026-11-23。")
    limit = LONG_TEXT_LIMIT if kind == Item.Kind.TEXTAREA else SHORT_TEXT_LIMIT
    if len(text) > limit:
        return None, _("内容过长，请控制在 %(n)s 字以内。") % {"n": limit}
    return text, None


def score_of(item: Item, value: Value) -> Decimal | None:
    """The item's score for this value: choice scores (multiple: their mean), or the scale value."""
    if not _present(value):
        return None
    if item.kind == Item.Kind.RATING:
        return Decimal(value)
    if item.is_choice:
        codes = value if isinstance(value, list) else [value]
        choices = item.choice_map()
        points = [Decimal(str(choices[c]["score"])) for c in codes if choices.get(c, {}).get("score") is not None]
        if not points:
            return None
        return sum(points, Decimal(0)) / len(points)
    return None


def is_red_flag(item: Item, value: Value) -> bool:
    rule = item.red_flag or {}
    if not rule or not _present(value):
        return False
    flagged_codes = {str(c) for c in rule.get("choices", [])}
    if flagged_codes:
        codes = value if isinstance(value, list) else [value]
        if flagged_codes.intersection(str(c) for c in codes):
            return True
    if isinstance(value, Decimal):
        if rule.get("max") is not None and value <= Decimal(str(rule["max"])):
            return True
        if rule.get("min") is not None and value >= Decimal(str(rule["min"])):
            return True
    return False


def evaluate(spec: VersionSpec, raw: Mapping[str, Any], *, partial: bool = False) -> Result:
    """Clean every item's raw input, apply the conditions, check required items (unless ``partial``),
    and compute scores, dimension means, the recommend score and red flags."""
    values: dict[str, Value] = {}
    errors: dict[str, str] = {}
    for item in spec.items:
        value, error = clean_value(item, raw.get(item.link_id))
        if error:
            errors[item.link_id] = error
        elif value is not None:
            values[item.link_id] = value
    shown = enabled_items(spec, values)
    shown_ids = {item.link_id for item in shown}
    values = {k: v for k, v in values.items() if k in shown_ids}
    errors = {k: v for k, v in errors.items() if k in shown_ids}
    if not partial:
        for item in shown:
            if item.required and item.link_id not in values and item.link_id not in errors:
                errors[item.link_id] = _("此题为必答题。")
    scores: dict[str, Decimal] = {}
    by_dimension: dict[str, list[Decimal]] = {}
    recommend = None
    flags = []
    for item in shown:
        value = values.get(item.link_id)
        points = score_of(item, value)
        if points is not None:
            scores[item.link_id] = points
            if item.dimension_id:
                by_dimension.setdefault(item.dimension.code, []).append(points)  # type: ignore[union-attr]
        if item.kind == Item.Kind.RECOMMEND and value is not None and recommend is None:
            recommend = int(value)
        if is_red_flag(item, value):
            flags.append(item.link_id)
    total = sum(scores.values(), Decimal(0)) if scores else None
    dimensions = {code: round(float(sum(p) / len(p)), 2) for code, p in by_dimension.items()}
    return Result(values=values, errors=errors, scores=scores, total=total, dimensions=dimensions,
                  recommend=recommend, red_flags=flags)


def raw_from_post(spec: VersionSpec, data: Any, prefix: str = "") -> dict[str, Any]:
    """Read each item's input from a QueryDict (lists for multiple choice) or a plain dict."""
    raw: dict[str, Any] = {}
    for item in spec.items:
        key = f"{prefix}{item.link_id}"
        if hasattr(data, "getlist"):
            raw[item.link_id] = data.getlist(key) if item.kind == Item.Kind.MULTIPLE else data.get(key)
        elif key in data:
            raw[item.link_id] = data[key]
    return raw


def display_value(item: Item, value: Value) -> str:
    """A value as staff read it (choice labels, not codes)."""
    if not _present(value):
        return ""
    if item.is_choice:
        labels = item.choice_map()
        codes = value if isinstance(value, list) else [value]
        return "、".join(str(labels.get(str(c), {}).get("label", c)) for c in codes)
    if isinstance(value, Decimal):
        return str(int(value)) if value == value.to_integral_value() else format(value.normalize(), "f")
    return str(value)
