"""Likely duplicate patients, found set-based: one ``GROUP BY … HAVING COUNT(*) > 1`` per rule over
the blind-index and record-number columns, then one query for the records of the groups found.
Nothing is compared pairwise in Python; the page shows at most ``limit`` groups per rule."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.utils.translation import gettext_lazy as _

# rule code -> (label, grouping columns)
RULES: dict[str, tuple[Any, tuple[str, ...]]] = {
    "id_number": (_("身份证号相同"), ("id_number_bidx",)),
    "mobile_name": (_("手机号和姓名相同"), ("mobile_bidx", "name")),
    "outpatient_no": (_("门诊号相同"), ("outpatient_no",)),
    "inpatient_no": (_("住院号相同"), ("inpatient_no",)),
}


@dataclass
class Candidate:
    """A pair of likely duplicates: ``first`` is the older record (the usual survivor)."""

    first: Any
    second: Any
    reasons: list[str]


def duplicate_groups(qs: QuerySet[Any], limit: int = 200) -> dict[str, list[tuple[Any, ...]]]:
    """For each rule, the key tuples shared by more than one record (``limit`` per rule)."""
    found: dict[str, list[tuple[Any, ...]]] = {}
    for code, (_label, columns) in RULES.items():
        nonblank = Q()
        for col in columns:
            nonblank &= ~Q(**{col: ""}) & Q(**{f"{col}__isnull": False})
        rows = (
            qs.filter(nonblank)
            .order_by()
            .values(*columns)
            .annotate(n=Count("pk"))
            .filter(n__gt=1)
            .order_by(*columns)
            .values_list(*columns)[:limit]
        )
        found[code] = [tuple(r) for r in rows]
    return found


def candidate_pairs(qs: QuerySet[Any], limit: int = 200) -> list[Candidate]:
    """Pairs of likely duplicates with every reason that links them, oldest pair first.

    Each group of n records yields n-1 pairs (the oldest record with each of the others)."""
    groups = duplicate_groups(qs, limit)
    match = Q()
    for code, keys in groups.items():
        columns = RULES[code][1]
        for key in keys:
            match |= Q(**dict(zip(columns, key, strict=True)))
    if not any(groups.values()):
        return []
    members = list(qs.filter(match).order_by("pk"))
    by_key: dict[tuple[str, tuple[Any, ...]], list[Any]] = {}
    wanted = {code: set(keys) for code, keys in groups.items()}
    for patient in members:
        for code, (_label, columns) in RULES.items():
            key = tuple(getattr(patient, c) for c in columns)
            if key in wanted[code]:
                by_key.setdefault((code, key), []).append(patient)
    pairs: dict[tuple[int, int], Candidate] = {}
    for (code, _key), patients in by_key.items():
        oldest = patients[0]
        for other in patients[1:]:
            ident = (oldest.pk, other.pk)
            cand = pairs.setdefault(ident, Candidate(first=oldest, second=other, reasons=[]))
            label = str(RULES[code][0])
            if label not in cand.reasons:
                cand.reasons.append(label)
    return [pairs[k] for k in sorted(pairs)][:limit]
