"""Plan and task generation, withdrawal and closing.

``generate_for_encounters`` is the one code path: the patient hooks call it for a single
encounter inside the intake transaction, the daily sweep calls it for chunks of a day's encounters.
It works per batch: a few lookups, then ``bulk_create(ignore_conflicts=True)`` of plans (unique on
template + source) and of tasks (unique on plan + step key), so a re-run, a replayed HL7 message or
a sweep after a crash never creates a second row. The sweep commits chunk by chunk; a worker killed
mid-way loses at most the chunk in flight, which the next run makes again.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from caredesk.core import audit, workcalendar
from caredesk.core.configcache import StampedCache

from .models import OPEN_STATUSES, Channel, FollowupPlan, FollowupTask, PlanStep, PlanTemplate
from .plans import schedule

if TYPE_CHECKING:
    from caredesk.patients.hooks import Horizon

log = logging.getLogger("caredesk.followups")

CHUNK = 1000
TASK_BATCH = 2000
Trigger = PlanTemplate.Trigger


def _setting(name: str, default: Any) -> Any:
    return getattr(settings, name, default)


def local_date(dt: datetime) -> date:
    return timezone.localtime(dt, workcalendar._tz()).date()


@dataclass
class _Template:
    template: PlanTemplate
    steps: list[PlanStep]
    departments: set[int] | None
    disabled: set[int]
    patterns: list[str]


@dataclass
class Result:
    encounters: int = 0
    plans_offered: int = 0
    tasks_offered: int = 0
    skipped: dict[str, int] = field(default_factory=dict)

    def skip(self, why: str) -> None:
        self.skipped[why] = self.skipped.get(why, 0) + 1

    def add(self, other: Result) -> None:
        self.encounters += other.encounters
        self.plans_offered += other.plans_offered
        self.tasks_offered += other.tasks_offered
        for k, v in other.skipped.items():
            self.skipped[k] = self.skipped.get(k, 0) + v


def _department_tree() -> dict[int, set[int]]:
    """department id → itself and every department below it."""
    from caredesk.accounts.models import Department

    children: dict[int | None, list[int]] = {}
    ids = []
    for pk, parent in Department.objects.values_list("id", "parent_id"):
        children.setdefault(parent, []).append(pk)
        ids.append(pk)
    tree: dict[int, set[int]] = {}
    for pk in ids:
        found, stack = {pk}, [pk]
        while stack:
            for child in children.get(stack.pop(), []):
                if child not in found:
                    found.add(child)
                    stack.append(child)
        tree[pk] = found
    return tree


def _expand(ids: Iterable[int], tree: dict[int, set[int]]) -> set[int]:
    out: set[int] = set()
    for pk in ids:
        out |= tree.get(pk, {pk})
    return out


def _load_templates() -> list[_Template]:
    qs = PlanTemplate.objects.filter(is_active=True).prefetch_related("steps", "departments", "disabled_departments")
    tree = _department_tree()
    out = []
    for t in qs:
        depts = [d.pk for d in t.departments.all()]
        out.append(_Template(
            template=t,
            steps=list(t.steps.all()),
            departments=_expand(depts, tree) if depts else None,
            disabled=_expand([d.pk for d in t.disabled_departments.all()], tree),
            patterns=[p.strip().lower() for p in re.split(r"[,，;；]", t.diagnosis_pattern or "") if p.strip()],
        ))
    return out


# The active templates with their steps and expanded departments, shared by every generation call
# of this process until a template, step or department changes (one token query per call instead
# of five queries). The watched models are connected in apps.py.
TEMPLATES = StampedCache("followups.templates", _load_templates)


def load_templates(triggers: Iterable[str] | None = None) -> list[_Template]:
    templates = TEMPLATES.get()
    if triggers is None:
        return templates
    wanted = set(triggers)
    return [t for t in templates if t.template.trigger in wanted]


def encounter_triggers(encounter: Any) -> list[tuple[str, date]]:
    """The plan triggers an encounter currently fires, with their dates."""
    from caredesk.patients.models import Encounter

    if encounter.status == Encounter.Status.CANCELLED:
        return []
    if encounter.kind == Encounter.Kind.INPATIENT:
        if encounter.status == Encounter.Status.DISCHARGED and encounter.discharged_at:
            return [(Trigger.DISCHARGE, local_date(encounter.discharged_at))]
        return []
    when = encounter.visit_at or encounter.discharged_at
    if when is None:
        return []
    day = local_date(when)
    out: list[tuple[str, date]] = [(Trigger.ANY_OUTPATIENT, day)]
    if encounter.visit_type == Encounter.VisitType.FIRST:
        out.append((Trigger.FIRST_OUTPATIENT, day))
    return out


def _age(birth: date | None, on: date) -> int | None:
    if birth is None:
        return None
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def template_matches(tpl: _Template, encounter: Any, patient: Any, on: date) -> bool:
    t = tpl.template
    dept = encounter.department_id if encounter is not None else None
    if tpl.departments is not None and dept not in tpl.departments:
        return False
    if dept is not None and dept in tpl.disabled:
        return False
    if tpl.patterns:
        text = (getattr(encounter, "diagnosis_text", "") or "").lower()
        code = (getattr(encounter, "diagnosis_code", "") or "").lower()
        if not any(p in text or (code and code.startswith(p)) for p in tpl.patterns):
            return False
    if t.customer_types and patient.customer_type not in t.customer_types:
        return False
    if t.vip_only and not patient.vip_level:
        return False
    if t.min_age is not None or t.max_age is not None:
        age = _age(patient.birth_date, on)
        if age is None:
            return False
        if t.min_age is not None and age < t.min_age:
            return False
        if t.max_age is not None and age > t.max_age:
            return False
    return True


def _blocked_channels(patient_ids: Iterable[int]) -> set[tuple[int, str]]:
    """(patient, channel) pairs where the patient refused follow-up contact on that channel."""
    from caredesk.patients.models import Consent

    return set(
        Consent.objects.filter(patient_id__in=list(patient_ids), purpose=Consent.Purpose.FOLLOWUP, granted=False)
        .values_list("patient_id", "channel")
    )


def _earliest_due(today: date) -> date | None:
    days = _setting("FOLLOWUP_BACKFILL_DAYS", 30)
    return None if days is None else today - timedelta(days=int(days))


def _plan_ends(tpl: _Template, trigger: date) -> date:
    """The due date of the template's last step for this trigger date."""
    return max((occ.due for occ in schedule(tpl.steps, trigger)), default=trigger)


