"""Survey settings with their defaults (override any of them in config/settings.py)."""

from __future__ import annotations

from typing import Any

from django.conf import settings

DEFAULTS: dict[str, Any] = {
    # At most one invitation per patient in this many days.
    "SURVEY_FATIGUE_DAYS": 30,
    # One reminder for an unanswered invitation this many days after the first message.
    "SURVEY_REMINDER_AFTER_DAYS": 3,
    "SURVEY_MAX_REMINDERS": 1,
    # Local hour (WORK_TIMEZONE) at which the day's invitations are sent.
    "SURVEY_SEND_HOUR": 10,
    # Absolute address the SMS links start with, e.g. "https://my.hospital.cn"; empty → path only.
    "SURVEY_PUBLIC_BASE_URL": "",
    "SURVEY_SEND_BATCH": 500,
    # Closed loop: which answers open a feedback item, and its deadline in working hours.
    "SURVEY_FEEDBACK_DIMENSION_MAX": 2.0,
    "SURVEY_FEEDBACK_RECOMMEND_MAX": 6,
    "SURVEY_FEEDBACK_NEGATIVE_TEXT": True,
    "SURVEY_FEEDBACK_HOURS": 24,
    # Anonymous QR answers: at most this many new responses per client address per hour.
    "SURVEY_QR_RATE_PER_HOUR": 20,
}


def get(name: str) -> Any:
    return getattr(settings, name, DEFAULTS[name])
