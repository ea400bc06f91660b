"""Points where later modules (follow-up, surveys, inquiries) react to patient events. The actions
call these inside their transaction; add calls here, keep them plain functions (imports inside the
functions, so the patient archive does not import the modules at start-up)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .models import Encounter, Patient


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
# with a fixed number of queries.


def encounters_registered(encounters: list[Encounter]) -> None:
    from caredesk.followups.hooks import on_encounters
    from caredesk.surveys.distribution import create_invitations
    from caredesk.surveys.models import SurveyRule

    from .models import Encounter as EncounterModel

    if not encounters:
        return
    on_encounters(encounters)
    outpatient = [e for e in encounters if e.kind == EncounterModel.Kind.OUTPATIENT]
    if outpatient:
        create_invitations(outpatient, SurveyRule.Trigger.OUTPATIENT_VISIT)


def patients_discharged(encounters: list[Encounter]) -> None:
    from caredesk.followups.hooks import on_encounters
    from caredesk.surveys.distribution import create_invitations
    from caredesk.surveys.models import SurveyRule

    if not encounters:
        return
    on_encounters(encounters)
    create_invitations(encounters, SurveyRule.Trigger.DISCHARGE)


def patients_deceased(patients: list[Patient]) -> None:
    for patient in patients:
        patient_deceased(patient)
