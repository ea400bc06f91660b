"""Writes of the follow-up centre: assignment, call attempts, follow-up records, alerts, SMS steps,
weekly reports. Each function takes plain arguments, runs in a transaction and audits."""

from __future__ import annotations

import hashlib
import json
import logging
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from caredesk.core import audit, workcalendar
from caredesk.messaging.actions import enqueue, register_template

from .models import (
    OPEN_STATUSES,
    Absence,
    AgentProfile,
    CallAttempt,
    Channel,
    FollowupAlert,
    FollowupPlan,
    FollowupProblem,
    FollowupRecord,
    FollowupTask,
    OnDutyContact,
    WeeklyReport,
)

log = logging.getLogger("caredesk.followups")

Outcome = CallAttempt.Outcome
Status = FollowupTask.Status

SMS_TEMPLATE = "followup.reminder"
ALERT_TEMPLATE = "followup.alert"
register_template(SMS_TEMPLATE, "【医院客服中心】您好，我们关心您近期的康复情况。如有不适请及时就诊，或回电客服中心咨询。")
register_template(ALERT_TEMPLATE,
                  "【紧急回访提醒】{department}的回访任务{task_id}出现需紧急处理的情况：{reason}。请登录客服系统查看并尽快处理。")


def max_attempts() -> int:
    return int(getattr(settings, "FOLLOWUP_MAX_ATTEMPTS", 3))


def _now() -> datetime:
    return timezone.now()


# --- SMS steps ----------------------------------------------------------------------------------


def dispatch_messages(day: date) -> int:
    """Queue the SMS steps due on or before ``day`` through the outbox (one message per task,
    idempotency key ``followup-task:<id>``) and mark them done. WeChat and home visits stay in the
    agents' queue."""
    from caredesk.patients.models import Consent

    due = list(
        FollowupTask.objects.filter(channel=Channel.SMS, status__in=OPEN_STATUSES, due_date__lte=day)
        .select_related("patient").order_by("pk")[:5000]
    )
    if not due:
        return 0
    refused = set(
        Consent.objects.filter(patient_id__in={t.patient_id for t in due}, channel=Consent.Channel.SMS,
                               purpose=Consent.Purpose.FOLLOWUP, granted=False).values_list("patient_id", flat=True)
    )
    start = workcalendar.next_call_slot(max(_now(), datetime.combine(day, time(0), tzinfo=workcalendar._tz())))
    sent = 0
    for task in due:
        with transaction.atomic():
            patient = task.patient
            if patient.do_not_contact or patient.is_deceased or task.patient_id in refused or not patient.mobile:
                task.status, task.outcome = Status.CANCELLED, "not_sendable"
            else:
                enqueue("sms", patient.mobile, SMS_TEMPLATE, {}, idempotency_key=f"followup-task:{task.pk}",
                        related=task, patient_id=task.patient_id, send_at=start)
                task.status, task.outcome = Status.DONE, "sms_queued"
                sent += 1
            task.closed_at = _now()
            task.save(update_fields=["status", "outcome", "closed_at"])
    audit.record(actor=None, verb="followups.sms_queued", object_type="followups.sweep", object_id=day.isoformat(), count=sent)
    return sent


# --- assignment ---------------------------------------------------------------------------------


@dataclass
class _Agent:
    user_id: int
    skills: set[int] | None
    load: int
    capacity: int