def _longest_plan_days(templates: list[_Template]) -> dict[str, int]:
    """Per trigger, how many days its longest plan runs after the trigger date, plus a month of
    slack for working-day shifts and month lengths (the pre-filter must never drop a plan that
    still has a step to do; the exact check follows)."""
    ref = date(2026, 1, 1)
    out: dict[str, int] = {}
    for tpl in templates:
        days = (_plan_ends(tpl, ref) - ref).days + 31
        out[tpl.template.trigger] = max(out.get(tpl.template.trigger, 0), days)
    return out


def _oldest_days(templates: list[_Template], earliest: date | None) -> tuple[dict[str, date] | None, datetime | None]:
    """Per trigger, the oldest trigger day that may still plan something (a visit so old that every
    plan would already be over, as in an import of past years, has nothing to plan), and the time
    before which an encounter is too old for every trigger, checked before any time-zone conversion
    (the costly part of ``encounter_triggers``): the start, in UTC, of the day before the oldest of
    those days (a local day starts less than a day before that day in UTC). None: no limit."""
    if earliest is None:
        return None, None
    oldest = {trigger: earliest - timedelta(days=days) for trigger, days in _longest_plan_days(templates).items()}
    cutoff = _day_cutoff(min(oldest.values())) if oldest else None
    return oldest, cutoff


def _day_cutoff(day: date) -> datetime:
    """A time before every moment of the local ``day``: the start, in UTC, of the day before."""
    return datetime.combine(day - timedelta(days=1), time.min, tzinfo=UTC)


