"""Countdown text for deadlines: "剩余 2天3小时" / "超时 5小时"."""

from __future__ import annotations

from datetime import datetime

from django import template
from django.utils import timezone

register = template.Library()


def _span(seconds: float) -> str:
    minutes = int(abs(seconds) // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days}天{hours}小时"
    if hours:
        return f"{hours}小时{mins}分"
    return f"{mins}分钟"


@register.filter
def countdown(due: datetime | None, now: datetime | None = None) -> str:
    if due is None:
        return ""
    now = now or timezone.now()
    seconds = (due - now).total_seconds()
    return f"剩余 {_span(seconds)}" if seconds > 0 else f"超时 {_span(seconds)}"
