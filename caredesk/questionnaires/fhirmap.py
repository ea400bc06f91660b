"""Questionnaires as FHIR R4 ``Questionnaire`` / ``QuestionnaireResponse`` and back (validated with
``fhir.resources.R4B``; the package's default models are R5).

Mapping (docs/questionnaires.md, "FHIR"):

- A version is one Questionnaire: ``id`` = the version's primary key, ``url`` =
  ``urn:caredesk:questionnaire:<code>``, ``version`` = the version number, status draft/active/retired.
- Each section is a ``group`` item (linkId ``section-1``, ``section-2`` …); items keep their link_id.
- Kinds: single → ``choice``; multiple → ``choice`` + ``repeats``; rating → ``integer`` 1–5;
  recommend → ``integer`` 0–10; number → ``decimal``; text → ``string``; textarea → ``text``; date →
  ``date``. The exact kind also travels in the extension ``urn:caredesk:fhir:item-kind``.
- Options are ``answerOption.valueCoding`` with the score in the standard ``ordinalValue`` extension
  (``itemWeight`` is read too); the scoring dimension is the item's ``code``
  (system ``urn:caredesk:questionnaire-dimension``); help text is a ``display`` child with
  itemControl ``help``; red-flag rules use the extension ``urn:caredesk:fhir:red-flag``.
- Conditions are ``enableWhen`` / ``enableBehavior``: answered/unanswered ↔ ``exists`` true/false;
  our ``in`` becomes one ``=`` per value with behavior ``any`` when it is the only condition.
  Anything FHIR cannot say exactly (``in`` next to other conditions) is also kept verbatim in the
  extension ``urn:caredesk:fhir:enable-when``, which the importer prefers.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

from django.utils.translation import gettext as _

from caredesk.api.fhir.resources import validated
from caredesk.core import pii

from . import actions
from .models import Item, QuestionnaireVersion, Response, Section

QUESTIONNAIRE_URL = "urn:caredesk:questionnaire:"
QUESTIONNAIRE_SYSTEM = "urn:caredesk:questionnaire"
RESPONSE_SYSTEM = "urn:caredesk:questionnaire-response"
PURPOSE_SYSTEM = "urn:caredesk:questionnaire-purpose"
DIMENSION_SYSTEM = "urn:caredesk:questionnaire-dimension"
EXT_KIND = "urn:caredesk:fhir:item-kind"
EXT_RED_FLAG = "urn:caredesk:fhir:red-flag"
EXT_ENABLE_WHEN = "urn:caredesk:fhir:enable-when"
EXT_INTRODUCTION = "urn:caredesk:fhir:introduction"
EXT_THANKS = "urn:caredesk:fhir:thanks"
EXT_SECTION_DESCRIPTION = "urn:caredesk:fhir:section-description"
EXT_TOTAL_SCORE = "urn:caredesk:fhir:total-score"
EXT_RED_FLAG_ITEM = "urn:caredesk:fhir:red-flag-item"
ORDINAL_VALUE = "http://hl7.org/fhir/StructureDefinition/ordinalValue"
ITEM_WEIGHT = "http://hl7.org/fhir/StructureDefinition/itemWeight"
MIN_VALUE = "http://hl7.org/fhir/StructureDefinition/minValue"
MAX_VALUE = "http://hl7.org/fhir/StructureDefinition/maxValue"
ITEM_CONTROL = "http://hl7.org/fhir/StructureDefinition/questionnaire-itemControl"
ITEM_CONTROL_SYSTEM = "http://hl7.org/fhir/questionnaire-item-control"

STATUS_TO_FHIR = {"draft": "draft", "published": "active", "retired": "retired"}
KIND_TO_TYPE = {
    "single": "choice", "multiple": "choice", "rating": "integer", "recommend": "integer", "number": "decimal",
    "text": "string", "textarea": "text", "date": "date",
}
OPS = {"=", "!=", ">", ">=", "<", "<="}


class ImportProblem(ValueError):
    """The FHIR Questionnaire cannot be imported; ``problems`` lists every reason (Chinese)."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("；".join(problems))
        self.problems = problems


