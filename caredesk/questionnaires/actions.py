"""Writes on questionnaires: build from a spec, draft/publish versions, save responses.

A *spec* is the plain dict form used for shipped questionnaires, tests and imports::

    {"code": "followup-discharge", "title": "…", "purpose": "followup", "description": "…",
     "introduction": "…", "thanks": "…",
     "sections": [{"title": "…", "items": [
         {"link_id": "pain", "text": "…", "kind": "single", "required": True, "dimension": "care",
          "choices": [{"code": "none", "label": "…", "score": 5}, …],
          "enable_when": [{"item": "surgery", "op": "=", "value": "yes"}],
          "red_flag": {"choices": ["severe"]}}]}]}
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from caredesk.core import audit

from . import engine
from .models import Answer, Dimension, Item, Questionnaire, QuestionnaireVersion, Response, Section

DEFAULT_DIMENSIONS = [
    ("attitude", "服务态度"),
    ("efficiency", "就诊效率"),
    ("environment", "环境设施"),
    ("fees", "费用透明"),
    ("privacy", "隐私保护"),
    ("communication", "医患沟通"),
    ("recovery", "康复情况"),
]


class ResponseInvalid(Exception):
    """Raised when a submitted response fails validation; ``errors`` maps link_id → Chinese message."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(_("问卷填写有误，请检查标出的题目。"))
        self.errors = errors


def ensure_dimensions() -> None:
    for order, (code, name) in enumerate(DEFAULT_DIMENSIONS):
        Dimension.objects.get_or_create(code=code, defaults={"name": name, "order": order})


def _check_spec_item(item: Mapping[str, Any], seen: set[str]) -> None:
    link_id = item.get("link_id", "")
    if not link_id:
        raise ValidationError(_("每道题都需要题目代码。"))
    if link_id in seen:
        raise ValidationError(_("题目代码 %(code)s 重复。") % {"code": link_id})
    if item.get("kind") not in Item.Kind.values:
        raise ValidationError(_("题目 %(code)s 的题型无效。") % {"code": link_id})
    if item["kind"] in Item.CHOICE_KINDS and not item.get("choices"):
        raise ValidationError(_("选择题 %(code)s 至少需要一个选项。") % {"code": link_id})
    for condition in item.get("enable_when", []):
        if condition.get("item") not in seen:
            raise ValidationError(
                _("题目 %(code)s 的显示条件只能引用它前面的题目。") % {"code": link_id}
            )
    seen.add(link_id)


def _write_items(version: QuestionnaireVersion, sections: list[Mapping[str, Any]]) -> None:
    dimensions = {d.code: d for d in Dimension.objects.all()}
    seen: set[str] = set()
    order = 0
    for s_order, section_spec in enumerate(sections):
        section = Section.objects.create(
            version=version, order=s_order, title=section_spec.get("title", ""),
            description=section_spec.get("description", ""),
        )
        for item in section_spec.get("items", []):
            _check_spec_item(item, seen)
            dimension = None
            if item.get("dimension"):
                dimension = dimensions.get(item["dimension"])
                if dimension is None:
                    raise ValidationError(_("评分维度 %(code)s 不存在。") % {"code": item["dimension"]})
            order += 1
            Item.objects.create(
                version=version, section=section, link_id=item["link_id"], order=order, text=item["text"],
                help_text=item.get("help_text", ""), kind=item["kind"], required=bool(item.get("required")),
                choices=list(item.get("choices", [])), dimension=dimension,
                enable_when=list(item.get("enable_when", [])), enable_behavior=item.get("enable_behavior", "all"),
                red_flag=dict(item.get("red_flag", {})), min_value=item.get("min_value"),
                max_value=item.get("max_value"),
            )