def available_agents(day: date) -> list[_Agent]:
    """Agents who take assignments and are not absent on ``day``, with their open load."""
    from caredesk.accounts.models import User

    absent = set(Absence.objects.filter(start__lte=day, end__gte=day).values_list("user_id", flat=True))
    users = (
        User.objects.filter(is_active=True, groups__name="agent").exclude(pk__in=absent)
        .exclude(followup_profile__takes_assignments=False).distinct()
    )
    ids = list(users.values_list("pk", flat=True))
    profiles = {p.user_id: p for p in AgentProfile.objects.filter(user_id__in=ids).prefetch_related("skills")}
    loads = dict(
        FollowupTask.objects.filter(assignee_id__in=ids, status=Status.ASSIGNED, due_date__lte=day)
        .values_list("assignee_id").annotate(n=Count("pk")).values_list("assignee_id", "n")
    )
    from .generate import _department_tree, _expand

    tree = _department_tree()
    out = []
    for pk in sorted(ids):
        profile = profiles.get(pk)
        skills = {d.pk for d in profile.skills.all()} if profile else set()
        out.append(_Agent(pk, _expand(skills, tree) if skills else None, loads.get(pk, 0),
                          profile.daily_capacity if profile else 80))
    return out


@transaction.atomic
def assign_day(day: date | None = None, *, acting_user: Any = None) -> dict[str, int]:
    """Give every unassigned open task due by ``day`` to the agent with the lowest open load who
    covers its department and is not absent; tasks of an absent agent go back to the pool first."""
    day = day or timezone.localdate()
    absent = list(Absence.objects.filter(start__lte=day, end__gte=day).values_list("user_id", flat=True))
    released = FollowupTask.objects.filter(status=Status.ASSIGNED, assignee_id__in=absent, due_date__lte=day).update(
        status=Status.OPEN, assignee=None,
    )
    agents = available_agents(day)
    pool = list(
        FollowupTask.objects.filter(status=Status.OPEN, due_date__lte=day).exclude(channel=Channel.SMS)
        .order_by("-priority", "due_date", "pk").values_list("pk", "department_id")
    )
    by_agent: dict[int, list[int]] = {}
    left = 0
    # Tasks only few agents can take go first (stable: priority order within), so the flexible
    # agents are not filled up with work anyone could have done.
    eligible = {dept: [a for a in agents if a.skills is None or dept in a.skills] for dept in {d for _pk, d in pool}}
    pool.sort(key=lambda row: len(eligible[row[1]]))
    for pk, dept in pool:
        able = [a for a in eligible[dept] if a.load < a.capacity]
        if not able:
            left += 1
            continue
        chosen = min(able, key=lambda a: (a.load, a.user_id))
        chosen.load += 1
        by_agent.setdefault(chosen.user_id, []).append(pk)
    assigned = 0
    for user_id, ids in by_agent.items():
        for start in range(0, len(ids), 900):
            assigned += FollowupTask.objects.filter(pk__in=ids[start:start + 900], status=Status.OPEN).update(
                status=Status.ASSIGNED, assignee_id=user_id,
            )
    counts = {"assigned": assigned, "unassigned": left, "released": released, "agents": len(agents)}
    audit.record(actor=acting_user, verb="followups.assigned", object_type="followups.assignment", object_id=day.isoformat(),
                 counts=counts)
    return counts


@transaction.atomic
def reassign(task_ids: list[int], *, to_user: Any, acting_user: Any) -> int:
    """Bulk reassignment by a supervisor; only open tasks move."""
    n = FollowupTask.objects.filter(pk__in=task_ids, status__in=OPEN_STATUSES).update(status=Status.ASSIGNED, assignee=to_user)
    audit.record(actor=acting_user, verb="followups.reassigned", object_type="followups.task", object_id=",".join(map(str, task_ids[:50])),
                 count=n, to_user=to_user.pk)
    return n


# --- call attempts ------------------------------------------------------------------------------


def next_retry_at(now: datetime) -> datetime:
    """The first call slot on the next working day."""
    tomorrow = workcalendar.next_working_day(timezone.localtime(now, workcalendar._tz()).date())
    return workcalendar.next_call_slot(datetime.combine(tomorrow, time(0), tzinfo=workcalendar._tz()))


