import pytest
from django.core.cache import cache

from caredesk.core import smscode
from caredesk.core.smscode import Result
from caredesk.messaging.models import OutboxMessage

pytestmark = pytest.mark.django_db

PHONE = "13800138000"


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()
    yield
    cache.clear()


def _last_code() -> str:
    return OutboxMessage.objects.filter(template="smscode").latest("pk").params["code"]


def test_issue_queues_one_sms_through_the_outbox_with_a_six_digit_code():
    smscode.issue("+86 138-0013-8000", purpose="t", ip="10.0.0.1")
    message = OutboxMessage.objects.get(template="smscode")
    assert message.channel == "sms" and message.recipient == PHONE
    assert len(message.params["code"]) == 6 and message.params["code"].isdigit()
    assert message.params["code"] in message.body


def test_the_code_is_stored_only_hashed_and_not_under_the_phone_number():
    smscode.issue(PHONE, purpose="t")
    code = _last_code()
    keys = list(cache._cache.keys())  # LocMemCache in tests
    assert keys and not any(PHONE in k for k in keys)
    assert not any(code in str(cache.get(k.split(":", 2)[-1])) for k in keys)


def test_the_right_code_verifies_once():
    smscode.issue(PHONE, purpose="t")
    code = _last_code()
    assert smscode.verify(PHONE, code, purpose="t") is Result.OK
    assert smscode.verify(PHONE, code, purpose="t") is Result.EXPIRED


def test_a_code_for_one_purpose_does_not_verify_another():
    smscode.issue(PHONE, purpose="complaint")
    assert smscode.verify(PHONE, _last_code(), purpose="lookup") is Result.EXPIRED


def test_wrong_codes_lock_the_code_after_the_maximum_attempts(settings):
    settings.SMSCODE_MAX_ATTEMPTS = 3
    smscode.issue(PHONE, purpose="t")
    code = _last_code()
    wrong = "000000" if code != "000000" else "111111"
    assert smscode.verify(PHONE, wrong, purpose="t") is Result.WRONG
    assert smscode.verify(PHONE, wrong, purpose="t") is Result.WRONG
    assert smscode.verify(PHONE, wrong, purpose="t") is Result.LOCKED
    assert smscode.verify(PHONE, code, purpose="t") is Result.LOCKED  # even the right one now


def test_a_second_code_within_the_resend_interval_is_refused():
    smscode.issue(PHONE, purpose="t")
    with pytest.raises(smscode.RateLimited) as exc:
        smscode.issue(PHONE, purpose="t")
    assert exc.value.retry_after == 60
    assert OutboxMessage.objects.filter(template="smscode").count() == 1


def test_the_hourly_limit_per_phone(settings):
    settings.SMSCODE_RESEND_SECONDS = 0
    settings.SMSCODE_PHONE_HOURLY_LIMIT = 2
    smscode.issue(PHONE, purpose="t", now=7200.0)
    cache.delete_many([k.split(":", 2)[-1] for k in cache._cache if k.endswith(":gap")])
    smscode.issue(PHONE, purpose="t", now=7200.0)
    cache.delete_many([k.split(":", 2)[-1] for k in cache._cache if k.endswith(":gap")])
    with pytest.raises(smscode.RateLimited, match="本小时"):
        smscode.issue(PHONE, purpose="t", now=7200.0)


def test_the_hourly_limit_per_client_address(settings):
    settings.SMSCODE_IP_HOURLY_LIMIT = 2
    smscode.issue("13800138001", purpose="t", ip="10.0.0.9")
    smscode.issue("13800138002", purpose="t", ip="10.0.0.9")
    with pytest.raises(smscode.RateLimited, match="当前网络"):
        smscode.issue("13800138003", purpose="t", ip="10.0.0.9")
    smscode.issue("13800138004", purpose="t", ip="10.0.0.10")  # another address is not affected


def test_invalid_numbers_are_refused_in_chinese():
    for bad in ["", "12345", "23800138000", "138001380001"]:
        with pytest.raises(smscode.InvalidPhone, match="手机号码"):
            smscode.issue(bad, purpose="t")
    assert smscode.verify("abc", "123456", purpose="t") is Result.EXPIRED


def test_verified_phone_is_kept_in_the_session_for_a_limited_time(settings):
    settings.SMSCODE_VERIFIED_TTL = 100
    session: dict = {}
    smscode.mark_verified(session, "138 0013 8000", purpose="t", now=1000.0)
    assert smscode.verified_phone(session, purpose="t", now=1050.0) == PHONE
    assert smscode.verified_phone(session, purpose="other", now=1050.0) is None
    assert smscode.verified_phone(session, purpose="t", now=1101.0) is None
    smscode.forget_verified(session, purpose="t")
    assert smscode.verified_phone(session, purpose="t", now=1050.0) is None
