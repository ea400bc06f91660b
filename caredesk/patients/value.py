"""Value analysis (价值分析): RFM scoring, the 80/20 key group, drifting patients and segments.

Everything is computed with aggregate queries over the queryset the caller passes in (already
scoped with ``Patient.objects.visible_to(user)``); the number of queries does not depend on the
number of patients, and no patient rows are loaded into Python.

* Recency  = ``last_visit_at``; Frequency = ``visit_count``;
* Value    = ``visit_count + (INPATIENT_WEIGHT - 1) * inpatient stays``. The archive has no
  revenue column, so an inpatient stay (which brings far more work and revenue than an outpatient
  visit) counts as ``INPATIENT_WEIGHT`` visits. See docs/decisions.md.

Each of R, F and M is scored 1..5 by quintile cut points (read with five ``OFFSET`` queries per
metric), so a score is a plain ``CASE`` expression usable in ``filter`` and ``GROUP BY``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db.models import (
    Case,
    Count,
    Exists,
    ExpressionWrapper,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

INPATIENT_WEIGHT = 3
KEY_SHARE = 0.8
DEFAULT_DRIFT_MONTHS = 6
MAX_DRIFT_MONTHS = 120

# RFM bands (the classic four-way split of high/low recency × high/low frequency-and-value).
BANDS: dict[str, Any] = {
    "key_value": _("重要价值"),
    "key_retain": _("重要保持"),
    "key_develop": _("重要发展"),
    "general": _("一般"),
}
FILTER_KEYS = ("department", "customer_type", "vip", "band", "drifting", "months", "key_group", "tag")


# --- pure helpers -------------------------------------------------------------------------------


def quintile_positions(n: int) -> list[int]:
    """0-based row positions of the 20/40/60/80 % cut points in an ascending list of n values."""
    if n <= 0:
        return []
    return [min(n - 1, (n * k) // 5) for k in range(1, 5)]


def score_for(value: float, cuts: list[float]) -> int:
    """1..5: how many cut points the value reaches, plus one (mirror of ``score_expression``)."""
    return 1 + sum(1 for c in cuts if value >= c)


def band_for(r: int, f: int, m: int) -> str:
    recent = r >= 3
    valuable = (f + m) >= 6
    if recent and valuable:
        return "key_value"
    if valuable:
        return "key_retain"
    if recent:
        return "key_develop"
    return "general"


def pareto(groups: list[tuple[int, int]], share: float = KEY_SHARE) -> dict[str, Any]:
    """From (visit_count, patients) groups, the Pareto curve and the key-group threshold.

    Patients are ranked by visits, most first. The key group is every patient whose visit count is
    at least the count of the patient at which the cumulative visit share reaches ``share`` (ties
    are kept together so that the group is a stable filter ``visit_count >= threshold``).
    """
    groups = sorted(((v, n) for v, n in groups if v > 0 and n > 0), reverse=True)
    total_visits = sum(v * n for v, n in groups)
    total_patients = sum(n for _v, n in groups)
    points: list[dict[str, float]] = [{"x": 0.0, "y": 0.0}]
    threshold: int | None = None
    key_patients = key_visits = 0
    cum_p = cum_v = 0
    for v, n in groups:
        cum_p += n
        cum_v += v * n
        points.append({"x": round(100 * cum_p / total_patients, 2), "y": round(100 * cum_v / total_visits, 2)})
        if threshold is None:
            key_patients, key_visits = cum_p, cum_v
            if cum_v >= share * total_visits:
                threshold = v
    return {
        "points": points,
        "threshold": threshold,
        "key_patients": key_patients,
        "key_visits": key_visits,
        "total_patients": total_patients,
        "total_visits": total_visits,
        "key_patient_share": round(100 * key_patients / total_patients, 1) if total_patients else 0.0,
        "key_visit_share": round(100 * key_visits / total_visits, 1) if total_visits else 0.0,
    }


def clean_filters(raw: Any) -> tuple[dict[str, Any], list[str]]:
    """Normalise page/segment filters; returns (filters, errors in Chinese). Unknown keys dropped."""
    errors: list[str] = []
    out: dict[str, Any] = {}
    get = raw.get if hasattr(raw, "get") else (lambda k, d=None: d)
    for key in ("department", "tag", "vip"):
        value = str(get(key, "") or "").strip()
        if value:
            if not value.isdigit():
                errors.append(str(_("“%(field)s”必须是数字编号。") % {"field": key}))
            else:
                out[key] = int(value)
    ctype = str(get("customer_type", "") or "").strip()
    if ctype:
        from .models import Patient

        if ctype not in Patient.CustomerType.values:
            errors.append(str(_("客户类型“%(value)s”无效。") % {"value": ctype}))
        else:
            out["customer_type"] = ctype
    band = str(get("band", "") or "").strip()
    if band:
        if band not in BANDS:
            errors.append(str(_("价值分群“%(value)s”无效。") % {"value": band}))
        else:
            out["band"] = band
    months_raw = str(get("months", "") or "").strip()
    months = DEFAULT_DRIFT_MONTHS
    if months_raw:
        if not months_raw.isdigit() or not 1 <= int(months_raw) <= MAX_DRIFT_MONTHS:
            errors.append(str(_("流失月数必须是 1 到 %(max)s 之间的整数。") % {"max": MAX_DRIFT_MONTHS}))
        else:
            months = int(months_raw)
    out["months"] = months
    for flag in ("drifting", "key_group"):
        if str(get(flag, "") or "").strip().lower() in ("1", "true", "on", "yes"):
            out[flag] = True
    return out, errors


# --- query helpers ------------------------------------------------------------------------------


def _inpatient_count() -> Any:
    from .models import Encounter

    sub = (
        Encounter.objects.filter(patient=OuterRef("pk"), kind=Encounter.Kind.INPATIENT)
        .exclude(status=Encounter.Status.CANCELLED)
        .order_by()
        .values("patient")
        .annotate(c=Count("pk"))
        .values("c")
    )
    return Coalesce(Subquery(sub, output_field=IntegerField()), Value(0))


def with_value(qs: QuerySet[Any]) -> QuerySet[Any]:
    """Annotate ``value_score`` = visits + (weight - 1) × inpatient stays."""
    return qs.annotate(
        value_score=ExpressionWrapper(
            F("visit_count") + Value(INPATIENT_WEIGHT - 1) * _inpatient_count(), output_field=IntegerField()
        )
    )


def _cuts(qs: QuerySet[Any], field_name: str, n: int) -> list[Any]:
    ordered = qs.exclude(**{f"{field_name}__isnull": True}).order_by(field_name).values_list(field_name, flat=True)
    return [ordered[pos] for pos in quintile_positions(n)]


def cuts_from_histogram(histogram: list[tuple[Any, int]]) -> list[Any]:
    """Quintile cut points from (value, count) pairs: the value at each 20 % position."""
    rows = sorted((v, c) for v, c in histogram if v is not None and c > 0)
    positions = quintile_positions(sum(c for _v, c in rows))
    cuts: list[Any] = []
    seen = 0
    i = 0
    for v, c in rows:
        seen += c
        while i < len(positions) and positions[i] < seen:
            cuts.append(v)
            i += 1
    return cuts


def _histogram_cuts(qs: QuerySet[Any], field_name: str) -> list[Any]:
    """Cut points of a low-cardinality integer column in one ``GROUP BY`` query."""
    rows = qs.order_by().values(field_name).annotate(c=Count("pk")).values_list(field_name, "c")
    return cuts_from_histogram(list(rows))


def _score_expr(field_name: str, cuts: list[Any]) -> Any:
    if not cuts:
        return Value(1)
    whens = [When(**{f"{field_name}__gte": c}, then=Value(i + 2)) for i, c in reversed(list(enumerate(cuts)))]
    return Case(*whens, default=Value(1), output_field=IntegerField())


@dataclass
class Scoring:
    """Quintile cut points of a population; ``annotate`` adds r/f/m scores and ``band``."""

    r_cuts: list[Any] = field(default_factory=list)
    f_cuts: list[Any] = field(default_factory=list)
    m_cuts: list[Any] = field(default_factory=list)

    @classmethod
    def of(cls, population: QuerySet[Any]) -> Scoring:
        base = with_value(population.filter(visit_count__gt=0))
        n = base.count()
        return cls(
            r_cuts=_cuts(base, "last_visit_at", n),
            f_cuts=_histogram_cuts(base, "visit_count"),
            m_cuts=_histogram_cuts(base, "value_score"),
        )

    def annotate(self, qs: QuerySet[Any]) -> QuerySet[Any]:
        qs = with_value(qs).annotate(
            r_score=Case(
                When(last_visit_at__isnull=True, then=Value(1)),
                default=_score_expr("last_visit_at", self.r_cuts),
                output_field=IntegerField(),
            ),
            f_score=_score_expr("visit_count", self.f_cuts),
            m_score=_score_expr("value_score", self.m_cuts),
        )
        recent = Q(r_score__gte=3)
        valuable = Q(fm__gte=6)
        qs = qs.annotate(fm=ExpressionWrapper(F("f_score") + F("m_score"), output_field=IntegerField()))
        return qs.annotate(
            band=Case(
                When(recent & valuable, then=Value("key_value")),
                When(valuable, then=Value("key_retain")),
                When(recent, then=Value("key_develop")),
                default=Value("general"),
            )
        )


def drift_cutoff(months: int, now: datetime | None = None) -> datetime:
    return (now or timezone.now()) - timedelta(days=round(months * 30.44))


def drifting_q(months: int, now: datetime | None = None) -> Q:
    return Q(visit_count__gte=2, last_visit_at__lt=drift_cutoff(months, now))


def pareto_of(qs: QuerySet[Any]) -> dict[str, Any]:
    groups = list(
        qs.filter(visit_count__gt=0).order_by().values("visit_count").annotate(n=Count("pk")).values_list("visit_count", "n")
    )
    return pareto(groups)


def apply_filters(
    population: QuerySet[Any], filters: dict[str, Any], now: datetime | None = None, scoring: Scoring | None = None
) -> QuerySet[Any]:
    """The patients of ``population`` matching the filters (the segment definition).

    RFM bands and the key group are relative to ``population`` (the user's visible patients)."""
    from .models import Encounter

    qs = population
    if filters.get("department"):
        qs = qs.filter(
            Exists(Encounter.objects.filter(patient=OuterRef("pk"), department_id=filters["department"]))
        )
    if filters.get("customer_type"):
        qs = qs.filter(customer_type=filters["customer_type"])
    if filters.get("vip"):
        qs = qs.filter(vip_level__gte=filters["vip"])
    if filters.get("tag"):
        qs = qs.filter(tags__id=filters["tag"])
    if filters.get("drifting"):
        qs = qs.filter(drifting_q(int(filters.get("months") or DEFAULT_DRIFT_MONTHS), now))
    if filters.get("key_group"):
        threshold = pareto_of(population)["threshold"]
        qs = qs.filter(visit_count__gte=threshold) if threshold is not None else qs.none()
    if filters.get("band"):
        banded = (scoring or Scoring.of(population)).annotate(population.order_by()).filter(band=filters["band"])
        qs = qs.filter(pk__in=banded.values("pk"))
    return qs


def summary(
    population: QuerySet[Any], filters: dict[str, Any], now: datetime | None = None, scoring: Scoring | None = None
) -> dict[str, Any]:
    """The figures of the value page for ``population`` (scoped) narrowed by ``filters``."""
    months = int(filters.get("months") or DEFAULT_DRIFT_MONTHS)
    scoring = scoring or Scoring.of(population)
    selected = apply_filters(population, filters, now, scoring)
    totals = selected.aggregate(
        patients=Count("pk"),
        visits=Coalesce(Sum("visit_count"), 0),
        drifting=Count("pk", filter=drifting_q(months, now)),
    )
    band_rows = dict(
        scoring.annotate(selected.order_by()).values("band").annotate(n=Count("pk")).values_list("band", "n")
    )
    bands = [{"code": code, "label": str(label), "count": band_rows.get(code, 0)} for code, label in BANDS.items()]
    curve = pareto_of(selected)
    return {
        "totals": totals,
        "bands": bands,
        "pareto": curve,
        "months": months,
        "cuts": {"r": scoring.r_cuts, "f": scoring.f_cuts, "m": scoring.m_cuts},
    }


def top_patients(
    population: QuerySet[Any], filters: dict[str, Any], limit: int = 20, now: datetime | None = None,
    scoring: Scoring | None = None,
) -> QuerySet[Any]:
    """The first ``limit`` matching patients by visits (for the table under the charts)."""
    scoring = scoring or Scoring.of(population)
    qs = scoring.annotate(apply_filters(population, filters, now, scoring))
    return qs.order_by("-visit_count", "-last_visit_at", "pk")[:limit]


def segment_patients(segment: Any, user: Any = None, now: datetime | None = None) -> QuerySet[Any]:
    """The patients of a saved segment: its filters applied to what ``user`` may see (every active
    patient when ``user`` is None, e.g. a system job building a target list)."""
    from .models import Patient

    population = Patient.objects.visible_to(user).active() if user is not None else Patient.objects.active()
    filters, _errors = clean_filters({k: ("1" if v is True else v) for k, v in (segment.criteria or {}).items()})
    return apply_filters(population, filters, now)
