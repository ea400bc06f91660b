"""Time the value-analysis figures and the duplicate search over N synthetic patients.

    DATABASE_URL=postgres://… python bench/value_bench.py 100000

Writes rows straight with bulk_create (names/ids are synthetic, never logged)."""

from __future__ import annotations

import os
import random
import sys
import time
from datetime import timedelta

import django

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

from caredesk.patients import value  # noqa: E402
from caredesk.patients.duplicates import candidate_pairs  # noqa: E402
from caredesk.patients.models import Encounter, Patient  # noqa: E402


def main(n: int) -> None:
    call_command("migrate", verbosity=0)
    rng = random.Random(7)
    now = timezone.now()
    if Patient.objects.count() < n:
        Encounter.objects.all().delete()
        Patient.objects.all().delete()
        batch = []
        for i in range(n):
            visits = min(60, int(rng.paretovariate(1.2)))
            batch.append(Patient(
                name=f"测{i}", outpatient_no=f"MZ{i if i % 500 else i - 1}", visit_count=visits,
                last_visit_at=now - timedelta(days=rng.randint(0, 900)),
            ))
        Patient.objects.bulk_create(batch, batch_size=5000)
        ids = list(Patient.objects.values_list("pk", flat=True)[: n // 5])
        enc = [Encounter(patient_id=pk, kind="inpatient", source_system="B", source_id=str(pk), visit_at=now) for pk in ids]
        Encounter.objects.bulk_create(enc, batch_size=5000)
    population = Patient.objects.active()
    narrow = {"band": "key_value", "key_group": True, "drifting": True, "months": 6}
    for label, fn in [
        ("value summary (no filter)", lambda: value.summary(population, {})),
        ("value summary (band+key+drifting)", lambda: value.summary(population, narrow)),
        ("duplicate candidates", lambda: candidate_pairs(population)),
    ]:
        with CaptureQueriesContext(connection) as ctx:
            t = time.perf_counter()
            fn()
            dt = time.perf_counter() - t
        print(f"{label}: {dt * 1000:.0f} ms, {len(ctx.captured_queries)} queries ({connection.vendor}, {n} patients)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100000)