def spec_of(version: QuestionnaireVersion) -> dict[str, Any]:
    """The version as a spec (the inverse of ``create_from_spec``)."""
    q = version.questionnaire
    sections: list[dict[str, Any]] = []
    by_section: dict[int | None, list[dict[str, Any]]] = {}
    for item in version.items.select_related("dimension").order_by("order", "id"):
        entry = _normal_item({
            "link_id": item.link_id, "text": item.text, "kind": item.kind, "help_text": item.help_text,
            "required": item.required, "choices": item.choices,
            "dimension": item.dimension.code if item.dimension else "", "enable_when": item.enable_when,
            "enable_behavior": item.enable_behavior, "red_flag": item.red_flag,
            "min_value": item.min_value, "max_value": item.max_value,
        })
        by_section.setdefault(item.section_id, []).append(entry)
    for section in version.sections.order_by("order", "id"):
        sections.append({"title": section.title, "description": section.description,
                         "items": by_section.get(section.pk, [])})
    if by_section.get(None):
        sections.append({"title": "", "items": by_section[None]})
    return {"code": q.code, "title": version.title, "purpose": q.purpose, "description": q.description,
            "introduction": version.introduction, "thanks": version.thanks, "sections": sections}


@transaction.atomic
def create_from_spec(
    spec: Mapping[str, Any], *, acting_user: Any = None, publish: bool = True, audited: bool = True
) -> QuestionnaireVersion:
    """Create the questionnaire (or a new version of it) from a spec. If the latest version already
    has exactly this content, nothing is written and that version is returned (idempotent).
    ``audited=False`` is for the shipped defaults written at migrate time."""
    ensure_dimensions()
    questionnaire, created = Questionnaire.objects.get_or_create(
        code=spec["code"],
        defaults={"title": spec["title"], "purpose": spec.get("purpose", Questionnaire.Purpose.GENERAL),
                  "description": spec.get("description", "")},
    )
    latest = questionnaire.versions.order_by("-number").first()
    if latest is not None and _same_content(spec_of(latest), spec):
        if publish and latest.status == QuestionnaireVersion.Status.DRAFT:
            publish_version(latest, acting_user=acting_user, audited=audited)
        return latest
    version = QuestionnaireVersion.objects.create(
        questionnaire=questionnaire, number=(latest.number + 1) if latest else 1, title=str(spec["title"]),
        introduction=str(spec.get("introduction", "")), thanks=str(spec.get("thanks", "")),
    )
    _write_items(version, list(spec.get("sections", [])))
    if audited:
        audit.record(actor=acting_user, verb="questionnaire.version_created", target=version, created=created)
    if publish:
        publish_version(version, acting_user=acting_user, audited=audited)
    return version


def _normal_item(item: Mapping[str, Any]) -> dict[str, Any]:
    entry = {"link_id": item["link_id"], "text": item["text"], "kind": item["kind"]}
    for key in ("help_text", "required", "choices", "dimension", "enable_when", "red_flag"):
        if item.get(key):
            entry[key] = item[key]
    if item.get("enable_when") and item.get("enable_behavior", "all") != "all":
        entry["enable_behavior"] = item["enable_behavior"]
    for key in ("min_value", "max_value"):
        if item.get(key) is not None:
            entry[key] = float(item[key])
    return entry