def oldest_plannable(today: date | None = None) -> Horizon:
    """Outpatient visits and discharges older than these bounds can start no plan:
    ``generate_for_encounters`` drops them unread. None: no limit. (``patients.hooks.planning_horizon``)"""
    from caredesk.patients.hooks import NO_INTEREST, Horizon

    templates = load_templates()
    if not templates:
        return Horizon(visit=NO_INTEREST, discharge=NO_INTEREST)
    oldest, _cutoff = _oldest_days(templates, _earliest_due(today or timezone.localdate()))
    if oldest is None:
        return Horizon(visit=None, discharge=None)

    def bound(*triggers: str) -> datetime:
        days = [oldest[t] for t in triggers if t in oldest]
        return _day_cutoff(min(days)) if days else NO_INTEREST

    return Horizon(visit=bound(Trigger.ANY_OUTPATIENT, Trigger.FIRST_OUTPATIENT), discharge=bound(Trigger.DISCHARGE))


# What planning reads of an encounter and its patient (``encounter_triggers``, ``template_matches``
# and the loop below); a test checks that nothing else is read (it would cost a query per row).
PLANNING_FIELDS = ("patient", "kind", "status", "visit_at", "discharged_at", "visit_type", "outcome", "department",
                   "diagnosis_text", "diagnosis_code")
PLANNING_PATIENT_FIELDS = ("is_deceased", "do_not_contact", "merged_into", "customer_type", "vip_level", "birth_date")


def generate_for_encounters(encounters: Iterable[Any], *, today: date | None = None,
                            templates: list[_Template] | None = None) -> Result:
    """Start the plans that the given encounters (objects or ids) trigger and create their tasks.
    Runs in the caller's transaction. Idempotent."""
    from caredesk.patients.models import Encounter

    result = Result()
    encounters = list(encounters)
    if not any(isinstance(e, int) or encounter_triggers(e) for e in encounters):
        return result  # admissions, cancelled visits: no trigger, no query at all
    templates = load_templates() if templates is None else templates
    today = today or timezone.localdate()
    earliest = _earliest_due(today)
    oldest, cutoff = _oldest_days(templates, earliest)

    def may_plan(encounter: Any) -> bool:  # called for every encounter of an import: no generator
        visit, discharge = encounter.visit_at, encounter.discharged_at
        if cutoff is not None and (visit is None or visit < cutoff) and (discharge is None or discharge < cutoff):
            return False
        return any(oldest is None or (trigger in oldest and day >= oldest[trigger])
                   for trigger, day in encounter_triggers(encounter))

    ids = [e if isinstance(e, int) else e.pk for e in encounters if isinstance(e, int) or may_plan(e)]
    if not ids:
        return result
    # An intake action passes the encounter it has just written, with its patient: use it as is.
    given = {e.pk: e for e in encounters if not isinstance(e, int) and Encounter.patient.is_cached(e)}
    missing = [pk for pk in ids if pk not in given]
    rows = [given[pk] for pk in ids if pk in given]
    if missing:  # only what planning reads (identity fields are neither read nor decrypted)
        rows += list(Encounter.objects.filter(pk__in=missing).select_related("patient").only(
            *PLANNING_FIELDS, *(f"patient__{name}" for name in PLANNING_PATIENT_FIELDS)))
    result.encounters = len(rows)
    if not any(encounter_triggers(e) for e in rows):
        return result
    by_trigger: dict[str, list[_Template]] = {}
    for tpl in templates:
        by_trigger.setdefault(tpl.template.trigger, []).append(tpl)

    wanted: list[tuple[_Template, Any, date]] = []  # (template, encounter, trigger date)
    ends: dict[tuple[int, date], date] = {}
    for enc in rows:
        patient = enc.patient
        if patient.is_deceased or enc.outcome == Encounter.Outcome.DIED:
            result.skip("deceased")
            continue
        if patient.do_not_contact:
            result.skip("do_not_contact")
            continue
        if patient.merged_into_id:
            result.skip("merged")
            continue
        matched: list[tuple[_Template, date]] = []
        for trigger, day in encounter_triggers(enc):
            for tpl in by_trigger.get(trigger, []):
                if template_matches(tpl, enc, patient, day):
                    matched.append((tpl, day))
        codes = {m[0].template.pk for m in matched}
        for tpl, day in matched:
            if tpl.template.skip_when_id and tpl.template.skip_when_id in codes:
                continue
            if (tpl.template.pk, day) not in ends:
                ends[(tpl.template.pk, day)] = _plan_ends(tpl, day)
            if earliest is not None and ends[(tpl.template.pk, day)] < earliest:
                result.skip("too_old")  # every step would be due before the backfill window
                continue
            wanted.append((tpl, enc, day))
    if not wanted:
        return result

    insert_plans([(tpl.template.pk, enc.patient_id, enc.pk, f"enc:{enc.pk}", day, enc.department_id) for tpl, enc, day in wanted])
    result.plans_offered = len(wanted)
    keys = {f"enc:{enc.pk}" for _t, enc, _d in wanted}
    stored = {
        (p.template_id, p.source_key): p
        for p in FollowupPlan.objects.filter(source_key__in=keys, template_id__in={t.template.pk for t, _e, _d in wanted}).only(
            "id", "template_id", "source_key", "status", "reason", "closed_at", "trigger_date")  # what this and _reactivate use
    }
    _reactivate(stored.values(), {(t.template.pk, f"enc:{e.pk}"): d for t, e, d in wanted})
    blocked = _blocked_channels({enc.patient_id for _t, enc, _d in wanted})
    now = timezone.now()
    tasks: list[TaskRow] = []
    schedules: dict[tuple[int, date], list[Any]] = {}  # a day's discharges share their schedule
    for tpl, enc, _day in wanted:
        plan = stored.get((tpl.template.pk, f"enc:{enc.pk}"))
        if plan is None or plan.status != FollowupPlan.Status.ACTIVE:
            continue
        steps = {s.order: s for s in tpl.steps}
        priority = tpl.template.priority + min(enc.patient.vip_level, 5) * 5
        key = (tpl.template.pk, plan.trigger_date)
        if key not in schedules:
            schedules[key] = schedule(tpl.steps, plan.trigger_date)
        for occ in schedules[key]:
            step = steps[int(occ.step_key.split(".")[0])]
            if (enc.patient_id, step.channel) in blocked:
                result.skip("consent")
                continue
            if earliest is not None and occ.due < earliest:
                result.skip("too_old")
                continue
            tasks.append(TaskRow(plan.pk, step.pk, occ.step_key, enc.patient_id, enc.pk, enc.department_id, occ.due,
                                 step.channel, priority, now))
    insert_tasks(tasks)
    result.tasks_offered = len(tasks)
    return result