# --- export -----------------------------------------------------------------------------------------


def _number(value: Any) -> int | float:
    number = Decimal(str(value))
    return int(number) if number == number.to_integral_value() else float(number)


def section_link_ids(sections: Iterable[Section], taken: set[str]) -> dict[int, str]:
    """Stable group linkIds ``section-1`` … in section order (never clashing with an item's link_id)."""
    result = {}
    for n, section in enumerate(sections, start=1):
        link = f"section-{n}"
        while link in taken:
            link += "-g"
        result[section.pk] = link
    return result


def _answer_value(source: Item | None, value: Any) -> dict[str, Any]:
    kind = source.kind if source is not None else ""
    if kind in Item.CHOICE_KINDS:
        return {"answerCoding": {"code": str(value)}}
    if kind in (Item.Kind.RATING, Item.Kind.RECOMMEND):
        number = Decimal(str(value))
        if number == number.to_integral_value():
            return {"answerInteger": int(number)}
        return {"answerDecimal": float(number)}
    if kind == Item.Kind.NUMBER:
        return {"answerDecimal": _number(value)}
    if kind == Item.Kind.DATE:
        return {"answerDate": str(value)}
    return {"answerString": str(value)}


def _enable_when(item: Item, by_link: Mapping[str, Item]) -> tuple[list[dict[str, Any]], str, list[dict[str, Any]]]:
    """(FHIR enableWhen, enableBehavior, extensions) for the item's conditions."""
    conditions = list(item.enable_when or [])
    behavior = item.enable_behavior or "all"
    extensions: list[dict[str, Any]] = []
    has_in = any(c.get("op") == "in" for c in conditions)
    if has_in and len(conditions) > 1:
        extensions.append({"url": EXT_ENABLE_WHEN,
                           "valueString": json.dumps({"behavior": behavior, "when": conditions}, ensure_ascii=False)})
    if has_in and len(conditions) == 1:
        behavior = "any"
    result = []
    for c in conditions:
        source = by_link.get(c.get("item", ""))
        op = c.get("op", "=")
        if op in ("answered", "unanswered"):
            result.append({"question": c["item"], "operator": "exists", "answerBoolean": op == "answered"})
        elif op == "in":
            if behavior == "all" and len(conditions) > 1:
                continue  # not expressible under "all": only in the extension
            values = c.get("value") if isinstance(c.get("value"), list) else [c.get("value")]
            result.extend({"question": c["item"], "operator": "=", **_answer_value(source, v)} for v in values)
        else:
            result.append({"question": c["item"], "operator": op, **_answer_value(source, c.get("value"))})
    return result, behavior, extensions


def _red_flag_extension(rule: Mapping[str, Any]) -> dict[str, Any] | None:
    parts: list[dict[str, Any]] = [{"url": "choice", "valueCode": str(c)} for c in rule.get("choices", [])]
    for key in ("max", "min"):
        if rule.get(key) is not None:
            parts.append({"url": key, "valueDecimal": _number(rule[key])})
    return {"url": EXT_RED_FLAG, "extension": parts} if parts else None


