"""Demo data for satisfaction surveys (called by ``manage.py seed_demo``; idempotent).

Uses the shipped ``survey-outpatient`` / ``survey-inpatient`` questionnaires when they exist, else a
demo questionnaire. Creates two rules, a QR poster for one department, and answered invitations for
recent demo visits with varied scores and comments (the low ones open feedback items)."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from caredesk.patients.models import Encounter
from caredesk.questionnaires import engine
from caredesk.questionnaires.actions import ResponseInvalid, Source, create_from_spec, save_response
from caredesk.questionnaires.models import Item, Questionnaire, Response

from . import actions, tokens
from .models import DepartmentQR, Invitation, SurveyRule

DEMO_SPEC: dict[str, Any] = {
    "code": "survey-demo",
    "title": "就医体验满意度调查",
    "purpose": "survey",
    "introduction": "感谢您在我院就诊。请花两分钟评价本次就医体验，您的意见将帮助我们改进服务。",
    "thanks": "感谢您的宝贵意见！",
    "sections": [
        {"title": "服务与效率", "items": [
            {"link_id": "attitude", "text": "医护人员的服务态度", "kind": "rating", "required": True, "dimension": "attitude"},
            {"link_id": "communication", "text": "医生对病情和治疗的解释是否清楚", "kind": "rating", "required": True,
             "dimension": "communication"},
            {"link_id": "waiting", "text": "挂号、候诊和检查的等候时间", "kind": "rating", "required": True,
             "dimension": "efficiency"},
        ]},
        {"title": "环境与费用", "items": [
            {"link_id": "environment", "text": "就诊环境的整洁与舒适", "kind": "rating", "required": True,
             "dimension": "environment"},
            {"link_id": "fees", "text": "收费是否清楚透明", "kind": "rating", "required": True, "dimension": "fees"},
            {"link_id": "privacy", "text": "就诊过程中隐私是否得到保护", "kind": "rating", "dimension": "privacy"},
        ]},
        {"title": "总体评价", "items": [
            {"link_id": "recommend", "text": "您有多大可能向亲友推荐我院？", "kind": "recommend", "required": True},
            {"link_id": "comment", "text": "您还有什么意见或建议？", "kind": "textarea"},
        ]},
    ],
}

GOOD_COMMENTS = ["医生很耐心，解释得很清楚，谢谢！", "护士态度很好，环境也干净。", "挂号很方便，整体满意。", ""]
BAD_COMMENTS = ["排队等了三个小时，没有人告诉我要等多久，太失望了。", "收费项目看不懂，问了也没人解释，态度很差。",
                "停车太难了，病房晚上很吵，根本睡不着。"]


def _questionnaire(code: str) -> Questionnaire:
    existing = Questionnaire.objects.filter(code=code).first()
    if existing is not None and existing.published_version() is not None:
        return existing
    demo = Questionnaire.objects.filter(code=DEMO_SPEC["code"]).first()
    if demo is not None and demo.published_version() is not None:
        return demo
    return create_from_spec(DEMO_SPEC, audited=False).questionnaire


def _answers(spec: engine.VersionSpec, rng: random.Random, unhappy: bool) -> dict[str, Any]:
    raw: dict[str, Any] = {}
    for item in spec.items:
        if item.kind == Item.Kind.RATING:
            raw[item.link_id] = str(rng.choice([1, 2, 2, 3]) if unhappy else rng.choice([4, 5, 5, 5]))
        elif item.kind == Item.Kind.RECOMMEND:
            raw[item.link_id] = str(rng.randint(1, 5) if unhappy else rng.randint(8, 10))
        elif item.kind in Item.CHOICE_KINDS and item.choices:
            ranked = sorted(item.choices, key=lambda c: float(c.get("score") or 0))
            raw[item.link_id] = str((ranked[0] if unhappy else ranked[-1])["code"])
        elif item.kind in (Item.Kind.TEXT, Item.Kind.TEXTAREA):
            raw[item.link_id] = rng.choice(BAD_COMMENTS if unhappy else GOOD_COMMENTS)
    return raw


@transaction.atomic
def seed_surveys(seed: int = 1, answered: int = 40) -> dict[str, int]:
    rng = random.Random(seed)  # noqa: S311 - deterministic demo data
    out_q = _questionnaire("survey-outpatient")
    in_q = _questionnaire("survey-inpatient")
    out_rule, _ = SurveyRule.objects.get_or_create(
        name="门诊就诊次日满意度调查", defaults={"trigger": "outpatient_visit", "offset_days": 1, "questionnaire": out_q}
    )
    in_rule, _ = SurveyRule.objects.get_or_create(
        name="出院三天后满意度调查", defaults={"trigger": "discharge", "offset_days": 3, "questionnaire": in_q}
    )
    made = {"invitations": 0, "responses": 0, "feedback_items": 0}
    encounters = list(
        Encounter.objects.filter(source_system="DEMO", department__isnull=False, patient__is_deceased=False)
        .exclude(status=Encounter.Status.CANCELLED).select_related("patient", "department").order_by("-visit_at", "-pk")[:answered]
    )
    if encounters and not DepartmentQR.objects.exists():
        actions.create_qr(department=encounters[0].department, questionnaire=out_q, location="门诊大厅候诊区", acting_user=None)
    for n, enc in enumerate(encounters):
        rule = in_rule if enc.kind == Encounter.Kind.INPATIENT and enc.discharged_at else out_rule
        if Invitation.objects.filter(rule=rule, encounter=enc).exists():
            continue
        version = rule.questionnaire.published_version()
        if version is None:
            continue
        event = (enc.discharged_at if rule is in_rule else enc.visit_at) or enc.created_at
        scheduled = event + timedelta(days=rule.offset_days)
        salt, digest = tokens.new_token_pair()
        answer_it = n % 4 != 3  # about three in four answer
        inv = Invitation.objects.create(
            rule=rule, patient=enc.patient, encounter=enc, source_key=f"encounter:{enc.pk}", department=enc.department,
            doctor=enc.doctor, version=version, token_salt=salt, token_hash=digest, scheduled_at=scheduled,
            expires_at=scheduled + timedelta(days=rule.valid_days), sent_at=scheduled,
            status=Invitation.Status.SENT if scheduled + timedelta(days=rule.valid_days) > timezone.now() else Invitation.Status.EXPIRED,
        )
        made["invitations"] += 1
        if not answer_it:
            continue
        spec = engine.VersionSpec.load(version)
        try:
            response = save_response(
                version, _answers(spec, rng, unhappy=n % 5 == 1), submit=True, patient=enc.patient, encounter=enc,
                department=enc.department, doctor=enc.doctor, channel=Response.Channel.SMS_LINK, source=Source.of(inv),
            )
        except ResponseInvalid:
            continue
        answered_at = scheduled + timedelta(hours=rng.randint(1, 30))
        Response.objects.filter(pk=response.pk).update(submitted_at=answered_at)
        Invitation.objects.filter(pk=inv.pk).update(
            status=Invitation.Status.ANSWERED, response=response, opened_at=answered_at, answered_at=answered_at
        )
        made["responses"] += 1
        if actions.review_response(response) is not None:
            made["feedback_items"] += 1
    return made