@dataclass(frozen=True)
class TaskRow:
    plan_id: int
    step_id: int | None
    step_key: str
    patient_id: int
    encounter_id: int | None
    department_id: int | None
    due_date: date
    channel: str
    priority: int
    created_at: datetime


TASK_COLUMNS = ("plan_id", "step_id", "step_key", "patient_id", "encounter_id", "department_id", "due_date", "channel",
                "status", "priority", "attempts", "outcome", "created_at")


def task_values(rows: Iterable[TaskRow]) -> list[tuple[Any, ...]]:
    from django.db import connection

    ops = connection.ops
    return [
        (r.plan_id, r.step_id, r.step_key, r.patient_id, r.encounter_id, r.department_id, ops.adapt_datefield_value(r.due_date),
         r.channel, FollowupTask.Status.OPEN, r.priority, 0, "", ops.adapt_datetimefield_value(r.created_at))
        for r in rows
    ]


def insert_plans(rows: list[tuple[int, int, int | None, str, date, int | None]]) -> None:
    """(template, patient, encounter, source key, trigger date, department) → active plans,
    ``ON CONFLICT (template_id, source_key) DO NOTHING``."""
    from django.db import connection

    if not rows:
        return
    ops = connection.ops
    now = ops.adapt_datetimefield_value(timezone.now())
    cols = ("template_id", "patient_id", "encounter_id", "source_key", "trigger_date", "department_id", "status", "reason",
            "created_at")
    sql = (f"INSERT INTO {ops.quote_name(FollowupPlan._meta.db_table)} ({', '.join(ops.quote_name(c) for c in cols)}) "  # noqa: S608
           f"VALUES ({', '.join(['%s'] * len(cols))}) ON CONFLICT (template_id, source_key) DO NOTHING")
    values = [(t, p, e, k, ops.adapt_datefield_value(d), dept, FollowupPlan.Status.ACTIVE, "", now) for t, p, e, k, d, dept in rows]
    _run_insert(sql, values)


