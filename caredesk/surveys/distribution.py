"""Who gets an invitation, and sending it.

* ``create_invitations(encounters, trigger)`` plans invitations for a batch of visits in a handful of
  queries whatever the batch size (rules, existing invitations, patients, opt-outs, consents and
  recent invitations are loaded once). It is called by the patient hooks inside the intake
  transaction and by the daily sweep (``create_missing``) for anything the hooks missed. The
  unique (rule, source) constraint makes every re-run a no-op.
* ``send_due`` sends pending invitations whose day has come, batch by batch: each batch is one
  transaction that enqueues the SMS (idempotency key per invitation) and marks the invitations
  sent, so a worker killed mid-batch leaves the batch untouched and the re-run redoes it without
  a second message.
* ``send_reminders``, ``expire_invitations``, ``opt_out``.

Fatigue, opt-outs, consent (Consent sms/survey refused), ``do_not_contact`` and deceased patients
are checked when the invitation is planned and again when it is sent.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone

from caredesk.core import audit
from caredesk.core.configcache import StampedCache
from caredesk.messaging.actions import Outgoing, enqueue_many, register_template
from caredesk.patients.models import Consent, Encounter, Patient

from . import conf, tokens
from .models import Invitation, OptOut, SurveyRule

if TYPE_CHECKING:
    from caredesk.patients.hooks import Horizon

log = logging.getLogger("caredesk.surveys")

Status = Invitation.Status
Skip = Invitation.SkipReason

TEMPLATE_INVITATION = "survey.invitation"
TEMPLATE_REMINDER = "survey.reminder"
register_template(
    TEMPLATE_INVITATION,
    "您好，感谢您近日在{department}就诊。请花两分钟评价本次服务（{days}天内有效）：{link} 不再接收此类短信请点：{optout}",
)
register_template(
    TEMPLATE_REMINDER,
    "您好，您在{department}就诊后的满意度问卷还未填写，期待您的意见：{link} 不再接收此类短信请点：{optout}",
)


# --- links ------------------------------------------------------------------------------------------


def _link(name: str, raw: str) -> str:
    # reverse once with a placeholder: the path shape is fixed, and reverse() per message is slow
    path = reverse(name, args=["TOKEN"]).replace("TOKEN", raw)
    return str(conf.get("SURVEY_PUBLIC_BASE_URL")).rstrip("/") + path


def answer_link(invitation: Invitation) -> str:
    return _link("surveys:answer", tokens.raw_token(invitation.token_salt))


def optout_link(invitation: Invitation) -> str:
    return _link("surveys:optout", tokens.raw_token(invitation.token_salt))


def find_invitation(raw: str) -> Invitation | None:
    if not raw or len(raw) > 64:
        return None
    return (
        Invitation.objects.select_related("patient", "department", "version", "rule", "response")
        .filter(token_hash=tokens.hash_token(raw)).first()
    )


# --- eligibility ------------------------------------------------------------------------------------


ELIGIBILITY_FIELDS = ("id", "mobile_bidx", "is_deceased", "do_not_contact")
# What ``create_invitations`` reads of an encounter (a caller that loads encounters for it can load
# only these, with the patient's ``ELIGIBILITY_FIELDS``)
INVITATION_FIELDS = ("patient", "kind", "status", "visit_at", "created_at", "discharged_at", "department", "doctor")


@dataclass
class Eligibility:
    """Opt-outs and refused consents for a batch of patients, loaded in two queries."""

    opted_patients: set[int] = field(default_factory=set)
    opted_phones: set[str] = field(default_factory=set)
    refused: set[int] = field(default_factory=set)

    @classmethod
    def load(cls, patients: Iterable[Patient]) -> Eligibility:
        patients = list(patients)
        ids = [p.pk for p in patients]
        phones = [p.mobile_bidx for p in patients if p.mobile_bidx]
        ctx = cls()
        if not ids:
            return ctx
        for patient_id, phone in OptOut.objects.filter(Q(patient_id__in=ids) | Q(phone_bidx__in=phones)).values_list(
            "patient_id", "phone_bidx"
        ):
            if patient_id:
                ctx.opted_patients.add(patient_id)
            if phone:
                ctx.opted_phones.add(phone)
        ctx.refused = set(
            Consent.objects.filter(
                patient_id__in=ids, channel=Consent.Channel.SMS, purpose=Consent.Purpose.SURVEY, granted=False
            ).values_list("patient_id", flat=True)
        )
        return ctx

    def skip_reason(self, patient: Patient) -> str:
        if patient.is_deceased:
            return Skip.DECEASED
        if patient.do_not_contact:
            return Skip.DO_NOT_CONTACT
        if patient.pk in self.refused:
            return Skip.NO_CONSENT
        if patient.pk in self.opted_patients or (patient.mobile_bidx and patient.mobile_bidx in self.opted_phones):
            return Skip.OPTED_OUT
        if not patient.mobile_bidx:
            return Skip.NO_MOBILE
        return ""


# --- planning ---------------------------------------------------------------------------------------


@dataclass
class ActiveRule:
    rule: SurveyRule
    departments: set[int]
    version: Any  # QuestionnaireVersion | None

    def applies_to(self, encounter: Encounter) -> bool:
        return not self.departments or encounter.department_id in self.departments


def _load_rules() -> dict[str, list[ActiveRule]]:
    from caredesk.questionnaires.models import QuestionnaireVersion

    rules = list(SurveyRule.objects.filter(is_active=True).prefetch_related("departments"))
    published = {
        v.questionnaire_id: v
        for v in QuestionnaireVersion.objects.filter(
            questionnaire_id__in={r.questionnaire_id for r in rules}, status=QuestionnaireVersion.Status.PUBLISHED
        ).order_by("number")
    }
    out: dict[str, list[ActiveRule]] = defaultdict(list)
    for r in rules:
        out[r.trigger].append(ActiveRule(r, {d.pk for d in r.departments.all()}, published.get(r.questionnaire_id)))
    return dict(out)


# The active rules of this process, reloaded only after a rule, its departments or a questionnaire
# version changed (one token query per planning call); the watched models are connected in apps.py.
RULES = StampedCache("surveys.rules", _load_rules)


def clear_rule_cache() -> None:
    RULES.clear()


def active_rules(trigger: str) -> list[ActiveRule]:
    return RULES.get().get(trigger, [])


def _tz() -> ZoneInfo:
    return ZoneInfo(getattr(settings, "WORK_TIMEZONE", settings.TIME_ZONE))


def oldest_invitable(now: datetime | None = None) -> Horizon:
    """Visits and discharges older than these bounds can get no invitation: its link would have
    expired before it is sent (``create_invitations`` skips them). A send time is at most the event
    time plus the rule's offset and two days (the local date, then the send hour); hence the bounds.
    (``patients.hooks.planning_horizon``)"""
    from caredesk.patients.hooks import NO_INTEREST, Horizon

    rules = RULES.get()
    now = now or timezone.now()

    def bound(trigger: str) -> datetime:
        spans = [a.rule.offset_days + a.rule.valid_days for a in rules.get(trigger, [])]
        return now - timedelta(days=max(spans) + 2) if spans else NO_INTEREST

    return Horizon(visit=bound(SurveyRule.Trigger.OUTPATIENT_VISIT), discharge=bound(SurveyRule.Trigger.DISCHARGE))


def event_time(encounter: Encounter, trigger: str) -> datetime | None:
    if trigger == SurveyRule.Trigger.OUTPATIENT_VISIT:
        if encounter.kind != Encounter.Kind.OUTPATIENT:
            return None
        return encounter.visit_at or encounter.created_at
    if trigger == SurveyRule.Trigger.DISCHARGE:
        if encounter.status != Encounter.Status.DISCHARGED:
            return None
        return encounter.discharged_at
    return None


def scheduled_for(event_at: datetime, offset_days: int) -> datetime:
    """The send time: the event's local date + offset days, at SURVEY_SEND_HOUR local time."""
    tz = _tz()
    day = timezone.localtime(event_at, tz).date() + timedelta(days=offset_days)
    return datetime.combine(day, time(int(conf.get("SURVEY_SEND_HOUR"))), tz)


