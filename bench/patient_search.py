"""Patient-search benchmark on SQLite: bulk-creates N patients (default 1,000,000) in
var/bench_patients.sqlite3 and measures the p95 server time of exact lookups (ID number, mobile),
fuzzy searches (name, pinyin, initials, last four digits: the list page) and the patient page.

    .venv/bin/python bench/patient_search.py [--patients N] [--samples 40] [--reuse]
        [--db var/bench_patients_1m.sqlite3 | --database-url postgres://postgres@127.0.0.1:5432/caredesk_bench1m]

1,000,000 patients build in ~6 minutes on 2 loaded cores (see ``build`` for what is generated per
patient and what is reused).

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
    parser.add_argument("--db", default=str(DB), help="SQLite file (default var/bench_patients.sqlite3)")
    parser.add_argument("--database-url", help="e.g. postgres://postgres@127.0.0.1:5432/caredesk_bench1m "
                        "(an existing, empty or reusable database) instead of SQLite")
    args = parser.parse_args()
    if args.database_url:
        os.environ["DATABASE_URL"] = args.database_url
    else:
        db = Path(args.db)
        db.parent.mkdir(exist_ok=True)
        if not args.reuse and db.exists():
            db.unlink()
        os.environ["DATABASE_URL"] = f"sqlite:///{db}"
    os.environ.setdefault("DEBUG", "1")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from caredesk.patients.models import Patient

    call_command("migrate", verbosity=0)
    sqlite = connection.vendor == "sqlite"
    if sqlite:
        with connection.cursor() as cur:
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=OFF")
    have = Patient.objects.count()
    if have < args.patients:
        t0 = time.perf_counter()
        build(have, args.patients)
        print(f"created {args.patients - have} patients in {time.perf_counter() - t0:.0f} s")
    t0 = time.perf_counter()
    with connection.cursor() as cur:
        cur.execute("ANALYZE" if sqlite else "VACUUM ANALYZE")
    print(f"ANALYZE in {time.perf_counter() - t0:.0f} s")
    measure(args.patients, args.samples)


def build(start: int, total: int) -> None:
    """Bulk load: rows are generated in worker processes (one per core) and inserted with raw
    ``executemany`` in batches of 20,000 inside transactions.

    Per patient (distinct, realistic): name, name_pinyin, name_initials, id_number (AES-GCM,
    its own nonce), id_number_bidx, mobile (AES-GCM), mobile_bidx, mobile_last4, outpatient_no,
    sex, birth date, last visit. Reused from a pool of 1,000 pre-encrypted ciphertexts: the
    address only (no search reads it; the patient page decrypts and masks it like any other
    ciphertext of the same length). other_phones stays empty, as for most real patients."""
    from multiprocessing import get_context

    from django.db import connection, transaction

    from caredesk.accounts.models import Department
    from caredesk.patients.models import Encounter, Patient

    dept, _ = Department.objects.get_or_create(code="BENCH", defaults={"name": "基准科室"})
    now = datetime(2026, 11, 1, tzinfo=UTC)
    fields = [f for f in Patient._meta.concrete_fields if not f.primary_key]
    generated = list(GENERATED)
    template = {}
    for f in fields:
        if f.column in generated:
            continue
        default = timezone_now() if f.column in ("created_at", "updated_at") else f.get_default()
        template[f.column] = f.get_db_prep_save(default, connection) if f.column not in ENCRYPTED else default
    columns = generated + list(template)
    fixed = tuple(template.values())
    sql = "INSERT INTO patients_patient ({}) VALUES ({})".format(  # noqa: S608 - column names from the model
        ", ".join(connection.ops.quote_name(c) for c in columns), ", ".join(["%s"] * len(columns))
    )
    adapt_date, adapt_dt = connection.ops.adapt_datefield_value, connection.ops.adapt_datetimefield_value
    chunk = 20_000
    ranges = [(a, min(a + chunk, total)) for a in range(start, total, chunk)]
    done = start
    with get_context("fork").Pool(2) as pool:
        for rows in pool.imap(_make_rows, ranges):
            out = [(*r[:9], adapt_date(r[9]), adapt_dt(now - timedelta(minutes=r[10])), *r[11:], *fixed) for r in rows]
            with transaction.atomic(), connection.cursor() as cur:
                cur.executemany(sql, out)
            done += len(rows)
            if done % 100_000 == 0:
                print(f"  {done:,} patients", flush=True)
    # one patient with a long history: the page must not slow down with it
    first = Patient.objects.order_by("id").first()
    Encounter.objects.bulk_create(
        [
            Encounter(patient=first, kind="outpatient", source_system="BENCH", source_id=str(i), department=dept,
                      visit_at=now - timedelta(days=i))
            for i in range(1000)
        ]
    )


GENERATED = ("name", "name_pinyin", "name_initials", "id_number", "id_number_bidx", "mobile", "mobile_bidx",
             "mobile_last4", "outpatient_no", "birth_date", "last_visit_at", "sex", "address", "visit_count")
ENCRYPTED = ("id_number", "mobile", "other_phones", "address")


def timezone_now() -> datetime:
    from django.utils import timezone

    return timezone.now()


def _make_rows(bounds: tuple[int, int]) -> list[tuple]:  # type: ignore[type-arg]
    """Rows n in [a, b), deterministic per chunk (seeded by its start)."""
    from caredesk.accounts.demo import SURNAMES
    from caredesk.core import pii
    from caredesk.patients.demo import GIVEN_CHARS, MOBILE_PREFIXES, REGIONS, _id_number
    from caredesk.patients.pinyin import name_to_pinyin

    global _ADDRESSES
    if not _ADDRESSES:
        arng = random.Random(3)
        _ADDRESSES = [
            pii.encrypt(f"{city}{arng.choice(streets)}{arng.randrange(1, 300)}号{arng.randrange(1, 30)}栋")
            for _region, city, streets in (REGIONS[i % len(REGIONS)] for i in range(1000))
        ]
    a, b = bounds
    rng = random.Random(a)
    rows = []
    for n in range(a, b):
        sex = "M" if n % 2 else "F"
        born = date(1940, 1, 1) + timedelta(days=rng.randrange(0, 365 * 80))
        region = REGIONS[n % len(REGIONS)][0]
        name = rng.choice(SURNAMES) + rng.choice(GIVEN_CHARS) + (rng.choice(GIVEN_CHARS) if rng.random() < 0.75 else "")
        pinyin = _PINYIN.get(name)
        if pinyin is None:
            pinyin = _PINYIN[name] = name_to_pinyin(name)
        mobile = MOBILE_PREFIXES[n % len(MOBILE_PREFIXES)] + f"{rng.randrange(10**8):08d}"
        id_number = _id_number(rng, region, born, sex)
        rows.append((
            name, pinyin[0], pinyin[1], pii.encrypt(id_number), pii.blind_index("id_number", id_number),
            pii.encrypt(mobile), pii.blind_index("phone", mobile), mobile[-4:], f"MZ{n:09d}",
            born, n, sex, _ADDRESSES[n % len(_ADDRESSES)], 1,
        ))
    return rows


_ADDRESSES: list[str] = []
_PINYIN: dict[str, tuple[str, str]] = {}


def p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20)[-1] if len(samples) >= 2 else samples[0]


def measure(total: int, samples: int) -> None:
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import RequestFactory

    from caredesk.patients import views
    from caredesk.patients.models import Patient

    user, _ = get_user_model().objects.get_or_create(username="bench", defaults={"is_superuser": True})
    factory = RequestFactory()
    rng = random.Random(11)
    ids = [rng.randrange(1, total + 1) for _ in range(samples)]
    rows = {p.pk: p for p in Patient.objects.filter(pk__in=ids)}
    picks = [rows[i] for i in ids if i in rows]

    def timed(fn) -> tuple[list[float], list[float]]:  # type: ignore[no-untyped-def]
        """Wall and CPU milliseconds of ``fn`` per sample (CPU of this process: on SQLite that
        includes the database's work, on PostgreSQL the server's CPU is not in it)."""
        fn(picks[-1])  # warm-up (template loading, first-use imports), as in a running server; not counted
        wall, cpu = [], []
        for p in picks:
            t0, c0 = time.perf_counter(), time.process_time()
            fn(p)
            wall.append((time.perf_counter() - t0) * 1000)
            cpu.append((time.process_time() - c0) * 1000)
        return wall, cpu

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
        ("search page: name, given part", 100, timed(lambda p: list_page(p.name[1:]))),
        ("search page: name, one character", 100, timed(lambda p: list_page(p.name[-1]))),
        ("search page: full pinyin", 100, timed(lambda p: list_page(p.name_pinyin))),
        ("search page: initials", 100, timed(lambda p: list_page(p.name_initials))),
        ("search page: mobile last four", 100, timed(lambda p: list_page(p.mobile_last4))),
        ("patient page", 150, timed(lambda p: detail(p))),
        ("patient page, 1000 encounters", 150, timed(lambda p: detail(first))),
    ]
    print(f"patients: {total:,} ({connection.vendor}), samples per figure: {len(picks)}")
    failed = False
    print(f"load average {' '.join(Path('/proc/loadavg').read_text().split()[:3]) if Path('/proc/loadavg').exists() else '?'}")
    for label, limit, (wall, cpu) in results:
        value = p95(wall)
        ok = value <= limit
        failed |= not ok
        print(f"{label:<34} p95 {value:8.1f} ms (CPU {p95(cpu):6.1f} ms, median {statistics.median(wall):6.1f} ms)"
              f"   limit {limit:4d} ms   ratio {value / limit:5.2f}   {'ok' if ok else 'OVER'}")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