def item_resource(item: Item, by_link: Mapping[str, Item]) -> dict[str, Any]:
    entry: dict[str, Any] = {"linkId": item.link_id, "text": item.text, "type": KIND_TO_TYPE[item.kind]}
    extensions: list[dict[str, Any]] = [{"url": EXT_KIND, "valueCode": item.kind}]
    if item.required:
        entry["required"] = True
    if item.kind == Item.Kind.MULTIPLE:
        entry["repeats"] = True
    if item.kind in Item.SCALE_RANGES:
        low, high = Item.SCALE_RANGES[item.kind]  # type: ignore[index]
        extensions += [{"url": MIN_VALUE, "valueInteger": low}, {"url": MAX_VALUE, "valueInteger": high}]
    elif item.kind == Item.Kind.NUMBER:
        if item.min_value is not None:
            extensions.append({"url": MIN_VALUE, "valueDecimal": _number(item.min_value)})
        if item.max_value is not None:
            extensions.append({"url": MAX_VALUE, "valueDecimal": _number(item.max_value)})
    elif item.kind == Item.Kind.TEXT:
        entry["maxLength"] = 300
    elif item.kind == Item.Kind.TEXTAREA:
        entry["maxLength"] = 4000
    if item.choices:
        options = []
        for c in item.choices:
            coding: dict[str, Any] = {"code": str(c["code"]), "display": str(c["label"])}
            if c.get("score") is not None:
                coding["extension"] = [{"url": ORDINAL_VALUE, "valueDecimal": _number(c["score"])}]
            options.append({"valueCoding": coding})
        entry["answerOption"] = options
    if item.dimension is not None:
        entry["code"] = [{"system": DIMENSION_SYSTEM, "code": item.dimension.code, "display": item.dimension.name}]
    if item.enable_when:
        when, behavior, more = _enable_when(item, by_link)
        if when:
            entry["enableWhen"] = when
            if len(when) > 1:
                entry["enableBehavior"] = behavior
        extensions += more
    red_flag = _red_flag_extension(item.red_flag or {})
    if red_flag:
        extensions.append(red_flag)
    if item.help_text:
        entry["item"] = [{
            "linkId": f"{item.link_id}-help", "type": "display", "text": item.help_text,
            "extension": [{"url": ITEM_CONTROL, "valueCodeableConcept": {
                "coding": [{"system": ITEM_CONTROL_SYSTEM, "code": "help"}]}}],
        }]
    entry["extension"] = extensions
    return entry


def questionnaire_resource(version: QuestionnaireVersion, sections: list[Section] | None = None,
                           items: list[Item] | None = None) -> dict[str, Any]:
    """One version as a validated R4 Questionnaire (pass prefetched sections/items to save queries)."""
    q = version.questionnaire
    if sections is None:
        sections = list(version.sections.order_by("order", "id"))
    if items is None:
        items = actions.ordered_items(version)
    sections = sorted(sections, key=lambda s: (s.order, s.pk))
    by_link = {i.link_id: i for i in items}
    group_links = section_link_ids(sections, set(by_link))
    children: dict[int | None, list[dict[str, Any]]] = {}
    for item in items:
        children.setdefault(item.section_id, []).append(item_resource(item, by_link))
    top: list[dict[str, Any]] = []
    for section in sections:
        group: dict[str, Any] = {"linkId": group_links[section.pk], "type": "group"}
        if section.title:
            group["text"] = section.title
        if section.description:
            group["extension"] = [{"url": EXT_SECTION_DESCRIPTION, "valueString": section.description}]
        if children.get(section.pk):
            group["item"] = children[section.pk]
            top.append(group)
        elif section.title or section.description:
            # An empty group is not valid FHIR (que-1); keep its title as a display item.
            top.append({"linkId": group_links[section.pk], "type": "display", "text": section.title or section.description})
    top.extend(children.get(None, []))
    stamp = version.published_at or version.created_at
    resource: dict[str, Any] = {
        "resourceType": "Questionnaire",
        "id": str(version.pk),
        "meta": {"lastUpdated": stamp.isoformat()},
        "url": QUESTIONNAIRE_URL + q.code,
        "identifier": [{"system": QUESTIONNAIRE_SYSTEM, "value": q.code}],
        "version": str(version.number),
        "title": version.title,
        "status": STATUS_TO_FHIR[version.status],
        "subjectType": ["Patient"],
        "date": stamp.isoformat(),
        "code": [{"system": PURPOSE_SYSTEM, "code": q.purpose, "display": str(q.get_purpose_display())}],
    }
    if q.description:
        resource["description"] = q.description
    extensions = []
    if version.introduction:
        extensions.append({"url": EXT_INTRODUCTION, "valueString": version.introduction})
    if version.thanks:
        extensions.append({"url": EXT_THANKS, "valueString": version.thanks})
    if extensions:
        resource["extension"] = extensions
    if top:
        resource["item"] = top
    return validated(resource)


