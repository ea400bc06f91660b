import pytest
from django.core.management import call_command

from caredesk.patients.models import Encounter, Patient
from caredesk.patients.validators import validate_id_number, validate_mobile

pytestmark = pytest.mark.django_db


def test_seed_demo_creates_valid_deterministic_patients_once():
    call_command("seed_demo", "--patients", "30", "--seed", "3", verbosity=0)
    patients = list(Patient.objects.order_by("outpatient_no"))
    assert len(patients) == 30
    for p in patients:
        assert validate_id_number(p.id_number) == p.id_number
        assert validate_mobile(p.mobile) == p.mobile
        assert p.name_pinyin and p.name_initials and p.mobile_last4 == p.mobile[-4:]
        assert p.visit_count == p.encounters.count() >= 1 and p.last_visit_at is not None
    assert Encounter.objects.filter(kind="inpatient", status="discharged").exists()
    assert not Encounter.objects.filter(department__isnull=True).exists()
    first = [(p.name, p.id_number, p.mobile) for p in patients]
    call_command("seed_demo", "--patients", "30", "--seed", "3", verbosity=0)
    assert Patient.objects.count() == 30 and Encounter.objects.count() == sum(p.visit_count for p in patients)
    Patient.objects.all().delete()
    call_command("seed_demo", "--patients", "30", "--seed", "3", verbosity=0)
    again = [(p.name, p.id_number, p.mobile) for p in Patient.objects.order_by("outpatient_no")]
    assert again == first