def _recent_invitations(patient_ids: set[int], low: datetime, high: datetime) -> dict[int, list[datetime]]:
    recent: dict[int, list[datetime]] = defaultdict(list)
    rows = Invitation.objects.filter(
        patient_id__in=patient_ids, scheduled_at__gt=low, scheduled_at__lt=high
    ).exclude(status=Status.SKIPPED).values_list("patient_id", "scheduled_at")
    for patient_id, at in rows:
        recent[patient_id].append(at)
    return recent


def create_invitations(
    encounters: Sequence[Encounter], trigger: str, *, now: datetime | None = None, rules: list[ActiveRule] | None = None
) -> int:
    """Plan the invitations these visits call for. Returns how many rows were written (skipped ones
    included: they record why a patient was not invited). Visits whose link would already have
    expired (an import of old visits) are ignored."""
    now = now or timezone.now()
    rules = active_rules(trigger) if rules is None else rules
    if not rules or not encounters:
        return 0
    fatigue = timedelta(days=int(conf.get("SURVEY_FATIGUE_DAYS")))
    plan: list[tuple[ActiveRule, Encounter, datetime]] = []
    for enc in encounters:
        if enc.status == Encounter.Status.CANCELLED:
            continue
        at = event_time(enc, trigger)
        if at is None:
            continue
        for active in rules:
            if not active.applies_to(enc):
                continue
            when = scheduled_for(at, active.rule.offset_days)
            if when + timedelta(days=active.rule.valid_days) <= now:
                continue
            plan.append((active, enc, when))
    if not plan:
        return 0
    existing = set(
        Invitation.objects.filter(
            rule_id__in={a.rule.pk for a, _e, _w in plan}, source_key__in={f"encounter:{e.pk}" for _a, e, _w in plan}
        ).values_list("rule_id", "source_key")
    )
    plan = [(a, e, w) for a, e, w in plan if (a.rule.pk, f"encounter:{e.pk}") not in existing]
    if not plan:
        return 0
    # only what eligibility needs: no encrypted field is decrypted while planning; an intake action
    # passes its encounters with the patient it has just written
    patients = {e.patient_id: e.patient for _a, e, _w in plan if Encounter.patient.is_cached(e)}
    wanted = {e.patient_id for _a, e, _w in plan} - set(patients)
    if wanted:
        patients.update(Patient.objects.only(*ELIGIBILITY_FIELDS).in_bulk(wanted))
    eligibility = Eligibility.load(patients.values())
    whens = [w for _a, _e, w in plan]
    recent = _recent_invitations(set(patients), min(whens) - fatigue, max(whens) + fatigue)
    rows: list[Invitation] = []
    plan.sort(key=lambda p: (p[2], p[1].pk, p[0].rule.pk))
    for active, enc, when in plan:
        patient = patients[enc.patient_id]
        reason = eligibility.skip_reason(patient)
        if not reason and active.version is None:
            reason = Skip.NO_QUESTIONNAIRE
        if not reason and any(abs(when - other) < fatigue for other in recent.get(patient.pk, [])):
            reason = Skip.FATIGUE
        if not reason:
            recent[patient.pk].append(when)
        salt, digest = tokens.new_token_pair()
        rows.append(Invitation(
            rule=active.rule, patient_id=patient.pk, encounter=enc, source_key=f"encounter:{enc.pk}",
            department_id=enc.department_id, doctor_id=enc.doctor_id, version=active.version,
            token_salt=salt, token_hash=digest, scheduled_at=when,
            expires_at=when + timedelta(days=active.rule.valid_days),
            status=Status.SKIPPED if reason else Status.PENDING, skip_reason=reason, created_at=now,
        ))
    with transaction.atomic():
        Invitation.objects.bulk_create(rows, ignore_conflicts=True, batch_size=500)
        skipped = sum(1 for r in rows if r.status == Status.SKIPPED)
        audit.record(
            actor=None, verb="survey.invitations_planned", object_type="surveys.invitation",
            patient_id=rows[0].patient_id if len(rows) == 1 else None,
            trigger=trigger, planned=len(rows) - skipped, skipped=skipped,
        )
    return len(rows)


