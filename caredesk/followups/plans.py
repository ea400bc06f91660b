"""Plan schedules (pure date arithmetic) and the shipped default templates.

A step's nominal date is the trigger date plus ``offset`` calendar days (rolled forward to the next
working day when it falls on a weekend or holiday; 调休 weekend days are working days) or plus
``offset`` working days. A repeating step then recurs every ``repeat_every_months`` calendar months
after that nominal date, as long as the recurrence falls within ``repeat_until_months`` months of
the trigger; each recurrence is rolled forward the same way. Step keys: ``"<order>"`` for a single
step, ``"<order>.<k>"`` for the k-th recurrence (k ≥ 1).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from django.db import transaction

from caredesk.core import workcalendar

from .models import Channel, PlanStep, PlanTemplate


def add_months(d: date, months: int) -> date:
    """Calendar months later; the day is clamped to the month's end (31 Jan + 1 month = 28/29 Feb)."""
    month0 = d.month - 1 + months
    year, month = d.year + month0 // 12, month0 % 12 + 1
    return date(year, month, min(d.day, calendar.monthrange(year, month)[1]))


@dataclass(frozen=True)
class Occurrence:
    step_key: str
    nominal: date
    due: date


def step_occurrences(step: PlanStep, trigger: date) -> list[Occurrence]:
    if step.unit == PlanStep.Unit.WORKING_DAYS:
        nominal = workcalendar.add_working_days(trigger, step.offset)
    else:
        nominal = trigger + timedelta(days=step.offset)
    if not step.repeat_every_months:
        return [Occurrence(str(step.order), nominal, workcalendar.roll_forward(nominal))]
    end = add_months(trigger, step.repeat_until_months or 0)
    out: list[Occurrence] = []
    k = 1
    while True:
        when = add_months(nominal, step.repeat_every_months * k)
        if when > end:
            return out
        out.append(Occurrence(f"{step.order}.{k}", when, workcalendar.roll_forward(when)))
        k += 1


def schedule(steps: list[PlanStep], trigger: date) -> list[Occurrence]:
    out: list[Occurrence] = []
    for step in sorted(steps, key=lambda s: s.order):
        out.extend(step_occurrences(step, trigger))
    return out


# --- shipped defaults ------------------------------------------------------------------------------

DISCHARGE = "discharge"
FIRST_VISIT = "first_visit"
NEXT_DAY = "next_day"

_DISCHARGE_SCRIPT = "您好，这里是医院客户服务中心。您出院已经一段时间了，想了解一下您恢复得怎么样，有没有需要我们帮忙的地方？"
_FIRST_SCRIPT = "您好，这里是医院客户服务中心。感谢您昨天来院就诊，想请您花一分钟谈谈这次就诊的感受。"
_NEXT_DAY_SCRIPT = "您好，这里是医院客户服务中心。想问一下您昨天就诊后感觉如何，用药和复诊安排清楚吗？"

DEFAULTS: list[dict[str, Any]] = [
    {
        "code": DISCHARGE, "name": "出院随访", "trigger": PlanTemplate.Trigger.DISCHARGE, "priority": 20,
        "stop_when_cured": True,
        "steps": [
            (1, "出院第1周", 7, None, None), (2, "出院第3周", 21, None, None), (3, "出院第6周", 42, None, None),
            (4, "出院第10周", 70, None, None), (5, "每3个月", 70, 3, 12),
        ],
        "questionnaire": "followup-discharge", "script": _DISCHARGE_SCRIPT,
    },
    {
        "code": FIRST_VISIT, "name": "初诊首次回访", "trigger": PlanTemplate.Trigger.FIRST_OUTPATIENT, "priority": 10,
        "steps": [(1, "初诊次日", 1, None, None)], "unit": PlanStep.Unit.WORKING_DAYS,
        "questionnaire": "followup-outpatient", "script": _FIRST_SCRIPT,
    },
    {
        "code": NEXT_DAY, "name": "次日回访", "trigger": PlanTemplate.Trigger.ANY_OUTPATIENT, "priority": 0,
        "steps": [(1, "就诊次日", 1, None, None)], "unit": PlanStep.Unit.WORKING_DAYS, "skip_when": FIRST_VISIT,
        "questionnaire": "followup-outpatient", "script": _NEXT_DAY_SCRIPT,
    },
]


@transaction.atomic
def ensure_default_plans() -> int:
    """Create the shipped templates that do not exist yet (by code). Existing templates — possibly
    edited by the hospital — are left alone. Returns the number created."""
    created = 0
    by_code: dict[str, PlanTemplate] = {}
    for spec in DEFAULTS:
        code = str(spec["code"])
        template = PlanTemplate.objects.filter(code=code).first()
        if template is None:
            template = PlanTemplate.objects.create(
                code=code, name=spec["name"], trigger=spec["trigger"], priority=spec["priority"],
                stop_when_cured=bool(spec.get("stop_when_cured", False)),
            )
            for order, label, offset, every, until in spec["steps"]:
                PlanStep.objects.create(
                    template=template, order=order, label=label, offset=offset,
                    unit=spec.get("unit", PlanStep.Unit.CALENDAR_DAYS),
                    repeat_every_months=every, repeat_until_months=until, channel=Channel.PHONE,
                    questionnaire_code=spec["questionnaire"], script=spec["script"],
                )
            created += 1
            if spec.get("skip_when") and spec["skip_when"] in by_code:
                template.skip_when = by_code[str(spec["skip_when"])]
                template.save(update_fields=["skip_when"])
        by_code[code] = template
    return created
