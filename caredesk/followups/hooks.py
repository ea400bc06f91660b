"""What the follow-up centre does on patient events (called from caredesk.patients.hooks inside the
intake transaction). Generation is idempotent, so it does not matter which hook fires first or twice."""

from __future__ import annotations

from typing import Any

from . import generate


def on_encounter(encounter: Any) -> None:
    on_encounters([encounter])


def on_encounters(encounters: list[Any]) -> None:
    """A batch of new or discharged visits (one set of queries for the whole batch)."""
    generate.generate_for_encounters(encounters)


def on_encounter_cancelled(encounter: Any) -> None:
    generate.withdraw_for_encounter(encounter)


def on_discharge_cancelled(encounter: Any) -> None:
    generate.withdraw_for_encounter(encounter, discharge_only=True)


def on_deceased(patient: Any) -> None:
    generate.close_for_patient(patient)