def on_encounter_registered(encounter: Encounter) -> None:
    """patients.hooks.encounter_registered: outpatient visits → the outpatient rules."""
    if encounter.kind == Encounter.Kind.OUTPATIENT:
        create_invitations([encounter], SurveyRule.Trigger.OUTPATIENT_VISIT)


def on_patient_discharged(encounter: Encounter) -> None:
    """patients.hooks.patient_discharged: the discharge rules."""
    create_invitations([encounter], SurveyRule.Trigger.DISCHARGE)


def on_complaint_closed(complaint: Any, *, patient: Patient, department: Any = None, closed_at: datetime | None = None,
                        now: datetime | None = None) -> int:
    """For the complaints module: invite the complainant to rate how the complaint was handled
    (rules with trigger ``complaint_closed``). Idempotent per complaint and rule. Returns rows written."""
    now = now or timezone.now()
    rules = [r for r in active_rules(SurveyRule.Trigger.COMPLAINT_CLOSED)
             if not r.departments or getattr(department, "pk", None) in r.departments]
    key = f"{complaint._meta.label_lower}:{complaint.pk}"
    rules = [r for r in rules if not Invitation.objects.filter(rule=r.rule, source_key=key).exists()]
    if not rules:
        return 0
    patient = Patient.objects.only(*ELIGIBILITY_FIELDS).get(pk=patient.pk)
    eligibility = Eligibility.load([patient])
    rows = []
    for active in rules:
        when = scheduled_for(closed_at or now, active.rule.offset_days)
        reason = eligibility.skip_reason(patient) or ("" if active.version else Skip.NO_QUESTIONNAIRE)
        salt, digest = tokens.new_token_pair()
        rows.append(Invitation(
            rule=active.rule, patient_id=patient.pk, source_key=key, department=department, version=active.version,
            token_salt=salt, token_hash=digest, scheduled_at=when, expires_at=when + timedelta(days=active.rule.valid_days),
            status=Status.SKIPPED if reason else Status.PENDING, skip_reason=reason, created_at=now,
        ))
    with transaction.atomic():
        Invitation.objects.bulk_create(rows, ignore_conflicts=True)
        audit.record(actor=None, verb="survey.invitations_planned", object_type="surveys.invitation",
                     patient_id=patient.pk, trigger=SurveyRule.Trigger.COMPLAINT_CLOSED, planned=len(rows))
    return len(rows)