def canonical(version: QuestionnaireVersion) -> str:
    return f"{QUESTIONNAIRE_URL}{version.questionnaire.code}|{version.number}"


def _response_answers(item: Item, value: Any) -> list[dict[str, Any]]:
    values = value if isinstance(value, list) else [value]
    if item.is_choice:
        labels = item.choice_map()
        return [{"valueCoding": {"code": str(v), "display": str(labels.get(str(v), {}).get("label", v))}} for v in values]
    if item.kind in (Item.Kind.RATING, Item.Kind.RECOMMEND):
        return [{"valueInteger": int(v)} for v in values]
    if item.kind == Item.Kind.NUMBER:
        return [{"valueDecimal": _number(v)} for v in values]
    if item.kind == Item.Kind.DATE:
        return [{"valueDate": v.isoformat()} for v in values]
    return [{"valueString": str(v)} for v in values]


def response_resource(response: Response, sections: list[Section], items: list[Item]) -> dict[str, Any]:
    """A stored response as a validated R4 QuestionnaireResponse mirroring the Questionnaire's groups.
    The patient appears as ``Patient/<id>`` with a masked name only."""
    by_link = {i.link_id: i for i in items}
    group_links = section_link_ids(sorted(sections, key=lambda s: (s.order, s.pk)), set(by_link))
    answers = sorted(response.answers.all(), key=lambda a: (a.item.section.order if a.item.section else 9999, a.item.order, a.item_id))
    groups: dict[int | None, list[dict[str, Any]]] = {}
    for answer in answers:
        value = actions.value_of(answer)
        if value in (None, "", []):
            continue
        entry = {"linkId": answer.item.link_id, "text": answer.item.text, "answer": _response_answers(answer.item, value)}
        groups.setdefault(answer.item.section_id, []).append(entry)
    top: list[dict[str, Any]] = []
    for section in sorted(sections, key=lambda s: (s.order, s.pk)):
        if groups.get(section.pk):
            group: dict[str, Any] = {"linkId": group_links[section.pk], "item": groups[section.pk]}
            if section.title:
                group["text"] = section.title
            top.append(group)
    top.extend(groups.get(None, []))
    resource: dict[str, Any] = {
        "resourceType": "QuestionnaireResponse",
        "id": str(response.pk),
        "meta": {"lastUpdated": response.updated_at.isoformat()},
        "identifier": {"system": RESPONSE_SYSTEM, "value": str(response.pk)},
        "questionnaire": canonical(response.version),
        "status": "completed" if response.status == Response.Status.COMPLETED else "in-progress",
        "authored": (response.submitted_at or response.updated_at).isoformat(),
    }
    if response.patient_id:
        patient = response.patient
        resource["subject"] = {"reference": f"Patient/{response.patient_id}",
                               "display": pii.mask_name(patient.name) if patient and patient.name else ""}
        if not resource["subject"]["display"]:
            del resource["subject"]["display"]
    if response.encounter_id:
        resource["encounter"] = {"reference": f"Encounter/{response.encounter_id}"}
    if response.respondent_id and response.respondent:
        resource["author"] = {"display": response.respondent.get_full_name() or response.respondent.get_username()}
    extensions: list[dict[str, Any]] = []
    if response.total_score is not None:
        extensions.append({"url": EXT_TOTAL_SCORE, "valueDecimal": _number(response.total_score)})
    extensions += [{"url": EXT_RED_FLAG_ITEM, "valueString": str(link)} for link in response.red_flags or []]
    if extensions:
        resource["extension"] = extensions
    if top:
        resource["item"] = top
    return validated(resource)


# --- import -----------------------------------------------------------------------------------------


def _ext(element: Mapping[str, Any], url: str) -> list[dict[str, Any]]:
    return [e for e in element.get("extension", []) or [] if e.get("url") == url]


def _ext_value(element: Mapping[str, Any], url: str, *keys: str) -> Any:
    for e in _ext(element, url):
        for key in keys:
            if key in e:
                return e[key]
    return None