@transaction.atomic
def log_attempt(task: FollowupTask, *, outcome: str, agent: Any, callback_at: datetime | None = None, note: str = "",
                at: datetime | None = None) -> CallAttempt:
    """Record one call. Unreached (no answer, busy) is retried at the next working day's first call
    slot until ``FOLLOWUP_MAX_ATTEMPTS`` (default 3), then the task closes as unreachable."""
    task = FollowupTask.objects.select_for_update(of=("self",)).select_related("patient").get(pk=task.pk)
    if not task.is_open:
        raise ValidationError(_("该任务已结束，不能再登记拨打结果。"))
    if outcome not in Outcome.values:
        raise ValidationError(_("未知的拨打结果。"))
    at = at or _now()
    if outcome == Outcome.CALLBACK:
        if callback_at is None:
            raise ValidationError(_("约定回拨需要填写回拨时间。"))
        if callback_at <= at:
            raise ValidationError(_("回拨时间必须晚于现在。"))
    attempt = CallAttempt.objects.create(task=task, agent=agent, at=at, outcome=outcome, callback_at=callback_at, note=note[:300])
    task.outcome = outcome
    if task.assignee_id is None:
        task.assignee = agent
        task.status = Status.ASSIGNED
    if outcome in (Outcome.NO_ANSWER, Outcome.BUSY):
        task.attempts += 1
        if task.attempts >= max_attempts():
            task.status, task.closed_at, task.next_attempt_at = Status.UNREACHABLE, at, None
        else:
            task.next_attempt_at = next_retry_at(at)
    elif outcome == Outcome.WRONG_NUMBER:
        task.status, task.closed_at, task.next_attempt_at = Status.UNREACHABLE, at, None
    elif outcome == Outcome.CALLBACK:
        task.next_attempt_at = workcalendar.next_call_slot(callback_at) if callback_at else None
    elif outcome == Outcome.REACHED:
        task.next_attempt_at = None  # done when the record is saved
    elif outcome == Outcome.REFUSED or outcome == Outcome.DECEASED:
        task.status, task.closed_at, task.next_attempt_at = Status.DONE, at, None
    task.save()
    audit.record(actor=agent, verb="followups.call_logged", target=task, outcome=outcome, attempts=task.attempts)
    if outcome == Outcome.REFUSED:
        from .generate import close_plan

        close_plan(task.plan, reason="refused", actor=agent)
    if outcome == Outcome.DECEASED:
        from caredesk.patients.actions import mark_deceased

        mark_deceased(task.patient, at=at, source="followup_call", acting_user=agent)
    return attempt


# --- follow-up record, problems, alerts ----------------------------------------------------------


@dataclass
class ProblemInput:
    kind: str
    words: str


@transaction.atomic
def save_record(task: FollowupTask, *, agent: Any, satisfaction: int | None, problems: list[ProblemInput],
                summary: str = "", recovered: bool = False, red_flags: list[str] | None = None,
                response_id: int | None = None) -> FollowupRecord:
    """The 回访记录表 of a reached call: closes the task as done, keeps the patient's words, raises
    an urgent alert on a red flag, and stops a 治愈 discharge plan once recovery is confirmed."""
    task = FollowupTask.objects.select_for_update(of=("self",)).select_related("plan__template", "encounter").get(pk=task.pk)
    if not task.is_open:
        raise ValidationError(_("该任务已结束。"))
    if satisfaction is not None and not 1 <= satisfaction <= 5:
        raise ValidationError(_("满意度应为 1 到 5 分。"))
    now = _now()
    if not task.call_attempts.filter(outcome=Outcome.REACHED).exists():
        CallAttempt.objects.create(task=task, agent=agent, at=now, outcome=Outcome.REACHED)
    record = FollowupRecord.objects.create(
        task=task, patient_id=task.patient_id, department_id=task.department_id, agent=agent, satisfaction=satisfaction,
        recovered=recovered, summary=summary, response_id=response_id,
    )
    FollowupProblem.objects.bulk_create([
        FollowupProblem(record=record, kind=p.kind, words=p.words.strip()) for p in problems if p.words.strip()
    ])
    task.status, task.closed_at, task.outcome, task.satisfaction = Status.DONE, now, Outcome.REACHED, satisfaction
    task.next_attempt_at = None
    if task.assignee_id is None:
        task.assignee = agent
    task.save()
    audit.record(actor=agent, verb="followups.record_saved", target=task, satisfaction=satisfaction,
                 problems=len(problems), red_flags=len(red_flags or []))
    if red_flags:
        raise_alert(task, reason="；".join(red_flags)[:300], actor=agent)
    plan = task.plan
    if (recovered and plan.template.stop_when_cured and task.encounter is not None
            and task.encounter.outcome == "cured" and plan.status == FollowupPlan.Status.ACTIVE):
        from .generate import close_plan

        close_plan(plan, reason="cured_confirmed", actor=agent)
    return record


