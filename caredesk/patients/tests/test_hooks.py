"""The batched hooks: a batch's new encounters and new discharges are planned in one pass."""

from __future__ import annotations

from typing import Any

import pytest

from caredesk.patients import hooks

pytestmark = pytest.mark.django_db


@pytest.fixture
def planned(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[Any]]:
    from caredesk.followups import hooks as followup_hooks
    from caredesk.surveys import distribution

    calls: dict[str, list[Any]] = {"followups": [], "invitations": []}
    monkeypatch.setattr(followup_hooks, "on_encounters", lambda es: calls["followups"].append(sorted(e.pk for e in es)))
    monkeypatch.setattr(distribution, "create_invitations",
                        lambda es, trigger: calls["invitations"].append((str(trigger), sorted(e.pk for e in es))))
    return calls


def encounter(pk: int, kind: str) -> Any:
    from caredesk.patients.models import Encounter

    return Encounter(pk=pk, kind=kind)


def test_a_stay_both_new_and_discharged_is_planned_once(planned: dict[str, list[Any]]) -> None:
    visit, stay, older_stay = encounter(1, "outpatient"), encounter(2, "inpatient"), encounter(3, "inpatient")
    hooks.encounters_recorded([visit, stay], [stay, older_stay])
    assert planned["followups"] == [[1, 2, 3]]  # one pass over the union
    assert planned["invitations"] == [("outpatient_visit", [1]), ("discharge", [2, 3])]


def test_the_separate_hooks_do_what_they_did(planned: dict[str, list[Any]]) -> None:
    hooks.encounters_registered([encounter(1, "outpatient")])
    hooks.patients_discharged([encounter(2, "inpatient")])
    hooks.encounters_recorded([], [])  # nothing to plan: nothing called
    assert planned["followups"] == [[1], [2]]
    assert planned["invitations"] == [("outpatient_visit", [1]), ("discharge", [2])]


def test_a_thread_with_deferred_planning_only_notes_them(planned: dict[str, list[Any]]) -> None:
    buffer = hooks.DeferredPlanning()
    buffer.install()
    try:
        hooks.encounters_recorded([encounter(1, "outpatient")], [encounter(2, "inpatient")])
    finally:
        buffer.uninstall()
    assert (list(buffer.registered), list(buffer.discharged)) == ([1], [2])
    assert planned["followups"] == []