def _run_insert(sql: str, values: list[tuple[Any, ...]]) -> None:
    """``executemany`` of the one-row statement. SQLite: a C loop over one prepared statement.
    PostgreSQL: through a cursor with server-side binding (``_bound_cursor``), so psycopg sends the
    values apart from the statement and the rows in one pipeline. Django's cursors bind on the
    client (psycopg writes every value into the SQL text in Python): a 500-row VALUES list per
    statement, the former way, cost this process 46–69 µs a row against 18–21 µs now
    (docs/benchmarks.md)."""
    from django.db import connection

    with connection.cursor() if connection.vendor != "postgresql" else _bound_cursor() as cur:
        for start in range(0, len(values), TASK_BATCH):
            cur.executemany(sql, values[start:start + TASK_BATCH])


def _bound_cursor() -> Any:
    """PostgreSQL: a Django cursor (queries logged and errors wrapped as usual) with server-side
    binding: the statement's placeholders become ``$1…`` and the values travel apart."""
    from django.db import connection
    from django.db.backends.postgresql.base import ServerBindingCursor

    connection.ensure_connection()
    connection.validate_thread_sharing()
    bound: Any = ServerBindingCursor  # (the type stubs describe psycopg2's cursors)
    raw = bound(connection.connection)
    return connection.make_debug_cursor(raw) if connection.queries_logged else connection.make_cursor(raw)


def insert_tasks(rows: list[TaskRow], *, on_conflict: bool = True) -> None:
    """``INSERT … ON CONFLICT (plan_id, step_key) DO NOTHING`` (SQLite ≥ 3.24 and PostgreSQL) run
    with ``executemany`` in batches: the unique constraint, not a lookup, decides what already
    exists. Plain parameter tuples — no model instances — keep 60,000 rows well inside the limit."""
    from django.db import connection

    if not rows:
        return
    table = connection.ops.quote_name(FollowupTask._meta.db_table)
    cols = ", ".join(connection.ops.quote_name(c) for c in TASK_COLUMNS)
    one = "(" + ", ".join(["%s"] * len(TASK_COLUMNS)) + ")"
    tail = " ON CONFLICT (plan_id, step_key) DO NOTHING" if on_conflict else ""
    sql = f"INSERT INTO {table} ({cols}) VALUES {one}{tail}"  # noqa: S608 - fixed table and columns
    _run_insert(sql, task_values(rows))


def _reactivate(plans: Iterable[FollowupPlan], dates: dict[tuple[int, str], date]) -> None:
    """A stay discharged again after its discharge was cancelled (A13, then A03) gets its plan
    back: untouched withdrawn tasks are removed so the generation makes them with the new dates."""
    for plan in plans:
        if plan.status == FollowupPlan.Status.WITHDRAWN and plan.reason == REASON_DISCHARGE_CANCELLED:
            plan.status = FollowupPlan.Status.ACTIVE
            plan.reason = ""
            plan.closed_at = None
            plan.trigger_date = dates.get((plan.template_id, plan.source_key), plan.trigger_date)
            plan.save(update_fields=["status", "reason", "closed_at", "trigger_date"])
            plan.tasks.filter(status=FollowupTask.Status.WITHDRAWN, attempts=0, call_attempts__isnull=True).delete()


# --- withdrawing and closing ------------------------------------------------------------------------

REASON_DISCHARGE_CANCELLED = "discharge_cancelled"
REASON_ENCOUNTER_CANCELLED = "encounter_cancelled"
REASON_DECEASED = "deceased"


def _end_plans(plans: Any, *, status: str, task_status: str, reason: str) -> int:
    now = timezone.now()
    plan_ids = list(plans.filter(status=FollowupPlan.Status.ACTIVE).values_list("pk", flat=True))
    if not plan_ids:
        return 0
    FollowupPlan.objects.filter(pk__in=plan_ids).update(status=status, reason=reason, closed_at=now)
    return FollowupTask.objects.filter(plan_id__in=plan_ids, status__in=OPEN_STATUSES).update(
        status=task_status, closed_at=now, outcome=reason,
    )


