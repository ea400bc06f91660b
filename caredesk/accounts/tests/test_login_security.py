from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.test import override_settings
from django.utils import timezone
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from caredesk.accounts.actions import change_password
from conftest import PASSWORD

pytestmark = pytest.mark.django_db

MLPS3_VALIDATORS = [
    *settings.AUTH_PASSWORD_VALIDATORS,
    {"NAME": "caredesk.accounts.passwords.ComplexityValidator"},
    {"NAME": "caredesk.accounts.passwords.HistoryValidator"},
]


def test_production_hasher_is_argon2():
    assert any("Argon2PasswordHasher" in h for h in settings.PASSWORD_HASHERS)
    from django.contrib.auth.hashers import make_password

    assert make_password("x" * 12, hasher="argon2").startswith("argon2")


def test_asvs_profile_asks_for_twelve_characters_and_no_composition(agent):
    with pytest.raises(ValidationError, match="至少需要 12 个字符"):
        validate_password("short-pw", agent)
    validate_password("lowercase only but long enough", agent)


@override_settings(AUTH_PASSWORD_VALIDATORS=MLPS3_VALIDATORS)
def test_mlps3_profile_wants_complexity_and_no_reuse_of_last_five(agent):
    with pytest.raises(ValidationError, match="三类"):
        validate_password("lowercase only but long enough", agent)
    passwords = [f"Rotation-{i}-Secret!" for i in range(6)]
    for pw in passwords:
        change_password(agent, pw, acting_user=agent)
    with pytest.raises(ValidationError, match="最近"):
        validate_password(passwords[-1], agent)  # current one
    with pytest.raises(ValidationError, match="最近"):
        validate_password(passwords[1], agent)  # four changes ago
    validate_password(passwords[0], agent)  # six ago: allowed again


@override_settings(AXES_FAILURE_LIMIT=5, AXES_COOLOFF_TIME=0.25)
def test_lockout_after_five_failures(client, agent):
    for _ in range(5):
        client.post("/accounts/login/", {"username": "xiaowang", "password": "wrong-password-123"})
    response = client.post("/accounts/login/", {"username": "xiaowang", "password": PASSWORD})
    assert response.status_code == 429
    assert "锁定" in response.content.decode()


def test_wrong_password_says_so_in_chinese(client, agent):
    response = client.post("/accounts/login/", {"username": "xiaowang", "password": "nope-nope-nope"})
    assert "用户名或密码不正确" in response.content.decode()


@override_settings(SESSION_IDLE_TIMEOUT_SECONDS=60)
def test_idle_session_is_logged_out(client, agent):
    client.post("/accounts/login/", {"username": "xiaowang", "password": PASSWORD})
    assert client.get("/").status_code == 200
    session = client.session
    session["last_activity"] = int((timezone.now() - timedelta(seconds=120)).timestamp())
    session.save()
    response = client.get("/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    from caredesk.core.models import AuditEvent

    assert AuditEvent.objects.filter(verb="auth.logout", details__reason="idle").exists()


@override_settings(SECURITY_PROFILE="mlps3")
def test_mlps3_requires_totp_enrolment_then_code(client, agent):
    client.post("/accounts/login/", {"username": "xiaowang", "password": PASSWORD})
    response = client.get("/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/otp/")
    page = client.get("/accounts/otp/").content.decode()
    assert "绑定动态验证码" in page
    device = TOTPDevice.objects.get(user=agent)
    bad = client.post("/accounts/otp/", {"token": "000000" if TOTP(device.bin_key).token() != 0 else "111111"})
    assert bad.status_code == 422 and "验证码不正确" in bad.content.decode()
    device.refresh_from_db()
    device.throttle_reset()  # a wrong code throttles the next try for a second; the test does not wait
    token = f"{TOTP(device.bin_key, step=device.step, digits=device.digits).token():06d}"
    response = client.post("/accounts/otp/", {"token": token, "next": "/"})
    assert response.status_code == 302
    device.refresh_from_db()
    assert device.confirmed
    assert client.get("/").status_code == 200


@override_settings(SECURITY_PROFILE="mlps3")
def test_mlps3_forces_password_change_after_ninety_days(client, agent):
    agent.password_changed_at = timezone.now() - timedelta(days=91)
    agent.save()
    device = TOTPDevice.objects.create(user=agent, name="d", confirmed=True)
    client.post("/accounts/login/", {"username": "xiaowang", "password": PASSWORD})
    token = f"{TOTP(device.bin_key).token():06d}"
    client.post("/accounts/otp/", {"token": token})
    response = client.get("/")
    assert response.status_code == 302 and response["Location"] == "/accounts/password/"
    new = "Brand-New-Secret-1"
    response = client.post("/accounts/password/", {"old_password": PASSWORD, "new_password1": new, "new_password2": new})
    assert response.status_code == 302
    assert client.get("/").status_code == 200


def test_password_form_errors_are_chinese(client, agent):
    client.force_login(agent)
    response = client.post("/accounts/password/", {"old_password": "wrong", "new_password1": "a", "new_password2": "b"})
    body = response.content.decode()
    assert response.status_code == 422
    assert "当前密码不正确" in body and "两次输入的新密码不一致" in body