def _same_content(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    def norm(spec: Mapping[str, Any]) -> str:
        sections = [
            {"title": s.get("title", ""), "description": s.get("description", ""),
             "items": [_normal_item(i) for i in s.get("items", [])]}
            for s in spec.get("sections", [])
        ]
        body = {"title": spec.get("title", ""), "introduction": spec.get("introduction", ""),
                "thanks": spec.get("thanks", ""), "sections": sections}
        return json.dumps(body, sort_keys=True, ensure_ascii=False, default=str)

    return norm(a) == norm(b)


@transaction.atomic
def publish_version(
    version: QuestionnaireVersion, *, acting_user: Any = None, audited: bool = True
) -> QuestionnaireVersion:
    """Freeze a draft; earlier published versions of the same questionnaire are retired."""
    if version.status != QuestionnaireVersion.Status.DRAFT:
        raise ValidationError(_("只有草稿版本可以发布。"))
    if not version.items.exists():
        raise ValidationError(_("问卷至少需要一道题才能发布。"))
    check_version(version, values=False)
    QuestionnaireVersion.objects.filter(
        questionnaire=version.questionnaire, status=QuestionnaireVersion.Status.PUBLISHED
    ).update(status=QuestionnaireVersion.Status.RETIRED)
    version.status = QuestionnaireVersion.Status.PUBLISHED
    version.published_at = timezone.now()
    version.published_by = acting_user if getattr(acting_user, "pk", None) else None
    version.save(update_fields=["status", "published_at", "published_by"])
    if audited:
        audit.record(actor=acting_user, verb="questionnaire.version_published", target=version)
    return version


@transaction.atomic
def new_draft(questionnaire: Questionnaire, *, acting_user: Any = None) -> QuestionnaireVersion:
    """A draft copy of the latest version to edit (or the existing draft)."""
    draft = questionnaire.versions.filter(status=QuestionnaireVersion.Status.DRAFT).first()
    if draft is not None:
        return draft
    latest = questionnaire.versions.order_by("-number").first()
    spec: dict[str, Any] = spec_of(latest) if latest else {"title": questionnaire.title, "sections": []}
    version = QuestionnaireVersion.objects.create(
        questionnaire=questionnaire, number=(latest.number + 1) if latest else 1, title=spec["title"],
        introduction=spec.get("introduction", ""), thanks=spec.get("thanks", ""),
    )
    _write_items(version, spec["sections"])
    audit.record(actor=acting_user, verb="questionnaire.draft_created", target=version)
    return version


@dataclass
class Source:
    """What a response belongs to (a follow-up task, a survey invitation …)."""

    type: str
    id: str

    @classmethod
    def of(cls, obj: Any) -> Source:
        return cls(type=obj._meta.label_lower, id=str(obj.pk))


def _answer_fields(item: Item, value: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {"value_text": "", "value_number": None, "value_choices": [], "value_date": None}
    if item.kind == Item.Kind.MULTIPLE:
        fields["value_choices"] = list(value)
    elif item.kind == Item.Kind.SINGLE:
        fields["value_choices"] = [value]
    elif item.kind in (Item.Kind.RATING, Item.Kind.RECOMMEND, Item.Kind.NUMBER):
        fields["value_number"] = value
    elif item.kind == Item.Kind.DATE:
        fields["value_date"] = value
    else:
        fields["value_text"] = value
    return fields


def value_of(answer: Answer) -> Any:
    item = answer.item
    if item.kind == Item.Kind.MULTIPLE:
        return list(answer.value_choices)
    if item.kind == Item.Kind.SINGLE:
        return answer.value_choices[0] if answer.value_choices else None
    if item.kind in (Item.Kind.RATING, Item.Kind.RECOMMEND, Item.Kind.NUMBER):
        return answer.value_number
    if item.kind == Item.Kind.DATE:
        return answer.value_date
    return answer.value_text


def values_of(response: Response) -> dict[str, Any]:
    """The response's stored answers as engine values keyed by link_id."""
    return {a.item.link_id: value_of(a) for a in response.answers.select_related("item")}


@transaction.atomic
def save_response(
    version: QuestionnaireVersion,
    raw: Mapping[str, Any],
    *,
    submit: bool = True,
    response: Response | None = None,
    patient: Any = None,
    encounter: Any = None,
    department: Any = None,
    doctor: Any = None,
    channel: str = Response.Channel.OTHER,
    source: Source | None = None,
    acting_user: Any = None,
) -> Response:
    """Validate and store answers. With ``submit=False`` a partial answer set is kept (format errors
    still refuse); with ``submit=True`` required items are enforced and the response is completed.
    Raises ResponseInvalid. A completed response cannot be changed."""
    if version.status != QuestionnaireVersion.Status.PUBLISHED and response is None:
        raise ValidationError(_("该问卷版本未发布，不能填写。"))
    if response is not None and response.status == Response.Status.COMPLETED:
        raise ValidationError(_("该问卷已提交，不能再修改。"))
    spec = engine.VersionSpec.load(version)
    result = engine.evaluate(spec, raw, partial=not submit)
    if result.errors:
        raise ResponseInvalid(result.errors)
    if response is None:
        response = Response.objects.create(
            version=version, questionnaire_id=version.questionnaire_id, patient=patient, encounter=encounter,
            department=department if department is not None else getattr(encounter, "department", None),
            doctor=doctor if doctor is not None else getattr(encounter, "doctor", None),
            channel=channel, source_type=source.type if source else "", source_id=source.id if source else "",
            respondent=acting_user if getattr(acting_user, "pk", None) else None,
        )
    response.answers.exclude(item__link_id__in=list(result.values)).delete()
    existing = {a.item_id: a for a in response.answers.all()}
    creates, updates = [], []
    for link_id, value in result.values.items():
        item = spec.by_link[link_id]
        fields = _answer_fields(item, value)
        fields["score"] = result.scores.get(link_id)
        answer = existing.get(item.pk)
        if answer is None:
            creates.append(Answer(response=response, item=item, **fields))
        else:
            for key, val in fields.items():
                setattr(answer, key, val)
            updates.append(answer)
    Answer.objects.bulk_create(creates)
    if updates:
        Answer.objects.bulk_update(updates, ["value_text", "value_number", "value_choices", "value_date", "score"])
    response.total_score = result.total
    response.dimension_scores = result.dimensions
    response.recommend = result.recommend
    response.red_flags = result.red_flags
    if submit:
        response.status = Response.Status.COMPLETED
        response.submitted_at = timezone.now()
    response.save()
    audit.record(
        actor=acting_user, verb="questionnaire.response_submitted" if submit else "questionnaire.response_saved",
        target=response, answers=len(result.values), red_flags=len(result.red_flags),
    )
    return response


# --- builder: edits on a draft version (every function refuses a published or retired version) ----

ITEM_FIELDS = ("text", "help_text", "kind", "required", "choices", "dimension", "enable_when",
               "enable_behavior", "red_flag", "min_value", "max_value")
NUMERIC_KINDS = frozenset({Item.Kind.RATING, Item.Kind.RECOMMEND, Item.Kind.NUMBER})


def _editable(version: QuestionnaireVersion) -> None:
    if version.status != QuestionnaireVersion.Status.DRAFT:
        raise ValidationError(_("已发布或已停用的版本是只读的，请先新建草稿再修改。"))


def ordered_items(version: QuestionnaireVersion) -> list[Item]:
    """The version's items in display order (sections first, then item order)."""
    return list(version.items.select_related("section", "dimension").order_by("section__order", "order", "id"))


def check_version(version: QuestionnaireVersion, *, values: bool = True) -> None:
    """Whole-version rules, run after every builder edit and before publishing: choice items have
    choices, red-flag choices exist, conditions refer to earlier items and (``values``) compare with
    an option code of a choice item or a number."""
    seen: dict[str, Item] = {}
    for item in ordered_items(version):
        if item.is_choice and not item.choices:
            raise ValidationError(_("选择题“%(text)s”至少需要一个选项。") % {"text": item.text})
        codes = set(item.choice_map())
        for code in (item.red_flag or {}).get("choices", []):
            if str(code) not in codes:
                raise ValidationError(_("题目“%(text)s”的警示选项 %(code)s 不在选项中。") % {"text": item.text, "code": code})
        for condition in item.enable_when or []:
            source = seen.get(condition.get("item", ""))
            if source is None:
                raise ValidationError(
                    _("题目“%(text)s”的显示条件只能引用它前面的题目（%(code)s 不在它前面）。")
                    % {"text": item.text, "code": condition.get("item", "")}
                )
            if values:
                check_condition_value(source, condition, item.text)
        seen[item.link_id] = item


def check_condition_value(source: Item, condition: Mapping[str, Any], text: str) -> None:
    op = condition.get("op", "=")
    if op not in CONDITION_OPS:
        raise ValidationError(_("题目“%(text)s”的条件运算符无效。") % {"text": text})
    if op in ("answered", "unanswered"):
        return
    value = condition.get("value")
    values = value if isinstance(value, list) else [value]
    if not values or any(v in (None, "") for v in values):
        raise ValidationError(_("题目“%(text)s”的显示条件缺少比较值。") % {"text": text})
    if source.is_choice and op in ("=", "!=", "in"):
        unknown = [str(v) for v in values if str(v) not in source.choice_map()]
        if unknown:
            raise ValidationError(
                _("题目“%(text)s”的条件值 %(codes)s 不是“%(source)s”的选项代码。")
                % {"text": text, "codes": "、".join(unknown), "source": source.text}
            )
    elif source.kind in NUMERIC_KINDS or op in (">", ">=", "<", "<="):  # choice codes compare as numbers
        for v in values:
            try:
                Decimal(str(v))
            except InvalidOperation:
                raise ValidationError(_("题目“%(text)s”的条件值必须是数字。") % {"text": text}) from None


CONDITION_OPS = ("=", "!=", ">", ">=", "<", "<=", "in", "answered", "unanswered")


def _next_link_id(version: QuestionnaireVersion) -> str:
    taken = set(version.items.values_list("link_id", flat=True))
    n = len(taken) + 1
    while f"q{n}" in taken:
        n += 1
    return f"q{n}"


def _renumber(version: QuestionnaireVersion, items: list[Item]) -> None:
    for order, item in enumerate(items, start=1):
        item.order = order
    Item.objects.bulk_update(items, ["order", "section"])


def _apply_item_data(item: Item, data: Mapping[str, Any]) -> None:
    for key in ITEM_FIELDS:
        if key in data:
            setattr(item, key, data[key])
    if item.kind not in Item.CHOICE_KINDS:
        item.choices = []
    if item.kind not in NUMERIC_KINDS:
        item.min_value = item.max_value = None
        if item.red_flag:
            item.red_flag = {k: v for k, v in item.red_flag.items() if k == "choices" and v}
    if item.kind not in Item.CHOICE_KINDS and item.red_flag:
        item.red_flag = {k: v for k, v in item.red_flag.items() if k != "choices"}
    if not item.enable_when:
        item.enable_behavior = "all"


@transaction.atomic
def publish_draft(version: QuestionnaireVersion, *, acting_user: Any = None) -> QuestionnaireVersion:
    """The builder's publish: every whole-version check (including condition values), then publish."""
    _editable(version)
    check_version(version)
    return publish_version(version, acting_user=acting_user)


@transaction.atomic
def create_questionnaire(
    *, code: str, title: str, purpose: str = Questionnaire.Purpose.GENERAL, description: str = "",
    department: Any = None, acting_user: Any = None,
) -> QuestionnaireVersion:
    """A new questionnaire with an empty draft v1 holding one untitled section."""
    if Questionnaire.objects.filter(code=code).exists():
        raise ValidationError(_("问卷代码 %(code)s 已存在。") % {"code": code})
    questionnaire = Questionnaire.objects.create(
        code=code, title=title, purpose=purpose, description=description, department=department
    )
    version = QuestionnaireVersion.objects.create(questionnaire=questionnaire, number=1, title=title)
    Section.objects.create(version=version, order=0, title="")
    audit.record(actor=acting_user, verb="questionnaire.created", target=questionnaire, code=code)
    return version


@transaction.atomic
def update_version(
    version: QuestionnaireVersion, *, title: str, introduction: str = "", thanks: str = "", acting_user: Any = None
) -> QuestionnaireVersion:
    _editable(version)
    version.title, version.introduction, version.thanks = title, introduction, thanks
    version.save(update_fields=["title", "introduction", "thanks"])
    audit.record(actor=acting_user, verb="questionnaire.version_edited", target=version)
    return version


@transaction.atomic
def add_section(
    version: QuestionnaireVersion, *, title: str, description: str = "", acting_user: Any = None
) -> Section:
    _editable(version)
    last = version.sections.order_by("-order").first()
    section = Section.objects.create(
        version=version, order=(last.order + 1) if last else 0, title=title, description=description
    )
    audit.record(actor=acting_user, verb="questionnaire.section_added", target=version, section=section.pk)
    return section


@transaction.atomic
def update_section(section: Section, *, title: str, description: str = "", acting_user: Any = None) -> Section:
    _editable(section.version)
    section.title, section.description = title, description
    section.save(update_fields=["title", "description"])
    audit.record(actor=acting_user, verb="questionnaire.section_edited", target=section.version, section=section.pk)
    return section


@transaction.atomic
def delete_section(section: Section, *, acting_user: Any = None) -> None:
    version = section.version
    _editable(version)
    if section.items.exists():
        raise ValidationError(_("该分节还有题目，请先删除或移走其中的题目。"))
    if version.sections.count() <= 1:
        raise ValidationError(_("问卷至少需要保留一个分节。"))
    pk = section.pk
    section.delete()
    audit.record(actor=acting_user, verb="questionnaire.section_deleted", target=version, section=pk)


@transaction.atomic
def move_section(section: Section, direction: str, *, acting_user: Any = None) -> None:
    version = section.version
    _editable(version)
    sections = list(version.sections.order_by("order", "id"))
    index = sections.index(section)
    other = index - 1 if direction == "up" else index + 1
    if not 0 <= other < len(sections):
        return
    sections[index], sections[other] = sections[other], sections[index]
    for order, s in enumerate(sections):
        s.order = order
    Section.objects.bulk_update(sections, ["order"])
    _renumber(version, ordered_items(version))
    check_version(version)
    audit.record(actor=acting_user, verb="questionnaire.section_moved", target=version, section=section.pk,
                 direction=direction)


def _dimension(value: Any) -> Dimension | None:
    if value in (None, ""):
        return None
    if isinstance(value, Dimension):
        return value
    dimension = Dimension.objects.filter(code=value).first()
    if dimension is None:
        raise ValidationError(_("评分维度 %(code)s 不存在。") % {"code": value})
    return dimension


@transaction.atomic
def add_item(
    version: QuestionnaireVersion, data: Mapping[str, Any], *, section: Section | None = None, acting_user: Any = None
) -> Item:
    """Append an item to ``section`` (default: the last section). ``data`` holds Item fields;
    ``dimension`` may be a Dimension or its code; a blank ``link_id`` becomes q1, q2 …"""
    _editable(version)
    if section is None:
        section = version.sections.order_by("-order", "-id").first() or Section.objects.create(version=version, title="")
    elif section.version_id != version.pk:
        raise ValidationError(_("分节不属于该版本。"))
    link_id = str(data.get("link_id") or "").strip() or _next_link_id(version)
    if version.items.filter(link_id=link_id).exists():
        raise ValidationError(_("题目代码 %(code)s 重复。") % {"code": link_id})
    item = Item(version=version, section=section, link_id=link_id, kind=data.get("kind", Item.Kind.TEXT))
    _apply_item_data(item, {**data, "dimension": _dimension(data.get("dimension"))})
    if item.kind not in Item.Kind.values:
        raise ValidationError(_("题型无效。"))
    item.order = 0
    item.save()
    items = [i for i in ordered_items(version) if i.pk != item.pk]
    position = max((n for n, i in enumerate(items) if i.section_id == section.pk), default=None)
    if position is None:  # empty section: after every item of the sections before it
        position = max((n for n, i in enumerate(items) if i.section.order <= section.order), default=-1)  # type: ignore[union-attr]
    items.insert(position + 1, item)
    _renumber(version, items)
    check_version(version)
    audit.record(actor=acting_user, verb="questionnaire.item_added", target=version, item=link_id)
    return item


@transaction.atomic
def update_item(item: Item, data: Mapping[str, Any], *, acting_user: Any = None) -> Item:
    """Change an item; renaming its ``link_id`` rewrites the conditions that refer to it."""
    version = item.version
    _editable(version)
    old_link = item.link_id
    new_link = str(data.get("link_id") or old_link).strip()
    if new_link != old_link:
        if version.items.filter(link_id=new_link).exclude(pk=item.pk).exists():
            raise ValidationError(_("题目代码 %(code)s 重复。") % {"code": new_link})
        item.link_id = new_link
        dependants = [i for i in version.items.exclude(pk=item.pk) if any(c.get("item") == old_link for c in i.enable_when)]
        for other in dependants:
            other.enable_when = [{**c, "item": new_link} if c.get("item") == old_link else c for c in other.enable_when]
            other.save(update_fields=["enable_when"])
    payload = dict(data)
    if "dimension" in payload:
        payload["dimension"] = _dimension(payload["dimension"])
    _apply_item_data(item, payload)
    if item.kind not in Item.Kind.values:
        raise ValidationError(_("题型无效。"))
    item.save()
    check_version(version)
    audit.record(actor=acting_user, verb="questionnaire.item_edited", target=version, item=item.link_id)
    return item


@transaction.atomic
def delete_item(item: Item, *, acting_user: Any = None) -> None:
    version = item.version
    _editable(version)
    dependants = [i.text for i in version.items.exclude(pk=item.pk) if any(c.get("item") == item.link_id for c in i.enable_when)]
    if dependants:
        raise ValidationError(
            _("其他题目的显示条件引用了这道题（%(items)s），请先修改这些条件。") % {"items": "、".join(dependants)}
        )
    link_id = item.link_id
    item.delete()
    _renumber(version, ordered_items(version))
    audit.record(actor=acting_user, verb="questionnaire.item_deleted", target=version, item=link_id)


@transaction.atomic
def move_item(item: Item, direction: str, *, acting_user: Any = None) -> None:
    """Move one place up or down; at a section's edge the item moves into the neighbouring section.
    Refused when a condition would then refer to a later item."""
    version = item.version
    _editable(version)
    if direction not in ("up", "down"):
        raise ValidationError(_("移动方向无效。"))
    items = ordered_items(version)
    sections = list(version.sections.order_by("order", "id"))
    index = next(n for n, i in enumerate(items) if i.pk == item.pk)
    current = items[index]
    step = -1 if direction == "up" else 1
    neighbour = index + step
    if 0 <= neighbour < len(items) and items[neighbour].section_id == current.section_id:
        items[index], items[neighbour] = items[neighbour], items[index]
    else:
        s_index = next((n for n, s in enumerate(sections) if s.pk == current.section_id), None)
        if s_index is None or not 0 <= s_index + step < len(sections):
            return  # already first/last
        current.section = sections[s_index + step]
        items.pop(index)
        target = current.section
        same = [n for n, i in enumerate(items) if i.section_id == target.pk]
        # Up: after the last item of the section above; down: before the first of the section below;
        # an empty section: the item keeps its place in the flat order.
        position = index
        if same:
            position = same[-1] + 1 if direction == "up" else same[0]
        items.insert(position, current)
    _renumber(version, items)
    check_version(version)
    audit.record(actor=acting_user, verb="questionnaire.item_moved", target=version, item=item.link_id,
                 direction=direction)


@transaction.atomic
def move_item_to_section(item: Item, section: Section, *, acting_user: Any = None) -> None:
    """Put the item at the end of another section of the same draft (conditions are re-checked)."""
    version = item.version
    _editable(version)
    if section.version_id != version.pk:
        raise ValidationError(_("分节不属于该版本。"))
    items = [i for i in ordered_items(version) if i.pk != item.pk]
    item.section = section
    position = max((n for n, i in enumerate(items) if i.section is not None and i.section.order <= section.order),
                   default=-1)
    items.insert(position + 1, item)
    _renumber(version, items)
    check_version(version)
    audit.record(actor=acting_user, verb="questionnaire.item_moved", target=version, item=item.link_id,
                 section=section.pk)


# --- dimensions ------------------------------------------------------------------------------------


@transaction.atomic
def add_dimension(*, code: str, name: str, acting_user: Any = None) -> Dimension:
    if Dimension.objects.filter(code=code).exists():
        raise ValidationError(_("维度代码 %(code)s 已存在。") % {"code": code})
    if Dimension.objects.filter(name=name).exists():
        raise ValidationError(_("维度名称“%(name)s”已存在。") % {"name": name})
    last = Dimension.objects.order_by("-order").first()
    dimension = Dimension.objects.create(code=code, name=name, order=(last.order + 1) if last else 0)
    audit.record(actor=acting_user, verb="questionnaire.dimension_added", target=dimension, code=code)
    return dimension


@transaction.atomic
def update_dimension(dimension: Dimension, *, name: str, is_active: bool, acting_user: Any = None) -> Dimension:
    """Rename or (de)activate; an inactive dimension keeps its scores but is not offered for new items."""
    if Dimension.objects.filter(name=name).exclude(pk=dimension.pk).exists():
        raise ValidationError(_("维度名称“%(name)s”已存在。") % {"name": name})
    dimension.name, dimension.is_active = name, is_active
    dimension.save(update_fields=["name", "is_active"])
    audit.record(actor=acting_user, verb="questionnaire.dimension_edited", target=dimension, active=is_active)
    return dimension
