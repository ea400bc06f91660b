"""Patient-search benchmark on SQLite: bulk-creates N patients (default 1,000,000) in
var/bench_patients.sqlite3 and measures the p95 server time of exact lookups (ID number, mobile),
fuzzy searches (name, pinyin, initials, last four digits: the list page) and the patient page.

    .venv/bin/python bench/patient_search.py [--patients N] [--samples 40] [--reuse]

Limits: exact lookup 20 ms, search page 100 ms, patient page 150 ms. Data is synthetic; the
database file is separate from the development one."""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DB = ROOT / "var" / "bench_patients.sqlite3"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--patients", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=40)
    parser.add_argument("--reuse", action="store_true", help="keep an existing database of the right size")
    args = parser.parse_args()
    DB.parent.mkdir(exist_ok=True)
    if not args.reuse and DB.exists():
        DB.unlink()
    os.environ["DATABASE_URL"] = f"sqlite:///{DB}"
    os.environ.setdefault("DEBUG", "1")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from caredesk.patients.models import Patient

    call_command("migrate", verbosity=0)
    with connection.cursor() as cur:
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=OFF")
    have = Patient.objects.count()
    if have < args.patients:
        t0 = time.perf_counter()
        build(have, args.patients)
        print(f"created {args.patients - have} patients in {time.perf_counter() - t0:.0f} s")
    with connection.cursor() as cur:
        cur.execute("ANALYZE")
    measure(args.patients, args.samples)


def build(start: int, total: int) -> None:
    from caredesk.accounts.demo import SURNAMES
    from caredesk.accounts.models import Department
    from caredesk.core import pii
    from caredesk.patients.demo import GIVEN_CHARS, MOBILE_PREFIXES, REGIONS, _id_number
    from caredesk.patients.models import Encounter, Patient, name_to_pinyin

    dept, _ = Department.objects.get_or_create(code="BENCH", defaults={"name": "基准科室"})
    rng = random.Random(7)
    pinyin_cache: dict[str, tuple[str, str]] = {}
    now = datetime(2026, 11, 1, tzinfo=UTC)
    batch: list[Patient] = []
    for n in range(start, total):
        sex = "M" if n % 2 else "F"
        born = date(1940, 1, 1) + timedelta(days=rng.randrange(0, 365 * 80))
        region, city, streets = REGIONS[n % len(REGIONS)]
        name = rng.choice(SURNAMES) + rng.choice(GIVEN_CHARS) + (rng.choice(GIVEN_CHARS) if rng.random() < 0.75 else "")
        if name not in pinyin_cache:
            pinyin_cache[name] = name_to_pinyin(name)
        mobile = MOBILE_PREFIXES[n % len(MOBILE_PREFIXES)] + f"{n:08d}"
        id_number = _id_number(rng, region, born, sex)
        p = Patient(
            name=name, sex=sex, birth_date=born, id_number=id_number, mobile=mobile,
            address=f"{city}{streets[0]}{n % 300}号", outpatient_no=f"MZ{n:09d}",
            last_visit_at=now - timedelta(minutes=n), visit_count=1,
        )
        p.name_pinyin, p.name_initials = pinyin_cache[name]
        p.id_number_bidx = pii.blind_index("id_number", id_number)
        p.mobile_bidx = pii.blind_index("phone", mobile)
        p.mobile_last4 = mobile[-4:]
        batch.append(p)
        if len(batch) == 5000:
            Patient.objects.bulk_create(batch)
            batch = []
    if batch:
        Patient.objects.bulk_create(batch)
    # one patient with a long history: the page must not slow down with it
    first = Patient.objects.order_by("id").first()
    Encounter.objects.bulk_create(
        [
            Encounter(patient=first, kind="outpatient", source_system="BENCH", source_id=str(i), department=dept,
                      visit_at=now - timedelta(days=i))
            for i in range(1000)
        ]
    )


def p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20)[-1] if len(samples) >= 2 else samples[0]


def measure(total: int, samples: int) -> None:
    from django.contrib.auth import get_user_model
    from django.test import RequestFactory

    from caredesk.patients import views
    from caredesk.patients.models import Patient

    user, _ = get_user_model().objects.get_or_create(username="bench", defaults={"is_superuser": True})
    factory = RequestFactory()
    rng = random.Random(11)
    ids = [rng.randrange(1, total + 1) for _ in range(samples)]
    rows = {p.pk: p for p in Patient.objects.filter(pk__in=ids)}
    picks = [rows[i] for i in ids if i in rows]

    def timed(fn) -> list[float]:  # type: ignore[no-untyped-def]
        out = []
        for p in picks:
            t0 = time.perf_counter()
            fn(p)
            out.append((time.perf_counter() - t0) * 1000)
        return out

    def list_page(q: str) -> None:
        request = factory.get("/patients/", {"q": q})
        request.user = user
        request.htmx = False  # type: ignore[attr-defined]
        views.patient_list(request)

    def detail(p: Patient) -> None:
        request = factory.get(f"/patients/{p.pk}/")
        request.user = user
        request.htmx = False  # type: ignore[attr-defined]
        views.patient_detail(request, p.pk)

    first = Patient.objects.order_by("id").first()
    if first is None:
        raise SystemExit("no patients")
    results = [
        ("exact lookup by ID number", 20, timed(lambda p: list(Patient.objects.search(p.id_number)[:25]))),
        ("exact lookup by mobile", 20, timed(lambda p: list(Patient.objects.search(p.mobile)[:25]))),
        ("search page: name contains", 100, timed(lambda p: list_page(p.name))),
        ("search page: full pinyin", 100, timed(lambda p: list_page(p.name_pinyin))),
        ("search page: initials", 100, timed(lambda p: list_page(p.name_initials))),
        ("search page: mobile last four", 100, timed(lambda p: list_page(p.mobile_last4))),
        ("patient page", 150, timed(lambda p: detail(p))),
        ("patient page, 1000 encounters", 150, timed(lambda p: detail(first))),
    ]
    print(f"patients: {total:,} (SQLite), samples per figure: {len(picks)}")
    failed = False
    for label, limit, values in results:
        value = p95(values)
        ok = value <= limit
        failed |= not ok
        print(f"{label:<34} p95 {value:8.1f} ms   limit {limit:4d} ms   {'ok' if ok else 'OVER'}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
