"""Writes of the surveys module: answering (SMS link, QR poster, agent on the phone), rules and QR
codes, and the closed loop for bad answers (FeedbackItem).

Closed loop, for other modules::

    from caredesk.surveys.actions import open_feedback_item
    open_feedback_item(patient=task.patient, department=dept, reasons=[{"kind": "manual", "text": "…"}],
                       source=task, summary="回访中患者反映…", acting_user=request.user)

opens (or returns the open item already linked to ``source``) a feedback item with the usual
deadline (SURVEY_FEEDBACK_HOURS working hours) for the department to call the patient, rectify and
have it re-checked.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from caredesk.core import audit
from caredesk.core.workcalendar import add_working_hours
from caredesk.questionnaires import actions as qactions
from caredesk.questionnaires.models import Item, Questionnaire, QuestionnaireVersion, Response

from . import conf, tokens
from .models import DepartmentQR, FeedbackItem, Invitation, SurveyRule

Status = Invitation.Status
FStatus = FeedbackItem.Status


# --- answering an invitation ------------------------------------------------------------------------


def invitation_refusal(invitation: Invitation | None, now: datetime | None = None) -> str:
    """Why this link cannot be answered ("" when it can): used, expired, withdrawn, unknown."""
    now = now or timezone.now()
    if invitation is None:
        return "unknown"
    if invitation.status == Status.ANSWERED:
        return "answered"
    if invitation.status == Status.OPTED_OUT:
        return "opted_out"
    if invitation.status in (Status.EXPIRED, Status.SKIPPED) or invitation.expires_at <= now:
        return "expired"
    if invitation.version_id is None:
        return "expired"
    return ""


@transaction.atomic
def mark_opened(invitation: Invitation) -> None:
    if invitation.status in (Status.PENDING, Status.SENT):
        now = timezone.now()
        Invitation.objects.filter(pk=invitation.pk, status__in=(Status.PENDING, Status.SENT)).update(
            status=Status.OPENED, opened_at=now, updated_at=now
        )
        invitation.status, invitation.opened_at = Status.OPENED, now
        audit.record(actor=None, verb="survey.invitation_opened", target=invitation)


def stored_values(response: Response | None) -> dict[str, Any]:
    """A response's answers as engine values (empty when there is none yet)."""
    return qactions.values_of(response) if response is not None else {}


def merged_raw(response: Response | None, page_raw: Mapping[str, Any]) -> dict[str, Any]:
    """The answers so far with this page's input laid over them (a page's emptied answer clears)."""
    raw: dict[str, Any] = stored_values(response)
    raw.update(page_raw)
    return raw


@transaction.atomic
def answer_invitation(invitation: Invitation, page_raw: Mapping[str, Any], *, submit: bool) -> Response:
    """Save the patient's answers so far (partial) or submit them. Raises ResponseInvalid, or
    ValidationError when the link can no longer be answered."""
    invitation = (
        Invitation.objects.select_for_update(of=("self",)).select_related("version", "response", "patient").get(pk=invitation.pk)
    )
    if invitation_refusal(invitation) or invitation.version is None:
        raise ValidationError(_("该问卷链接已失效。"))
    response = qactions.save_response(
        invitation.version, merged_raw(invitation.response, page_raw), submit=submit, response=invitation.response,
        patient=invitation.patient, encounter=invitation.encounter, department=invitation.department,
        doctor=invitation.doctor, channel=Response.Channel.SMS_LINK, source=qactions.Source.of(invitation),
    )
    now = timezone.now()
    fields = ["response", "updated_at"]
    invitation.response = response
    if invitation.status in (Status.PENDING, Status.SENT):
        invitation.status, invitation.opened_at = Status.OPENED, invitation.opened_at or now
        fields += ["status", "opened_at"]
    if submit:
        invitation.status, invitation.answered_at = Status.ANSWERED, now
        fields += ["status", "answered_at"]
    invitation.save(update_fields=sorted(set(fields)))
    if submit:
        audit.record(actor=None, verb="survey.invitation_answered", target=invitation, response=response.pk)
        review_response(response)
    return response


# --- anonymous answers from a QR poster -------------------------------------------------------------


