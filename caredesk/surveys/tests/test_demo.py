from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.django_db


def test_seed_surveys_is_idempotent_and_varied(org: Any, monkeypatch: Any) -> None:
    from caredesk.accounts.demo import seed_organisation
    from caredesk.patients.demo import seed_patients
    from caredesk.surveys import actions
    from caredesk.surveys.demo import seed_surveys
    from caredesk.surveys.models import FeedbackItem, Invitation, SurveyRule

    monkeypatch.setattr(actions, "negative_texts", lambda texts: [("失望" in t or "很差" in t, 0.2) for t in texts])
    seed_organisation(seed=1)
    seed_patients(30, seed=1)
    first = seed_surveys(seed=1, answered=20)
    assert first["invitations"] == 20 and 10 <= first["responses"] <= 15 and first["feedback_items"] >= 1
    assert SurveyRule.objects.count() == 2
    again = seed_surveys(seed=1, answered=20)
    assert again == {"invitations": 0, "responses": 0, "feedback_items": 0}
    assert Invitation.objects.count() == 20 and FeedbackItem.objects.count() == first["feedback_items"]
    scores = set(Invitation.objects.filter(status="answered").values_list("response__recommend", flat=True))
    assert len(scores) > 3