def on_visit_withdrawn(encounter: Encounter) -> None:
    """A cancelled visit or a cancelled discharge: invitations not yet sent are dropped."""
    Invitation.objects.filter(encounter=encounter, status=Status.PENDING).update(
        status=Status.SKIPPED, skip_reason=Skip.CANCELLED, updated_at=timezone.now()
    )


def on_patient_deceased(patient: Patient) -> None:
    Invitation.objects.filter(patient=patient, status__in=Invitation.OPEN_STATUSES).update(
        status=Status.SKIPPED, skip_reason=Skip.DECEASED, updated_at=timezone.now()
    )


def create_missing(day: date | None = None, *, chunk: int = 1000) -> int:
    """Plan invitations for every visit whose send day falls within the link validity up to ``day``
    and that has none yet for a rule (the hooks normally did it; this catches rule changes, visits
    written without hooks, and anything missed)."""
    day = day or timezone.localdate()
    tz = _tz()
    written = 0
    for trigger, field_name in ((SurveyRule.Trigger.OUTPATIENT_VISIT, "visit_at"), (SurveyRule.Trigger.DISCHARGE, "discharged_at")):
        for active in active_rules(trigger):
            first = day - timedelta(days=active.rule.offset_days + active.rule.valid_days)
            last = day - timedelta(days=active.rule.offset_days)
            qs = Encounter.objects.filter(**{
                f"{field_name}__gte": datetime.combine(first, time.min, tz),
                f"{field_name}__lt": datetime.combine(last + timedelta(days=1), time.min, tz),
            }).exclude(status=Encounter.Status.CANCELLED).exclude(survey_invitations__rule=active.rule)
            if trigger == SurveyRule.Trigger.OUTPATIENT_VISIT:
                qs = qs.filter(kind=Encounter.Kind.OUTPATIENT)
            if active.departments:
                qs = qs.filter(department_id__in=active.departments)
            ids = list(qs.order_by("pk").values_list("pk", flat=True))
            for start in range(0, len(ids), chunk):
                batch = list(Encounter.objects.filter(pk__in=ids[start:start + chunk]))
                written += create_invitations(batch, trigger, rules=[active])
    return written


