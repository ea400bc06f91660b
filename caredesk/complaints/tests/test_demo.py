import pytest
from django.core.management import call_command

from caredesk.complaints.models import Complaint

pytestmark = pytest.mark.django_db


def test_seed_demo_creates_complaints_once(capsys):
    call_command("seed_demo", "--patients", "0", "--complaints", "12", "--verbosity", "0")
    assert "complaints_created=12" in capsys.readouterr().out
    assert Complaint.objects.count() == 12
    assert Complaint.objects.exclude(status="registered").exists()
    call_command("seed_demo", "--patients", "0", "--complaints", "12", "--verbosity", "0")
    assert "complaints_created=0" in capsys.readouterr().out
    assert Complaint.objects.count() == 12
