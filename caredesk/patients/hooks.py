"""Points where later modules (follow-up, surveys, inquiries) react to patient events. The actions
call these inside their transaction; add calls here, keep them plain functions."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .models import Encounter, Patient


def encounter_registered(encounter: Encounter) -> None:
    """A new visit or admission was recorded."""


def patient_discharged(encounter: Encounter) -> None:
    """An inpatient stay (or a visit) became discharged."""


def patient_deceased(patient: Patient) -> None:
    """A patient was marked deceased: stop every contact."""


def encounter_cancelled(encounter: Encounter) -> None:
    """A visit or admission was cancelled (HL7 A11)."""


def discharge_cancelled(encounter: Encounter) -> None:
    """A discharge was cancelled (HL7 A13): the stay is active again."""