def raise_alert(task: FollowupTask, *, reason: str, actor: Any = None) -> FollowupAlert:
    """An urgent alert: a FollowupAlert row and an SMS to the department's on-duty contact."""
    alert, created = FollowupAlert.objects.get_or_create(
        task=task, defaults={"patient_id": task.patient_id, "department_id": task.department_id, "reason": reason},
    )
    if not created:
        return alert
    contact = OnDutyContact.objects.filter(department_id=task.department_id).first() if task.department_id else None
    if contact is not None and contact.phone:
        dept = str(contact.department)
        message = enqueue("sms", contact.phone, ALERT_TEMPLATE, {"department": dept, "task_id": task.pk, "reason": reason[:60]},
                          idempotency_key=f"followup-alert:{alert.pk}", related=alert, patient_id=task.patient_id)
        alert.message_id = message.pk
        alert.save(update_fields=["message_id"])
    audit.record(actor=actor, verb="followups.alert_raised", target=alert, task_id=task.pk, notified=contact is not None)
    log.warning("followup alert %s raised for task %s", alert.pk, task.pk)
    return alert


@transaction.atomic
def acknowledge_alert(alert: FollowupAlert, *, acting_user: Any) -> FollowupAlert:
    if alert.acknowledged_at is None:
        alert.acknowledged_at = _now()
        alert.acknowledged_by = acting_user
        alert.save(update_fields=["acknowledged_at", "acknowledged_by"])
        audit.record(actor=acting_user, verb="followups.alert_acknowledged", target=alert)
    return alert


@transaction.atomic
def set_problem_status(problem: FollowupProblem, *, status: str, acting_user: Any) -> FollowupProblem:
    if status not in FollowupProblem.Status.values:
        raise ValidationError(_("未知的状态。"))
    problem.status = status
    problem.save(update_fields=["status"])
    audit.record(actor=acting_user, verb="followups.problem_status", target=problem, status=status,
                 patient_id=problem.record.patient_id)
    return problem


# --- weekly report ------------------------------------------------------------------------------


def week_start(d: date) -> date:
    return d - timedelta(days=d.weekday())


def report_figures(week: date, agent_id: int | None) -> dict[str, Any]:
    """Tasks due, done, reached, unreachable, satisfaction and problems in the week of ``week``."""
    end = week + timedelta(days=7)
    tasks = FollowupTask.objects.filter(due_date__gte=week, due_date__lt=end)
    records = FollowupRecord.objects.filter(created_at__date__gte=week, created_at__date__lt=end)
    problems = FollowupProblem.objects.filter(record__in=records)
    if agent_id is not None:
        tasks = tasks.filter(assignee_id=agent_id)
        records = records.filter(agent_id=agent_id)
        problems = problems.filter(record__agent_id=agent_id)
    by_status = Counter(dict(tasks.values_list("status").annotate(n=Count("pk")).values_list("status", "n")))
    reached = tasks.filter(outcome=Outcome.REACHED).count()
    sats = [int(s) for s in records.exclude(satisfaction__isnull=True).values_list("satisfaction", flat=True) if s is not None]
    closed = by_status[Status.DONE] + by_status[Status.UNREACHABLE]
    return {
        "due": sum(v for k, v in by_status.items() if k not in (Status.WITHDRAWN, Status.CANCELLED)),
        "done": by_status[Status.DONE],
        "reached": reached,
        "unreachable": by_status[Status.UNREACHABLE],
        "open": by_status[Status.OPEN] + by_status[Status.ASSIGNED],
        "contact_rate": round(100 * reached / closed, 1) if closed else None,
        "satisfaction_avg": round(sum(sats) / len(sats), 2) if sats else None,
        "satisfaction_count": len(sats),
        "satisfaction_dist": {str(k): sats.count(k) for k in range(1, 6)},
        "problems": problems.count(),
        "problems_by_status": dict(problems.values_list("status").annotate(n=Count("pk")).values_list("status", "n")),
        "problem_list": [
            {"id": p.pk, "kind": p.kind, "words": p.words, "status": p.status, "task_id": p.record.task_id}
            for p in problems.select_related("record").order_by("pk")[:200]
        ],
    }