def _is_help(child: Mapping[str, Any]) -> bool:
    if child.get("type") != "display":
        return False
    for e in _ext(child, ITEM_CONTROL):
        codes = {c.get("code") for c in (e.get("valueCodeableConcept") or {}).get("coding", [])}
        if codes & {"help", "flyover"}:
            return True
    return False


class _Importer:
    def __init__(self) -> None:
        self.problems: list[str] = []
        self.warnings: list[str] = []
        self.links: dict[str, str] = {}  # FHIR linkId → our link_id
        self.kinds: dict[str, str] = {}  # our link_id → kind

    def link_for(self, link_id: str) -> str:
        slug = re.sub(r"[^A-Za-z0-9_-]", "_", link_id)[:60] or "item"
        candidate, n = slug, 2
        while candidate in self.kinds or candidate in self.links.values():
            candidate = f"{slug[:56]}_{n}"
            n += 1
        self.links[link_id] = candidate
        return candidate

    def options(self, element: Mapping[str, Any], where: str) -> list[dict[str, Any]]:
        if element.get("answerValueSet"):
            self.problems.append(_("%(where)s：不支持 answerValueSet（值集引用），请把选项直接写在 answerOption 里。") % {"where": where})
            return []
        choices = []
        for n, option in enumerate(element.get("answerOption", []) or [], start=1):
            if "valueCoding" in option:
                coding = option["valueCoding"]
                code = str(coding.get("code") or n)
                label = str(coding.get("display") or code)
                score = _ext_value(coding, ORDINAL_VALUE, "valueDecimal", "valueInteger")
                if score is None:
                    score = _ext_value(coding, ITEM_WEIGHT, "valueDecimal", "valueInteger")
                if score is None:
                    score = _ext_value(option, ITEM_WEIGHT, "valueDecimal", "valueInteger")
            elif "valueString" in option or "valueInteger" in option:
                raw = option.get("valueString", option.get("valueInteger"))
                code, label, score = str(n) if "valueString" in option else str(raw), str(raw), None
            else:
                self.problems.append(_("%(where)s：第 %(n)s 个选项的类型不受支持（只支持 valueCoding、valueString、valueInteger）。")
                                     % {"where": where, "n": n})
                continue
            if not re.fullmatch(r"[A-Za-z0-9_.-]{1,40}", code):
                self.problems.append(
                    _("%(where)s：选项代码 %(code)s 只能包含字母、数字、下划线、点或连字符。") % {"where": where, "code": code}
                )
                continue
            choice: dict[str, Any] = {"code": code, "label": label}
            if score is not None:
                choice["score"] = _number(score)
            choices.append(choice)
        if not choices and not self.problems:
            self.problems.append(_("%(where)s：选择题没有选项。") % {"where": where})
        return choices

    def kind_of(self, element: Mapping[str, Any], where: str) -> str | None:
        fhir_type = element.get("type")
        declared = _ext_value(element, EXT_KIND, "valueCode")
        if declared in Item.Kind.values and KIND_TO_TYPE.get(declared) == fhir_type:
            return str(declared)
        if fhir_type in ("choice", "open-choice"):
            if fhir_type == "open-choice":
                self.warnings.append(_("%(where)s：open-choice 按选择题导入，患者自由填写的其他答案不保留。") % {"where": where})
            return Item.Kind.MULTIPLE if element.get("repeats") else Item.Kind.SINGLE
        if fhir_type == "boolean":
            return "boolean"
        if fhir_type == "integer":
            low = _ext_value(element, MIN_VALUE, "valueInteger", "valueDecimal")
            high = _ext_value(element, MAX_VALUE, "valueInteger", "valueDecimal")
            if (low, high) == (1, 5):
                return Item.Kind.RATING
            if (low, high) == (0, 10):
                return Item.Kind.RECOMMEND
            return Item.Kind.NUMBER
        mapped = {"decimal": Item.Kind.NUMBER, "string": Item.Kind.TEXT, "text": Item.Kind.TEXTAREA, "date": Item.Kind.DATE}
        if fhir_type in mapped:
            return mapped[fhir_type]
        self.problems.append(
            _("%(where)s：不支持的题型 %(type)s（支持 group、choice、open-choice、boolean、integer、decimal、string、text、date）。")
            % {"where": where, "type": fhir_type}
        )
        return None

    def condition_value(self, when: Mapping[str, Any], source_kind: str, where: str) -> tuple[bool, Any]:
        for key in ("answerCoding", "answerString", "answerInteger", "answerDecimal", "answerDate", "answerBoolean"):
            if key in when:
                value = when[key]
                if key == "answerCoding":
                    return True, str(value.get("code", ""))
                if key == "answerBoolean":
                    return True, "true" if value else "false"
                if key == "answerDecimal":
                    return True, _number(value)
                return True, value
        self.problems.append(_("%(where)s：显示条件的答案类型不受支持。") % {"where": where})
        return False, None

    def conditions(self, element: Mapping[str, Any], where: str) -> tuple[list[dict[str, Any]], str]:
        verbatim = _ext_value(element, EXT_ENABLE_WHEN, "valueString")
        if verbatim:
            try:
                data = json.loads(verbatim)
                return list(data["when"]), str(data.get("behavior", "all"))
            except (ValueError, KeyError, TypeError):
                self.problems.append(_("%(where)s：扩展 %(url)s 的内容无效。") % {"where": where, "url": EXT_ENABLE_WHEN})
                return [], "all"
        result: list[dict[str, Any]] = []
        for when in element.get("enableWhen", []) or []:
            question = self.links.get(when.get("question", ""))
            if question is None:
                self.problems.append(_("%(where)s：显示条件引用的题目 %(q)s 不在它前面。") % {"where": where, "q": when.get("question")})
                continue
            op = when.get("operator")
            if op == "exists":
                result.append({"item": question, "op": "answered" if when.get("answerBoolean", True) else "unanswered"})
                continue
            if op not in OPS:
                self.problems.append(_("%(where)s：不支持的条件运算符 %(op)s。") % {"where": where, "op": op})
                continue
            ok, value = self.condition_value(when, self.kinds.get(question, ""), where)
            if ok:
                result.append({"item": question, "op": op, "value": value})
        behavior = element.get("enableBehavior") or "all"
        if behavior == "any" and len(result) > 1 and all(c["op"] == "=" for c in result) \
                and len({c["item"] for c in result}) == 1:
            result = [{"item": result[0]["item"], "op": "in", "value": [c["value"] for c in result]}]
            behavior = "all"
        if len(result) <= 1:
            behavior = "all"
        return result, behavior

    def item(self, element: Mapping[str, Any]) -> dict[str, Any] | None:
        where = _("题目 %(link)s") % {"link": element.get("linkId", "?")}
        kind = self.kind_of(element, where)
        if kind is None:
            return None
        link_id = self.link_for(str(element.get("linkId", "")))
        entry: dict[str, Any] = {"link_id": link_id, "text": str(element.get("text") or link_id)}
        help_text = ""
        for child in element.get("item", []) or []:
            if _is_help(child):
                help_text = str(child.get("text", ""))
            else:
                self.problems.append(_("%(where)s：题目下不能再嵌套题目（%(child)s）。") % {"where": where, "child": child.get("linkId")})
        if kind == "boolean":
            kind = Item.Kind.SINGLE
            entry["choices"] = [{"code": "true", "label": _("是")}, {"code": "false", "label": _("否")}]
        elif kind in Item.CHOICE_KINDS:
            entry["choices"] = self.options(element, where)
        entry["kind"] = kind
        self.kinds[link_id] = kind
        if element.get("required"):
            entry["required"] = True
        if help_text:
            entry["help_text"] = help_text
        for coding in element.get("code", []) or []:
            if coding.get("system") == DIMENSION_SYSTEM and coding.get("code"):
                entry["dimension"] = str(coding["code"])
        conditions, behavior = self.conditions(element, where)
        if conditions:
            entry["enable_when"] = conditions
            if behavior != "all":
                entry["enable_behavior"] = behavior
        rule: dict[str, Any] = {}
        for ext in _ext(element, EXT_RED_FLAG):
            for part in ext.get("extension", []):
                if part.get("url") == "choice":
                    rule.setdefault("choices", []).append(str(part.get("valueCode")))
                elif part.get("url") in ("max", "min"):
                    rule[part["url"]] = _number(part.get("valueDecimal", part.get("valueInteger")))
        if rule:
            entry["red_flag"] = rule
        if kind == Item.Kind.NUMBER:
            for key, url in (("min_value", MIN_VALUE), ("max_value", MAX_VALUE)):
                value = _ext_value(element, url, "valueDecimal", "valueInteger")
                if value is not None:
                    entry[key] = float(value)
        return entry