def withdraw_for_encounter(encounter: Any, *, discharge_only: bool = False) -> int:
    plans = FollowupPlan.objects.filter(encounter=encounter)
    if discharge_only:
        plans = plans.filter(template__trigger=Trigger.DISCHARGE)
    reason = REASON_DISCHARGE_CANCELLED if discharge_only else REASON_ENCOUNTER_CANCELLED
    n = _end_plans(plans, status=FollowupPlan.Status.WITHDRAWN, task_status=FollowupTask.Status.WITHDRAWN, reason=reason)
    if n:
        audit.record(actor=None, verb="followups.tasks_withdrawn", target=encounter, tasks=n, reason=reason)
    return n


def close_for_patient(patient: Any, *, reason: str = REASON_DECEASED) -> int:
    plans = FollowupPlan.objects.filter(patient=patient)
    n = _end_plans(plans, status=FollowupPlan.Status.CLOSED, task_status=FollowupTask.Status.CANCELLED, reason=reason)
    if n:
        audit.record(actor=None, verb="followups.plans_closed", target=patient, tasks=n, reason=reason)
    return n


def close_plan(plan: FollowupPlan, *, reason: str, actor: Any = None) -> int:
    n = _end_plans(FollowupPlan.objects.filter(pk=plan.pk), status=FollowupPlan.Status.CLOSED,
                   task_status=FollowupTask.Status.CANCELLED, reason=reason)
    audit.record(actor=actor, verb="followups.plan_closed", target=plan, tasks=n, reason=reason)
    return n


# --- the daily sweep --------------------------------------------------------------------------------


def _day_bounds(first: date, last: date) -> tuple[datetime, datetime]:
    tz = workcalendar._tz()
    return datetime.combine(first, time.min, tzinfo=tz), datetime.combine(last + timedelta(days=1), time.min, tzinfo=tz)


def candidate_ids(day: date, lookback_days: int) -> Iterator[int]:
    """Encounters whose trigger falls within ``lookback_days`` before ``day`` up to ``day``."""
    from caredesk.patients.models import Encounter

    start, end = _day_bounds(day - timedelta(days=lookback_days), day)
    qs = Encounter.objects.exclude(status=Encounter.Status.CANCELLED).filter(
        Q(kind=Encounter.Kind.INPATIENT, status=Encounter.Status.DISCHARGED, discharged_at__gte=start, discharged_at__lt=end)
        | Q(kind=Encounter.Kind.OUTPATIENT, visit_at__gte=start, visit_at__lt=end)
    )
    last = 0
    while True:
        chunk = list(qs.filter(pk__gt=last).order_by("pk").values_list("pk", flat=True)[:CHUNK])
        if not chunk:
            return
        yield from chunk
        last = chunk[-1]


def _chunks(ids: Iterator[int], size: int) -> Iterator[list[int]]:
    buf: list[int] = []
    for pk in ids:
        buf.append(pk)
        if len(buf) >= size:
            yield buf
            buf = []
    if buf:
        yield buf


def repair(day: date) -> dict[str, int]:
    """Withdraw plans whose encounter was cancelled and close plans of deceased patients, in case a
    hook was missed (a direct database fix, a crashed run)."""
    from caredesk.patients.models import Encounter

    now = timezone.now()
    active = FollowupPlan.objects.filter(status=FollowupPlan.Status.ACTIVE)
    cancelled = active.filter(encounter__status=Encounter.Status.CANCELLED)
    undischarged = active.filter(template__trigger=Trigger.DISCHARGE).exclude(encounter__status=Encounter.Status.DISCHARGED)
    deceased = active.filter(patient__is_deceased=True)
    counts = {}
    for name, qs, status, task_status, reason in (
        ("withdrawn_cancelled", cancelled, FollowupPlan.Status.WITHDRAWN, FollowupTask.Status.WITHDRAWN, REASON_ENCOUNTER_CANCELLED),
        ("withdrawn_undischarged", undischarged, FollowupPlan.Status.WITHDRAWN, FollowupTask.Status.WITHDRAWN,
         REASON_DISCHARGE_CANCELLED),
        ("closed_deceased", deceased, FollowupPlan.Status.CLOSED, FollowupTask.Status.CANCELLED, REASON_DECEASED),
    ):
        ids = list(qs.values_list("pk", flat=True))
        counts[name] = len(ids)
        if ids:
            FollowupPlan.objects.filter(pk__in=ids).update(status=status, reason=reason, closed_at=now)
            FollowupTask.objects.filter(plan_id__in=ids, status__in=OPEN_STATUSES).update(
                status=task_status, closed_at=now, outcome=reason,
            )
    return counts