@transaction.atomic
def prepare_report(week: date, *, agent: Any = None, acting_user: Any) -> WeeklyReport:
    """Create or refresh the draft report of ``week`` (agent or team). Signed reports stay as they are."""
    week = week_start(week)
    scope_key = f"agent:{agent.pk}" if agent is not None else "team"
    report = WeeklyReport.objects.filter(week_start=week, scope_key=scope_key).first()
    if report is not None and report.status == WeeklyReport.Status.SIGNED:
        return report
    if report is None:
        report = WeeklyReport(week_start=week, agent=agent)
    report.figures = report_figures(week, agent.pk if agent is not None else None)
    report.save()
    audit.record(actor=acting_user, verb="followups.report_prepared", target=report)
    return report


@transaction.atomic
def submit_report(report: WeeklyReport, *, notes: str, acting_user: Any) -> WeeklyReport:
    if report.status == WeeklyReport.Status.SIGNED:
        raise ValidationError(_("已签发的周报不可修改。"))
    report.agent_notes = notes
    report.status = WeeklyReport.Status.SUBMITTED
    report.figures = report_figures(report.week_start, report.agent_id)
    report.save()
    audit.record(actor=acting_user, verb="followups.report_submitted", target=report)
    return report


@transaction.atomic
def sign_report(report: WeeklyReport, *, guidance: str, acting_user: Any) -> WeeklyReport:
    """The supervisor's review and sign-off: the figures are recomputed one last time and frozen
    with the texts into ``snapshot`` (with its SHA-256); the row can never change again."""
    if report.status == WeeklyReport.Status.SIGNED:
        raise ValidationError(_("该周报已签发。"))
    if not guidance.strip():
        raise ValidationError(_("请填写指导意见。"))
    now = _now()
    figures = report_figures(report.week_start, report.agent_id)
    snapshot = {
        "week_start": report.week_start.isoformat(),
        "scope": report.scope_key or (f"agent:{report.agent_id}" if report.agent_id else "team"),
        "agent": str(report.agent) if report.agent_id else None,
        "figures": figures,
        "agent_notes": report.agent_notes,
        "guidance": guidance.strip(),
        "signed_by": acting_user.pk,
        "signed_by_name": str(acting_user),
        "signed_at": now.isoformat(),
    }
    raw = json.dumps(snapshot, ensure_ascii=False, sort_keys=True, default=str)
    report.figures = figures
    report.guidance = guidance.strip()
    report.reviewed_by = acting_user
    report.signed_at = now
    report.snapshot = snapshot
    report.snapshot_sha256 = hashlib.sha256(raw.encode()).hexdigest()
    report.status = WeeklyReport.Status.SIGNED
    report.save()
    audit.record(actor=acting_user, verb="followups.report_signed", target=report, sha256=report.snapshot_sha256)
    return report


def open_task_filter(day: date) -> Q:
    """Open tasks the agent should work on ``day``: due by then, and not waiting for a later retry."""
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=workcalendar._tz())
    return Q(status__in=OPEN_STATUSES, due_date__lte=day) & (Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lt=end))