def spec_from_resource(resource: Mapping[str, Any], *, code: str | None = None,
                       purpose: str | None = None) -> tuple[dict[str, Any], list[str]]:
    """A FHIR R4 Questionnaire (dict) → (spec for ``create_from_spec``, warnings). Raises ImportProblem
    listing every unsupported element."""
    if resource.get("resourceType") != "Questionnaire":
        raise ImportProblem([_("文件不是 FHIR Questionnaire 资源。")])
    try:
        validated(dict(resource))
    except Exception as exc:  # pydantic's ValidationError: report it in plain words
        raise ImportProblem([_("不是有效的 FHIR R4 Questionnaire：%(error)s") % {"error": str(exc).splitlines()[0]}]) from exc
    importer = _Importer()
    if not code:
        for ident in resource.get("identifier", []) or []:
            if ident.get("system") == QUESTIONNAIRE_SYSTEM and ident.get("value"):
                code = str(ident["value"])
        url = str(resource.get("url") or "")
        if not code and url:
            code = re.split(r"[/:]", url.rstrip("/"))[-1]
        code = code or str(resource.get("name") or resource.get("id") or "")
    code = re.sub(r"[^A-Za-z0-9_-]", "-", code or "").strip("-")[:60]
    if not code:
        raise ImportProblem([_("无法确定问卷代码：请在 identifier 或 url 中给出，或用 --code 指定。")])
    if not purpose:
        purpose = next((str(c["code"]) for c in resource.get("code", []) or []
                        if c.get("system") == PURPOSE_SYSTEM and c.get("code") in ("followup", "survey", "general")),
                       "general")
    sections: list[dict[str, Any]] = []
    loose: list[dict[str, Any]] | None = None
    for element in resource.get("item", []) or []:
        if element.get("type") == "group":
            section: dict[str, Any] = {"title": str(element.get("text") or ""), "items": []}
            description = _ext_value(element, EXT_SECTION_DESCRIPTION, "valueString")
            if description:
                section["description"] = str(description)
            for child in element.get("item", []) or []:
                if child.get("type") == "group":
                    importer.problems.append(_("分组 %(link)s：不支持嵌套分组。") % {"link": child.get("linkId")})
                    continue
                parsed = importer.item(child)
                if parsed:
                    section["items"].append(parsed)
            sections.append(section)
            loose = None
        elif element.get("type") == "display" and not element.get("item"):
            # A section title without questions (how the exporter writes an empty section).
            sections.append({"title": str(element.get("text") or ""), "items": []})
            loose = None
        else:
            parsed = importer.item(element)
            if parsed:
                if loose is None:
                    loose = []
                    sections.append({"title": "", "items": loose})
                loose.append(parsed)
    if importer.problems:
        raise ImportProblem(importer.problems)
    spec: dict[str, Any] = {
        "code": code, "title": str(resource.get("title") or resource.get("name") or code), "purpose": purpose,
        "description": str(resource.get("description") or ""),
        "introduction": str(_ext_value(resource, EXT_INTRODUCTION, "valueString") or ""),
        "thanks": str(_ext_value(resource, EXT_THANKS, "valueString") or ""),
        "sections": sections,
    }
    return spec, importer.warnings
