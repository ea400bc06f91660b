"""Points where later modules (follow-up, surveys, inquiries) react to patient events. The actions
call these inside their transaction; add calls here, keep them plain functions (imports inside the
functions, so the patient archive does not import the modules at start-up)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from django.db import transaction

if TYPE_CHECKING:
    from django.db.models import QuerySet

    from .models import Encounter, Patient

log = logging.getLogger(__name__)
_local = threading.local()


def encounter_registered(encounter: Encounter) -> None:
    """A new visit or admission was recorded."""
    encounters_registered([encounter])


def patient_discharged(encounter: Encounter) -> None:
    """An inpatient stay (or a visit) became discharged."""
    patients_discharged([encounter])


def patient_deceased(patient: Patient) -> None:
    """A patient was marked deceased: stop every contact."""
    from caredesk.followups.hooks import on_deceased
    from caredesk.surveys.distribution import on_patient_deceased

    on_deceased(patient)
    on_patient_deceased(patient)


def encounter_cancelled(encounter: Encounter) -> None:
    """A visit or admission was cancelled (HL7 A11)."""
    from caredesk.followups.hooks import on_encounter_cancelled
    from caredesk.surveys.distribution import on_visit_withdrawn

    on_encounter_cancelled(encounter)
    on_visit_withdrawn(encounter)


def discharge_cancelled(encounter: Encounter) -> None:
    """A discharge was cancelled (HL7 A13): the stay is active again."""
    from caredesk.followups.hooks import on_discharge_cancelled
    from caredesk.surveys.distribution import on_visit_withdrawn

    on_discharge_cancelled(encounter)
    on_visit_withdrawn(encounter)


# Batched variants, called by bulk intake paths (the visit file import) once per batch after the
# bulk write; the single-event hooks above go through them too. Each module plans a whole batch
# with a fixed number of queries. On a thread with a DeferredPlanning installed (the HL7
# listener's connections) they only note the encounters, and the batch is planned later.


def encounters_registered(encounters: list[Encounter]) -> None:
    encounters_recorded(encounters, [])


def patients_discharged(encounters: list[Encounter]) -> None:
    encounters_recorded([], encounters)


def encounters_recorded(registered: list[Encounter], discharged: list[Encounter]) -> None:
    """A batch's new encounters and the encounters that became discharged, planned in one pass: the
    effect of ``encounters_registered(registered)`` then ``patients_discharged(discharged)``, but a
    stay both new and discharged (most of a discharge list's rows) is planned once, not twice."""
    if not registered and not discharged:
        return
    buffer = getattr(_local, "planning", None)
    if buffer is not None:
        buffer.add(registered=registered, discharged=discharged)
        return
    _plan(registered, discharged)


# a module's bound when it plans nothing from any encounter (no follow-up template, no survey rule)
NO_INTEREST = datetime.max.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Horizon:
    """The oldest event times any module can still plan from: ``visit`` bounds an outpatient visit's
    time, ``discharge`` a discharge's. None: no limit."""

    visit: datetime | None
    discharge: datetime | None


def _earlier(a: datetime | None, b: datetime | None) -> datetime | None:
    return None if a is None or b is None else min(a, b)


def planning_horizon() -> Horizon | None:
    """How old an outpatient visit or a discharge may be for any module planning from
    ``encounters_recorded`` (follow-up plans, survey invitations) to still act on it; None: no
    limit. A bulk path (the visit file import) leaves out of its calls the encounters that
    ``may_matter`` says are older, instead of building them only to have every module drop them;
    both import paths do, so they still call the hooks alike. Visits and discharges have bounds of
    their own: a discharge starts plans that run for months, a visit only a call the next days. A
    module added to ``_plan`` adds its own bounds here (or None)."""
    from caredesk.followups.generate import oldest_plannable
    from caredesk.surveys.distribution import oldest_invitable

    followups, surveys = oldest_plannable(), oldest_invitable()
    horizon = Horizon(visit=_earlier(followups.visit, surveys.visit), discharge=_earlier(followups.discharge, surveys.discharge))
    return None if horizon.visit is None and horizon.discharge is None else horizon


def may_matter(kind: str, visit_at: datetime | None, discharged_at: datetime | None, horizon: Horizon | None) -> bool:
    """A new encounter of this kind with these times may still be planned from (``planning_horizon``):
    a discharge by its discharge time, an outpatient visit by its visit time. A stay that is not
    discharged plans nothing (follow-ups and invitations start at the discharge)."""
    if horizon is None:
        return True
    if discharged_at is not None and discharge_may_matter(discharged_at, horizon):
        return True
    if kind == "inpatient":
        return False
    return visit_at is None or horizon.visit is None or visit_at >= horizon.visit


def discharge_may_matter(discharged_at: datetime | None, horizon: Horizon | None) -> bool:
    """A discharge may still be planned from: for a discharge, only its own time counts."""
    if horizon is None or horizon.discharge is None or discharged_at is None:
        return True
    return discharged_at >= horizon.discharge


def patients_deceased(patients: list[Patient]) -> None:
    buffer = getattr(_local, "planning", None)
    if buffer is not None and buffer.deceased is not None:
        buffer.deceased.update(p.pk for p in patients)
    for patient in patients:
        patient_deceased(patient)


def _plan(registered: list[Encounter], discharged: list[Encounter]) -> None:
    from caredesk.followups.hooks import on_encounters
    from caredesk.surveys.distribution import create_invitations
    from caredesk.surveys.models import SurveyRule

    from .models import Encounter as EncounterModel

    # the follow-up centre reads the triggers from each encounter's state: one call for both lists
    on_encounters(list({e.pk: e for e in [*registered, *discharged]}.values()))
    outpatient = [e for e in registered if e.kind == EncounterModel.Kind.OUTPATIENT]
    if outpatient:
        create_invitations(outpatient, SurveyRule.Trigger.OUTPATIENT_VISIT)
    if discharged:
        create_invitations(discharged, SurveyRule.Trigger.DISCHARGE)


def _planning_encounters() -> QuerySet[Encounter]:
    """Encounters with their patients, as much as planning reads (the follow-up centre and the survey
    invitations): the rest of the patient, its identity fields above all, is neither read nor
    decrypted. A test checks that planning reads nothing else (it would cost a query per row)."""
    from caredesk.followups.generate import PLANNING_FIELDS, PLANNING_PATIENT_FIELDS
    from caredesk.surveys.distribution import ELIGIBILITY_FIELDS, INVITATION_FIELDS

    from .models import Encounter as EncounterModel

    patient_fields = dict.fromkeys([*PLANNING_PATIENT_FIELDS, *(f for f in ELIGIBILITY_FIELDS if f != "id")])
    return EncounterModel.objects.select_related("patient").only(
        *dict.fromkeys([*PLANNING_FIELDS, *INVITATION_FIELDS]), *(f"patient__{f}" for f in patient_fields))


class DeferredPlanning:
    """Planning (follow-up plans and tasks, survey invitations) for a stream of single events,
    collected and done in batches — the HL7 listener's way of keeping a feed fast: planning one
    encounter costs about as much as planning a few hundred.

    While installed on a thread (``install``), the registration and discharge hooks only note the
    encounter ids. ``flush`` plans them in one transaction from a fresh read of the encounters and
    their patients, so whatever happened in between (a cancelled visit, a withdrawn discharge, a
    death) is respected. If the process dies before a flush, the daily sweeps (follow-ups 06:30,
    survey invitations 09:05) plan what was missed."""

    def __init__(self, max_size: int = 500, max_age: float = 1.0) -> None:
        self.max_size, self.max_age = max_size, max_age
        self.registered: dict[int, None] = {}
        self.discharged: dict[int, None] = {}
        self.since: float | None = None
        self.deceased: set[int] | None = None  # patients who died meanwhile, when the owner asks for them

    def install(self) -> None:
        _local.planning = self

    @staticmethod
    def uninstall() -> None:
        _local.planning = None

    def add(self, *, registered: Sequence[Encounter] = (), discharged: Sequence[Encounter] = ()) -> None:
        self.registered.update((e.pk, None) for e in registered)
        self.discharged.update((e.pk, None) for e in discharged)
        if self.since is None:
            self.since = time.monotonic()

    def __len__(self) -> int:
        return len(self.registered) + len(self.discharged)

    def due(self) -> bool:
        return len(self) >= self.max_size or (self.since is not None and time.monotonic() - self.since >= self.max_age)

    def take(self) -> tuple[list[int], list[int]]:
        """The ids noted so far (registered, discharged), and a fresh start."""
        registered, discharged = list(self.registered), list(self.discharged)
        self.registered, self.discharged, self.since = {}, {}, None
        return registered, discharged

    def flush(self) -> int:
        """Plan everything noted so far; returns how many encounters were planned. A failure is
        logged and left to the sweeps (the feed itself is never blocked by planning)."""
        registered, discharged = self.take()
        if not registered and not discharged:
            return 0
        try:
            with transaction.atomic():
                rows = _planning_encounters().in_bulk(set(registered) | set(discharged))
                _plan([rows[pk] for pk in registered if pk in rows], [rows[pk] for pk in discharged if pk in rows])
        except Exception as exc:  # the next sweep plans these encounters
            log.error("deferred planning failed for %d encounters error=%s", len(registered) + len(discharged),
                      type(exc).__name__)
            return 0
        return len(registered) + len(discharged)


_INHERITED: list[object] = []  # a forked child's copies of the parent's connections: kept, never closed


def _own_connections() -> None:
    """In a forked child: new database connections of its own. The parent's stay referenced and are
    never closed here (closing one would end the parent's session on the shared socket)."""
    from django.db import connections

    for conn in connections.all(initialized_only=True):
        _INHERITED.append(conn)
        del connections[conn.alias]


def _plan_in_child(messages: Iterable[tuple[list[int], list[int]]]) -> int:
    from django.db import connections

    _own_connections()
    planned = 0
    try:
        for registered, discharged in messages:
            batch = DeferredPlanning()
            batch.registered, batch.discharged = dict.fromkeys(registered), dict.fromkeys(discharged)
            planned += batch.flush()
    finally:
        connections.close_all()  # its own, opened above
    return planned


class PlanningProcess:
    """Planning for a bulk import, done by a forked child process with its own database connection
    while the import goes on with its next rows: planning is about a fifth of the importer's work.

    While it runs, the hooks on this thread only note the encounter ids (a ``DeferredPlanning``).
    ``committed`` hands the ids of the transaction just committed to the child, which plans them
    from a fresh read in its own transaction, as the HL7 listener's batches are planned (deaths are
    not deferred: they close plans at once, and the fresh read skips a patient who died). ``finish``
    waits for the child and returns how many encounters it planned. Only where another connection
    sees what this one committed and can write beside it: PostgreSQL, outside a transaction."""

    def __init__(self, *, nice: int = 0, idle: bool = False) -> None:
        from caredesk.core import forkpipe

        self.notes = DeferredPlanning()
        self.notes.deceased = set()
        self.worker = forkpipe.Worker(_plan_in_child, name="caredesk-planning", nice=nice, idle=idle)
        self.notes.install()

    @staticmethod
    def possible() -> bool:
        from django.db import connection

        from caredesk.core import forkpipe

        return connection.vendor == "postgresql" and not connection.in_atomic_block and forkpipe.available()

    def committed(self) -> None:
        registered, discharged = self.notes.take()
        if registered or discharged:
            self.worker.send((registered, discharged))

    def finish(self) -> int:
        """Wait for the child. Then the patients who died during the run are closed again: the child
        may have planned one of their visits from a read taken just before the death was committed."""
        from .models import Patient

        DeferredPlanning.uninstall()
        planned = int(self.worker.finish())
        if self.notes.deceased:
            with transaction.atomic():
                patients_deceased(list(Patient.objects.filter(pk__in=self.notes.deceased).order_by("id")))
        return planned