@transaction.atomic
def answer_qr(qr: DepartmentQR, page_raw: Mapping[str, Any], *, submit: bool, response: Response | None = None,
              ip: str | None = None) -> Response:
    version = qr.questionnaire.published_version()
    if response is not None:
        version = response.version
    if version is None:
        raise ValidationError(_("该问卷暂未开放。"))
    created = response is None
    response = qactions.save_response(
        version, merged_raw(response, page_raw), submit=submit, response=response, department=qr.department,
        channel=Response.Channel.QR, source=qactions.Source.of(qr),
    )
    if created:
        audit.record(actor=None, verb="survey.qr_started", target=response, ip=ip, qr=qr.pk)
    if submit:
        review_response(response)
    return response


@transaction.atomic
def create_qr(*, department: Any, questionnaire: Questionnaire, location: str = "", acting_user: Any) -> DepartmentQR:
    qr = DepartmentQR.objects.create(
        department=department, questionnaire=questionnaire, location=location.strip(), token=tokens.new_qr_token(),
        created_by=acting_user if getattr(acting_user, "pk", None) else None,
    )
    audit.record(actor=acting_user, verb="survey.qr_created", target=qr)
    return qr


@transaction.atomic
def set_qr_active(qr: DepartmentQR, active: bool, *, acting_user: Any) -> DepartmentQR:
    qr.is_active = active
    qr.save(update_fields=["is_active"])
    audit.record(actor=acting_user, verb="survey.qr_enabled" if active else "survey.qr_disabled", target=qr)
    return qr


# --- an agent enters the answers during a call ------------------------------------------------------


@transaction.atomic
def start_phone_response(*, patient: Any, version: QuestionnaireVersion, encounter: Any = None, acting_user: Any) -> Response:
    """Open an in-progress response on the phone channel with the agent as respondent. When the
    patient has an open invitation for this visit and questionnaire, the response answers it."""
    invitation = None
    if encounter is not None:
        invitation = (
            Invitation.objects.select_for_update()
            .filter(patient=patient, encounter=encounter, version__questionnaire_id=version.questionnaire_id,
                    status__in=Invitation.OPEN_STATUSES, response__isnull=True)
            .first()
        )
    response = qactions.save_response(
        version, {}, submit=False, patient=patient, encounter=encounter, channel=Response.Channel.PHONE,
        source=qactions.Source.of(invitation) if invitation else None, acting_user=acting_user,
    )
    if invitation is not None:
        invitation.response = response
        invitation.save(update_fields=["response", "updated_at"])
    audit.record(actor=acting_user, verb="survey.phone_response_started", target=response,
                 invitation=invitation.pk if invitation else None)
    return response


@transaction.atomic
def save_phone_response(response: Response, raw: Mapping[str, Any], *, submit: bool, acting_user: Any) -> Response:
    response = qactions.save_response(response.version, raw, submit=submit, response=response, acting_user=acting_user)
    if submit:
        if response.source_type == "surveys.invitation":
            now = timezone.now()
            Invitation.objects.filter(pk=response.source_id, status__in=Invitation.OPEN_STATUSES).update(
                status=Status.ANSWERED, answered_at=now, updated_at=now
            )
        review_response(response, acting_user=acting_user)
    return response


# --- rules ------------------------------------------------------------------------------------------


@transaction.atomic
def save_rule(rule: SurveyRule, *, departments: Sequence[Any], acting_user: Any) -> SurveyRule:
    created = rule.pk is None
    if created:
        rule.created_by = acting_user if getattr(acting_user, "pk", None) else None
    rule.save()
    rule.departments.set(departments)
    audit.record(actor=acting_user, verb="survey.rule_created" if created else "survey.rule_changed", target=rule,
                 trigger=rule.trigger, active=rule.is_active)
    return rule


# --- closed loop ------------------------------------------------------------------------------------


def negative_texts(texts: Sequence[str]) -> list[tuple[bool, float]]:
    """(is negative, P(positive)) per comment, from caredesk.textmining's sentiment classifier."""
    from caredesk.textmining import sentiment

    return [(label == "negative", score) for label, score in sentiment.predict(list(texts))]


