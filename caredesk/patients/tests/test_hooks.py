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


def test_no_plan_or_invitation_comes_from_an_encounter_older_than_the_planning_horizon() -> None:
    """A bulk import leaves out of its hook calls the encounters older than ``planning_horizon``:
    the bound must be safe. Visits and discharges every few days over two years go through the
    follow-up planning and both invitation rules; every encounter that got a plan or an invitation
    must be one ``may_matter`` keeps, and the horizon must actually leave some out."""
    from datetime import timedelta

    from django.utils import timezone

    from caredesk.followups.generate import generate_for_encounters, oldest_plannable
    from caredesk.followups.models import FollowupPlan
    from caredesk.patients.models import Encounter
    from caredesk.patients.tests.factories import make_patient
    from caredesk.questionnaires.actions import create_from_spec
    from caredesk.surveys.distribution import create_invitations, oldest_invitable
    from caredesk.surveys.models import Invitation, SurveyRule
    from caredesk.surveys.tests.specs import SPEC

    questionnaire = create_from_spec(SPEC).questionnaire
    SurveyRule.objects.create(name="门诊次日", trigger="outpatient_visit", offset_days=1, questionnaire=questionnaire)
    SurveyRule.objects.create(name="出院三天", trigger="discharge", offset_days=3, valid_days=10, questionnaire=questionnaire)
    patient = make_patient("王五", mobile="13800138000")
    now = timezone.now()
    made = []
    for n, days in enumerate(range(0, 730, 3)):
        at = now - timedelta(days=days, hours=n % 24)
        made += [Encounter(patient=patient, kind="outpatient", source_system="T", source_id=f"o{n}", visit_at=at),
                 Encounter(patient=patient, kind="inpatient", source_system="T", source_id=f"i{n}", status="discharged",
                           visit_at=at - timedelta(days=5), admitted_at=at - timedelta(days=5), discharged_at=at)]
    encounters = Encounter.objects.bulk_create(made)
    for e in encounters:
        e.patient = patient
    visits = [e for e in encounters if e.kind == "outpatient"]
    stays = [e for e in encounters if e.kind == "inpatient"]

    generate_for_encounters(encounters)
    create_invitations(visits, SurveyRule.Trigger.OUTPATIENT_VISIT)
    create_invitations(stays, SurveyRule.Trigger.DISCHARGE)

    by_pk = {e.pk: e for e in encounters}
    planned = {by_pk[pk] for pk in FollowupPlan.objects.values_list("encounter_id", flat=True)}
    invited = {by_pk[pk] for pk in Invitation.objects.values_list("encounter_id", flat=True)}
    assert planned and invited  # the test plans something
    horizon = hooks.planning_horizon()
    followups, surveys = oldest_plannable(), oldest_invitable()
    assert horizon == hooks.Horizon(visit=min(followups.visit, surveys.visit), discharge=min(followups.discharge, surveys.discharge))
    for bound, got in ((followups, planned), (surveys, invited), (horizon, planned | invited)):
        assert all(hooks.may_matter(e.kind, e.visit_at, e.discharged_at, bound) for e in got)
    # some are left out, and visits sooner than discharges (a discharge plans calls for months)
    kept = [e for e in encounters if hooks.may_matter(e.kind, e.visit_at, e.discharged_at, horizon)]
    assert len(kept) < len(encounters)
    assert any(e.kind == "inpatient" for e in kept) and any(e.kind == "outpatient" for e in kept)
    oldest_visit = min(e.visit_at for e in kept if e.kind == "outpatient")
    oldest_discharge = min(e.discharged_at for e in kept if e.kind == "inpatient")
    assert oldest_discharge < oldest_visit - timedelta(days=60)


def test_an_admission_not_yet_discharged_plans_nothing_however_recent() -> None:
    from datetime import timedelta

    from django.utils import timezone

    horizon = hooks.Horizon(visit=timezone.now() - timedelta(days=30), discharge=timezone.now() - timedelta(days=400))
    recent, old = timezone.now() - timedelta(days=1), timezone.now() - timedelta(days=100)
    assert not hooks.may_matter("inpatient", recent, None, horizon)
    assert hooks.may_matter("inpatient", old, recent, horizon)
    assert hooks.may_matter("outpatient", recent, None, horizon)
    assert not hooks.may_matter("outpatient", old, None, horizon)
    assert hooks.may_matter("outpatient", None, None, horizon)  # an invitation then counts from the record's creation
    assert hooks.may_matter("inpatient", None, None, None)


def test_without_a_backfill_limit_nothing_is_left_out(settings: Any) -> None:
    from datetime import UTC, datetime

    from caredesk.followups import generate

    settings.FOLLOWUP_BACKFILL_DAYS = None
    assert generate._earliest_due(datetime(2026, 1, 1, tzinfo=UTC).date()) is None
    assert hooks.planning_horizon() is None
    assert hooks.may_matter("outpatient", datetime(2000, 1, 1, tzinfo=UTC), None, None)