def sweep(day: date | None = None, *, lookback_days: int | None = None, chunk_size: int = CHUNK,
          progress: Any = None) -> dict[str, Any]:
    """The daily run for ``day``: generate what the day's (and the last few days') encounters
    trigger, chunk by chunk, each chunk in its own transaction; repair; send SMS steps due."""
    day = day or timezone.localdate()
    lookback = int(_setting("FOLLOWUP_SWEEP_LOOKBACK_DAYS", 7) if lookback_days is None else lookback_days)
    templates = load_templates()
    total = Result()
    for chunk in _chunks(candidate_ids(day, lookback), chunk_size):
        with transaction.atomic():
            total.add(generate_for_encounters(chunk, today=day, templates=templates))
        if progress is not None:
            progress(total)
    with transaction.atomic():
        repaired = repair(day)
    from .actions import dispatch_messages

    sent = dispatch_messages(day)
    summary = {"day": day.isoformat(), "encounters": total.encounters, "plans_offered": total.plans_offered,
               "tasks_offered": total.tasks_offered, "skipped": total.skipped, "repaired": repaired, "messages": sent}
    audit.record(actor=None, verb="followups.sweep", object_type="followups.sweep", object_id=day.isoformat(),
                 details={k: v for k, v in summary.items() if k != "day"})
    log.info("followup sweep %s: %s encounters, %s tasks offered", day, total.encounters, total.tasks_offered)
    return summary


def is_phone_like(channel: str) -> bool:
    return channel in (Channel.PHONE, Channel.HOME_VISIT, Channel.WECHAT)


def generate_for_event(trigger: str, *, patient: Any, source_key: str, day: date, department_id: int | None = None,
                       encounter_id: int | None = None, today: date | None = None) -> Result:
    """Start the plans of a non-visit trigger — a complaint closed (``complaint:<id>``) or a
    negative survey answer (``response:<id>``) — for one patient. Idempotent per template and
    source, like the visit triggers; templates filter on the department (no diagnosis here)."""
    from types import SimpleNamespace

    result = Result()
    if patient.is_deceased or patient.do_not_contact or patient.merged_into_id:
        result.skip("not_contactable")
        return result
    event = SimpleNamespace(department_id=department_id, diagnosis_text="", diagnosis_code="")
    wanted = [tpl for tpl in load_templates([trigger]) if template_matches(tpl, event, patient, day)]
    if not wanted:
        return result
    insert_plans([(tpl.template.pk, patient.pk, encounter_id, source_key, day, department_id) for tpl in wanted])
    result.plans_offered = len(wanted)
    plans = {p.template_id: p for p in FollowupPlan.objects.filter(source_key=source_key,
                                                                   template_id__in=[t.template.pk for t in wanted])}
    blocked = _blocked_channels([patient.pk])
    earliest = _earliest_due(today or timezone.localdate())
    now = timezone.now()
    tasks: list[TaskRow] = []
    for tpl in wanted:
        plan = plans.get(tpl.template.pk)
        if plan is None or plan.status != FollowupPlan.Status.ACTIVE:
            continue
        steps = {s.order: s for s in tpl.steps}
        for occ in schedule(tpl.steps, plan.trigger_date):
            step = steps[int(occ.step_key.split(".")[0])]
            if (patient.pk, step.channel) in blocked or (earliest is not None and occ.due < earliest):
                continue
            tasks.append(TaskRow(plan.pk, step.pk, occ.step_key, patient.pk, encounter_id, department_id, occ.due,
                                 step.channel, tpl.template.priority, now))
    insert_tasks(tasks)
    result.tasks_offered = len(tasks)
    return result
