import pytest
from django.core.management import call_command

from caredesk.accounts.models import Doctor
from caredesk.core.scope import scope_to_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def doctors(org):
    return {
        "gk": Doctor.objects.create(name="骨科医生", department=org["gk"], staff_no="D1"),
        "nk": Doctor.objects.create(name="内科医生", department=org["nk"], staff_no="D2"),
    }


def test_dept_head_sees_own_department_and_those_below(dept_head, doctors):
    assert list(scope_to_user(Doctor.objects.all(), dept_head)) == [doctors["gk"]]


def test_supervisor_sees_every_department(supervisor, doctors):
    assert scope_to_user(Doctor.objects.all(), supervisor).count() == 2


def test_outsider_sees_only_own_department(outsider, doctors):
    assert list(scope_to_user(Doctor.objects.all(), outsider)) == [doctors["nk"]]


def test_anonymous_sees_nothing(doctors):
    from django.contrib.auth.models import AnonymousUser

    assert not scope_to_user(Doctor.objects.all(), AnonymousUser()).exists()


def test_roles_are_permission_sets(agent, quality, admin_user):
    assert agent.role_codes == ["agent"] and not agent.has_perm("accounts.view_audit")
    assert quality.has_perm("accounts.view_audit") and quality.has_perm("accounts.reveal_pii")
    assert admin_user.has_perm("accounts.manage_staff")


def test_seed_demo_is_deterministic_and_idempotent(capsys):
    call_command("seed_demo", "--seed", "7")
    names = sorted(Doctor.objects.values_list("staff_no", "name"))
    out = capsys.readouterr().out
    assert "staff_created=8" in out
    call_command("seed_demo", "--seed", "7")
    assert "doctors_created=0 staff_created=0" in capsys.readouterr().out
    assert sorted(Doctor.objects.values_list("staff_no", "name")) == names
    from caredesk.accounts.models import Department, User

    assert Department.objects.filter(code="WK-GK", parent__code="WK").exists()
    assert User.objects.get(username="depthead").role_codes == ["dept_head"]