# --- sending ----------------------------------------------------------------------------------------


def _params(invitation: Invitation) -> dict[str, Any]:
    department = invitation.department.name if invitation.department_id and invitation.department else "我院"
    raw = tokens.raw_token(invitation.token_salt)
    return {"department": department, "link": _link("surveys:answer", raw), "optout": _link("surveys:optout", raw),
            "days": invitation.rule.valid_days}


def _outgoing(invitation: Invitation, template: str, key: str) -> Outgoing:
    return Outgoing(channel="sms", recipient=invitation.patient.mobile, template=template, params=_params(invitation),
                    idempotency_key=key, patient_id=invitation.patient_id, related=invitation)


# encrypted patient fields a message does not need (each would be decrypted on load)
_DEFERRED_PATIENT_FIELDS = ("patient__id_number", "patient__other_phones", "patient__address", "patient__notes")


def _pick(now: datetime, limit: int) -> list[Invitation]:
    qs = Invitation.objects.filter(status=Status.PENDING, scheduled_at__lte=now).order_by("scheduled_at", "pk")
    if connection.vendor == "postgresql":
        qs = qs.select_for_update(skip_locked=True, of=("self",))
    return list(qs.select_related("patient", "department", "rule").defer(*_DEFERRED_PATIENT_FIELDS)[:limit])


def send_due(*, now: datetime | None = None, batch_size: int | None = None, max_batches: int | None = None) -> dict[str, int]:
    """Send every pending invitation whose time has come; one transaction per batch."""
    now = now or timezone.now()
    batch_size = batch_size or int(conf.get("SURVEY_SEND_BATCH"))
    counts: dict[str, int] = defaultdict(int)
    batches = 0
    while max_batches is None or batches < max_batches:
        with transaction.atomic():
            batch = _pick(now, batch_size)
            if not batch:
                break
            _send_batch(batch, now, counts)
        batches += 1
    if counts:
        log.info("survey invitations: %s", dict(counts))
    return dict(counts)


def _send_batch(batch: list[Invitation], now: datetime, counts: dict[str, int]) -> None:
    eligibility = Eligibility.load(inv.patient for inv in batch)
    sent: list[int] = []
    outgoing: list[Outgoing] = []
    skipped: dict[str, list[int]] = defaultdict(list)
    for inv in batch:
        reason = Skip.TOO_LATE if inv.expires_at <= now else eligibility.skip_reason(inv.patient)
        if reason:
            skipped[reason].append(inv.pk)
            continue
        outgoing.append(_outgoing(inv, TEMPLATE_INVITATION, f"survey-invitation-{inv.pk}"))
        sent.append(inv.pk)
    if outgoing:
        enqueue_many(outgoing)
    pending = Invitation.objects.filter(status=Status.PENDING)
    if sent:
        pending.filter(pk__in=sent).update(status=Status.SENT, sent_at=now, updated_at=now)
    for reason, ids in skipped.items():
        new_status = Status.OPTED_OUT if reason == Skip.OPTED_OUT else Status.SKIPPED
        pending.filter(pk__in=ids).update(status=new_status, skip_reason=reason, updated_at=now)
        counts[f"skipped_{reason}"] += len(ids)
    counts["sent"] += len(sent)
    audit.record(
        actor=None, verb="survey.invitations_sent", object_type="surveys.invitation",
        sent=len(sent), skipped={k: len(v) for k, v in skipped.items()}, first_id=batch[0].pk, last_id=batch[-1].pk,
    )