def feedback_reasons(response: Response) -> list[dict[str, Any]]:
    """Why this answer needs a call back (empty: it does not). Thresholds: SURVEY_FEEDBACK_*."""
    reasons: list[dict[str, Any]] = []
    dimension_max = float(conf.get("SURVEY_FEEDBACK_DIMENSION_MAX"))
    for code, mean in sorted((response.dimension_scores or {}).items()):
        if mean is not None and float(mean) <= dimension_max:
            reasons.append({"kind": "dimension", "code": code, "value": float(mean)})
    if response.recommend is not None and response.recommend <= int(conf.get("SURVEY_FEEDBACK_RECOMMEND_MAX")):
        reasons.append({"kind": "recommend", "value": int(response.recommend)})
    if conf.get("SURVEY_FEEDBACK_NEGATIVE_TEXT"):
        comments = [
            (a.item.link_id, a.value_text.strip())
            for a in response.answers.select_related("item").filter(item__kind__in=(Item.Kind.TEXT, Item.Kind.TEXTAREA))
            if a.value_text.strip()
        ]
        if comments:
            for (link_id, _text), (negative, score) in zip(comments, negative_texts([t for _l, t in comments]), strict=True):
                if negative:
                    reasons.append({"kind": "negative_text", "item": link_id, "score": round(score, 3)})
    return reasons


def reason_labels(reasons: Sequence[Mapping[str, Any]]) -> list[str]:
    from caredesk.questionnaires.models import Dimension

    names = dict(Dimension.objects.values_list("code", "name"))
    labels = []
    for r in reasons:
        kind = r.get("kind")
        if kind == "dimension":
            labels.append(_("%(name)s 平均 %(value)s 分") % {"name": names.get(r.get("code", ""), r.get("code")), "value": r.get("value")})
        elif kind == "recommend":
            labels.append(_("推荐意愿 %(value)s 分") % {"value": r.get("value")})
        elif kind == "negative_text":
            labels.append(_("留言为负面情绪"))
        else:
            labels.append(str(r.get("text") or _("人工登记")))
    return labels


def review_response(response: Response, *, acting_user: Any = None) -> FeedbackItem | None:
    """After a submission: open a feedback item when the answer is below the thresholds."""
    from caredesk.followups.generate import generate_for_event

    reasons = feedback_reasons(response)
    if not reasons:
        return None
    item = open_feedback_item(
        patient=response.patient, department=response.department, reasons=reasons, response=response,
        acting_user=acting_user,
    )
    if response.patient is not None:  # a follow-up plan may call the patient back ("negative_survey")
        generate_for_event(
            "negative_survey", patient=response.patient, source_key=f"response:{response.pk}",
            day=timezone.localdate(response.submitted_at or timezone.now()), department_id=response.department_id,
            encounter_id=response.encounter_id,
        )
    return item


@transaction.atomic
def open_feedback_item(
    *,
    reasons: Sequence[Mapping[str, Any]],
    patient: Any = None,
    department: Any = None,
    response: Response | None = None,
    source: Any = None,
    summary: str = "",
    acting_user: Any = None,
    now: datetime | None = None,
) -> FeedbackItem:
    """Open a closed-loop item for ``department`` (the caller's department feedback, a bad survey
    answer, a follow-up call …), due in SURVEY_FEEDBACK_HOURS working hours. Idempotent: one item
    per response, and one open item per ``source`` object."""
    if response is not None:
        existing = FeedbackItem.objects.filter(response=response).first()
        if existing is not None:
            return existing
    source_type = source._meta.label_lower if source is not None else ""
    source_id = str(source.pk) if source is not None else ""
    if source is not None:
        existing = FeedbackItem.objects.filter(
            source_type=source_type, source_id=source_id, status__in=FeedbackItem.OPEN_STATUSES
        ).first()
        if existing is not None:
            return existing
    now = now or timezone.now()
    reasons = [dict(r) for r in reasons]
    item = FeedbackItem.objects.create(
        response=response, source_type=source_type, source_id=source_id, patient=patient, department=department,
        reasons=reasons, summary=(summary or "；".join(reason_labels(reasons)))[:300],
        due_at=add_working_hours(now, float(conf.get("SURVEY_FEEDBACK_HOURS"))), created_at=now,
        created_by=acting_user if getattr(acting_user, "pk", None) else None,
    )
    audit.record(actor=acting_user, verb="survey.feedback_opened", target=item,
                 reasons=[r.get("kind") for r in reasons], response=response.pk if response else None)
    return item


