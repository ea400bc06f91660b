"""Praise (表扬信 / 锦旗): registering it, and counting it per person and per department.

``register_praise`` is the one write path (atomic, audited). ``praise_counts`` is what the monthly
bulletin and, later, the staff-quality module read: praise received in a period, per person and per
department.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from caredesk.core import audit, pii

from .actions import next_case_no
from .models import Channel
from .models_extra import Praise


@transaction.atomic
def register_praise(
    *,
    channel: str,
    kind: str,
    department: Any,
    content: str,
    received_at: datetime | None = None,
    staff_user: Any = None,
    staff_doctor: Any = None,
    staff_name: str = "",
    praiser_name: str = "",
    praiser_phone: str = "",
    acting_user: Any,
) -> Praise:
    """Record one praise. A named doctor or staff account also fills the free-text name, so the
    count per person works for people who have no account."""
    if channel not in Channel.values:
        raise ValueError(f"unknown channel {channel!r}")
    if kind not in Praise.Kind.values:
        raise ValueError(f"unknown kind {kind!r}")
    if not content.strip():
        raise ValueError("content is empty")
    if staff_doctor is not None and not staff_name:
        staff_name = staff_doctor.name
    if staff_user is not None and not staff_name:
        staff_name = staff_user.display_name or staff_user.username
    received = received_at or timezone.now()
    praise = Praise.objects.create(
        ref_no=next_case_no(received, prefix="BY"),
        channel=channel,
        kind=kind,
        department=department,
        staff_user=staff_user,
        staff_doctor=staff_doctor,
        staff_name=staff_name.strip(),
        content=content.strip(),
        praiser_name=praiser_name.strip(),
        praiser_phone=praiser_phone.strip(),
        praiser_phone_bidx=pii.blind_index("phone", praiser_phone) if praiser_phone.strip() else "",
        received_at=received,
        registered_by=acting_user if getattr(acting_user, "pk", None) else None,
    )
    audit.record(
        actor=acting_user, verb="praise.registered", target=praise, channel=channel, kind=kind,
        department_id=department.pk, actor_label="" if getattr(acting_user, "pk", None) else "patient-h5",
    )
    return praise


@dataclass(frozen=True)
class PersonCount:
    staff_user_id: int | None
    doctor_id: int | None
    name: str
    department_id: int
    department_name: str
    count: int
    banners: int
    letters: int


@dataclass(frozen=True)
class DepartmentCount:
    department_id: int
    department_name: str
    count: int
    banners: int
    letters: int


@dataclass(frozen=True)
class PraiseCounts:
    total: int
    by_person: list[PersonCount]
    by_department: list[DepartmentCount]


def praise_in_period(start: datetime, end: datetime, department: Any = None) -> QuerySet[Praise]:
    """Praise received in [start, end); ``department`` (a Department, an id, or a set of ids)
    narrows it, a Department including the departments below it."""
    qs = Praise.objects.filter(received_at__gte=start, received_at__lt=end)
    if department is None:
        return qs
    if isinstance(department, set | frozenset | list | tuple):
        return qs.filter(department_id__in=department)
    if hasattr(department, "descendant_ids"):
        return qs.filter(department_id__in=department.descendant_ids())
    return qs.filter(department_id=department)


def praise_counts(start: datetime, end: datetime, department: Any = None) -> PraiseCounts:
    """Praise per person and per department in [start, end), most praised first. Two queries.

    A person is a staff account, a doctor, or (for people without either) the name as written."""
    qs = praise_in_period(start, end, department)
    n, banners, letters = Count("id"), Count("id", filter=Q(kind=Praise.Kind.BANNER)), Count("id", filter=Q(kind=Praise.Kind.LETTER))
    people = (
        qs.exclude(staff_user__isnull=True, staff_doctor__isnull=True, staff_name="")
        .values("staff_user_id", "staff_doctor_id", "staff_name", "department_id", "department__name")
        .annotate(n=n, banners=banners, letters=letters)
        .order_by("-n", "staff_name")
    )
    merged: dict[tuple, dict[str, Any]] = {}
    for row in people:
        # one person, however their name was written: the account or the doctor is the key
        key = (
            ("u", row["staff_user_id"]) if row["staff_user_id"]
            else ("d", row["staff_doctor_id"]) if row["staff_doctor_id"]
            else ("n", row["staff_name"], row["department_id"])
        )
        bucket = merged.setdefault(key, {**row, "n": 0, "banners": 0, "letters": 0})
        for k in ("n", "banners", "letters"):
            bucket[k] += row[k]
    by_person = sorted(
        (PersonCount(
            staff_user_id=r["staff_user_id"], doctor_id=r["staff_doctor_id"], name=r["staff_name"],
            department_id=r["department_id"], department_name=r["department__name"],
            count=r["n"], banners=r["banners"], letters=r["letters"],
        ) for r in merged.values()),
        key=lambda p: (-p.count, p.name),
    )
    by_department = [
        DepartmentCount(
            department_id=r["department_id"], department_name=r["department__name"],
            count=r["n"], banners=r["banners"], letters=r["letters"],
        )
        for r in qs.values("department_id", "department__name").annotate(n=n, banners=banners, letters=letters)
        .order_by("-n", "department__name")
    ]
    return PraiseCounts(total=sum(d.count for d in by_department), by_person=by_person, by_department=by_department)