def send_reminders(*, now: datetime | None = None, batch_size: int | None = None) -> int:
    """One reminder (SURVEY_MAX_REMINDERS) for invitations still unanswered SURVEY_REMINDER_AFTER_DAYS
    after the first message, while the link is valid for at least another half day."""
    now = now or timezone.now()
    batch_size = batch_size or int(conf.get("SURVEY_SEND_BATCH"))
    after = timedelta(days=int(conf.get("SURVEY_REMINDER_AFTER_DAYS")))
    limit = int(conf.get("SURVEY_MAX_REMINDERS"))
    total = 0
    while True:
        with transaction.atomic():
            qs = Invitation.objects.filter(
                status__in=(Status.SENT, Status.OPENED), reminders_sent__lt=limit, sent_at__lte=now - after,
                expires_at__gt=now + timedelta(hours=12),
            ).filter(Q(last_reminder_at__isnull=True) | Q(last_reminder_at__lte=now - after)).order_by("pk")
            if connection.vendor == "postgresql":
                qs = qs.select_for_update(skip_locked=True, of=("self",))
            batch = list(qs.select_related("patient", "department", "rule").defer(*_DEFERRED_PATIENT_FIELDS)[:batch_size])
            if not batch:
                break
            eligibility = Eligibility.load(inv.patient for inv in batch)
            reminded, stopped, outgoing = [], [], []
            for inv in batch:
                if eligibility.skip_reason(inv.patient):
                    stopped.append(inv.pk)
                    continue
                outgoing.append(_outgoing(inv, TEMPLATE_REMINDER, f"survey-reminder-{inv.pk}-{inv.reminders_sent + 1}"))
                reminded.append(inv.pk)
            if outgoing:
                enqueue_many(outgoing)
            Invitation.objects.filter(pk__in=reminded).update(
                reminders_sent=F("reminders_sent") + 1, last_reminder_at=now, updated_at=now
            )
            # Not contactable any more: no reminder, ever.
            Invitation.objects.filter(pk__in=stopped).update(reminders_sent=limit, updated_at=now)
            audit.record(actor=None, verb="survey.reminders_sent", object_type="surveys.invitation",
                         reminded=len(reminded), stopped=len(stopped))
            total += len(reminded)
    return total


def expire_invitations(*, now: datetime | None = None) -> int:
    now = now or timezone.now()
    n = Invitation.objects.filter(status__in=(Status.SENT, Status.OPENED), expires_at__lte=now).update(
        status=Status.EXPIRED, updated_at=now
    )
    n += Invitation.objects.filter(status=Status.PENDING, expires_at__lte=now).update(
        status=Status.SKIPPED, skip_reason=Skip.TOO_LATE, updated_at=now
    )
    if n:
        audit.record(actor=None, verb="survey.invitations_expired", object_type="surveys.invitation", count=n)
    return n


def daily(day: date | None = None, *, now: datetime | None = None) -> dict[str, int]:
    """The beat job: plan missing invitations, expire old links, send due ones, remind."""
    now = now or timezone.now()
    result = {"planned": create_missing(day or timezone.localdate(now))}
    result["expired"] = expire_invitations(now=now)
    result.update(send_due(now=now))
    result["reminded"] = send_reminders(now=now)
    return result


# --- opting out -------------------------------------------------------------------------------------


@transaction.atomic
def opt_out(invitation: Invitation, *, source: str = "link") -> OptOut:
    """The patient asked for no more survey messages: recorded by patient and phone (blind index),
    as a refused sms/survey consent, and every open invitation of theirs is withdrawn."""
    patient = invitation.patient
    existing = OptOut.objects.filter(patient=patient).first()
    optout = existing or OptOut.objects.create(
        patient=patient, phone_bidx=patient.mobile_bidx, invitation=invitation, source=source
    )
    Consent.objects.update_or_create(
        patient=patient, channel=Consent.Channel.SMS, purpose=Consent.Purpose.SURVEY,
        defaults={"granted": False, "recorded_at": timezone.now(), "source": "survey-optout"},
    )
    Invitation.objects.filter(patient=patient, status__in=Invitation.OPEN_STATUSES).update(
        status=Status.OPTED_OUT, skip_reason=Skip.OPTED_OUT, updated_at=timezone.now()
    )
    if existing is None:
        audit.record(actor=None, verb="survey.opted_out", target=optout, patient_id=patient.pk, source=source)
    return optout
