"""For other modules: the one-click "转投诉" link from a call, a follow-up record or a survey answer.

    from caredesk.complaints.links import new_complaint_url
    url = new_complaint_url(record, channel="followup", content=answer_text, patient_id=record.patient_id)

The intake form opens pre-filled; registering the same source twice gives the same case
(``register_complaint`` is idempotent per source_type/source_id).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.db import models
from django.urls import reverse


def new_complaint_url(
    source: models.Model, *, channel: str, content: str = "", patient_id: int | None = None, department_code: str = "",
) -> str:
    params: dict[str, Any] = {"source_type": source._meta.label_lower, "source_id": source.pk, "channel": channel}
    if content:
        params["content"] = content[:2000]
    if patient_id:
        params["patient"] = patient_id
    if department_code:
        params["department"] = department_code
    return f"{reverse('complaints:new')}?{urlencode(params)}"