def _require_open(item: FeedbackItem) -> None:
    if item.status == FStatus.CLOSED:
        raise ValidationError(_("该整改单已关闭。"))


@transaction.atomic
def record_call(item: FeedbackItem, *, outcome: str, note: str, acting_user: Any, at: datetime | None = None) -> FeedbackItem:
    """The department called the patient."""
    _require_open(item)
    if outcome not in FeedbackItem.CallOutcome.values or not outcome:
        raise ValidationError(_("请选择回访结果。"))
    if not note.strip():
        raise ValidationError(_("请填写回访记录。"))
    item.call_by, item.call_at = acting_user, at or timezone.now()
    item.call_outcome, item.call_note = outcome, note.strip()
    if item.status == FStatus.OPEN:
        item.status = FStatus.CONTACTED
    item.save()
    audit.record(actor=acting_user, verb="survey.feedback_called", target=item, outcome=outcome)
    return item


@transaction.atomic
def record_rectification(item: FeedbackItem, *, note: str, link: str = "", acting_user: Any) -> FeedbackItem:
    """What the department changes; the item then waits for a re-check."""
    _require_open(item)
    if not item.call_at:
        raise ValidationError(_("请先登记对患者的回访。"))
    if not note.strip():
        raise ValidationError(_("请填写整改措施。"))
    item.rectification_note, item.rectification_link = note.strip(), link.strip()[:300]
    item.rectified_by, item.rectified_at = acting_user, timezone.now()
    item.status = FStatus.RECHECKING
    item.save()
    audit.record(actor=acting_user, verb="survey.feedback_rectified", target=item)
    return item


@transaction.atomic
def request_recheck(item: FeedbackItem, *, note: str = "", acting_user: Any) -> FeedbackItem:
    """No rectification warranted (e.g. a misunderstanding cleared up on the call): straight to re-check."""
    _require_open(item)
    if not item.call_at:
        raise ValidationError(_("请先登记对患者的回访。"))
    item.rectification_note = note.strip() or _("经沟通无需整改。")
    item.rectified_by, item.rectified_at = acting_user, timezone.now()
    item.status = FStatus.RECHECKING
    item.save()
    audit.record(actor=acting_user, verb="survey.feedback_no_rectification", target=item)
    return item


@transaction.atomic
def recheck(item: FeedbackItem, *, passed: bool, note: str, acting_user: Any) -> FeedbackItem:
    """The quality office / supervisor re-checks. Passed → closed; failed → back to rectifying."""
    _require_open(item)
    if item.status != FStatus.RECHECKING:
        raise ValidationError(_("整改登记后才能复核。"))
    if not note.strip():
        raise ValidationError(_("请填写复核意见。"))
    now = timezone.now()
    item.recheck_by, item.recheck_at, item.recheck_note = acting_user, now, note.strip()
    item.recheck_result = FeedbackItem.RecheckResult.PASSED if passed else FeedbackItem.RecheckResult.FAILED
    if passed:
        item.status, item.closed_at = FStatus.CLOSED, now
    else:
        item.status = FStatus.RECTIFYING
    item.save()
    audit.record(actor=acting_user, verb="survey.feedback_rechecked", target=item, passed=passed)
    return item


def mark_overdue(*, now: datetime | None = None) -> int:
    """Flag open items past their deadline (idempotent: flagged items are not touched again)."""
    now = now or timezone.now()
    with transaction.atomic():
        n = FeedbackItem.objects.filter(
            status__in=FeedbackItem.OPEN_STATUSES, due_at__lt=now, is_overdue=False
        ).update(is_overdue=True, overdue_marked_at=now, updated_at=now)
        if n:
            audit.record(actor=None, verb="survey.feedback_overdue", object_type="surveys.feedbackitem", count=n)
    return n

