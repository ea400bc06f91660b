import base64
import hashlib
import hmac

import pytest
from cryptography.exceptions import InvalidTag
from django.core.exceptions import PermissionDenied
from django.test import override_settings
from hypothesis import given
from hypothesis import strategies as st

from caredesk.core import pii
from caredesk.core.logging import contains_pii, redact
from caredesk.core.models import AuditEvent

ID = "110105194912310021"
PHONE = "13812345678"


@given(st.text(max_size=200))
def test_encryption_round_trips_any_text(value):
    assert pii.decrypt(pii.encrypt(value)) == value


def test_ciphertext_differs_each_time_and_hides_the_value():
    a, b = pii.encrypt(ID), pii.encrypt(ID)
    assert a != b and ID not in a


def test_tampered_ciphertext_is_refused():
    token = pii.encrypt(PHONE)
    broken = token[:-4] + ("AAAA" if token[-4:] != "AAAA" else "BBBB")
    with pytest.raises(Exception):  # noqa: B017 - cryptography raises InvalidTag
        pii.decrypt(broken)


def test_blind_index_is_deterministic_normalised_and_keyed():
    assert pii.blind_index("phone", "138 1234 5678") == pii.blind_index("phone", "+86 13812345678")
    assert pii.blind_index("id_number", "11010519491231002x") == pii.blind_index("id_number", "11010519491231002X")
    assert pii.blind_index("phone", PHONE) != pii.blind_index("id_number", PHONE)
    assert PHONE not in pii.blind_index("phone", PHONE)
    assert pii.blind_index("phone", "") == ""


def test_blind_index_is_hmac_sha256_of_kind_and_value_under_the_index_key_cut_to_128_bits():
    expected = hmac.new(pii._index_key(), b"phone:13812345678", hashlib.sha256).hexdigest()[:32]
    assert pii.blind_index("phone", "138-1234-5678") == expected
    assert pii.blind_index("phone", "138-1234-5678") == expected  # the keyed state is not consumed
    other = base64.b64encode(b"\x01" * 32).decode()
    with override_settings(FIELD_ENCRYPTION_KEY=other):
        assert pii.blind_index("phone", "13812345678") == hmac.new(
            pii._index_key(), b"phone:13812345678", hashlib.sha256).hexdigest()[:32] != expected


@given(st.binary(min_size=0, max_size=150), st.text(max_size=80))
def test_the_precomputed_keyed_states_give_what_hmac_gives(key, value):
    """``_index_digest`` is HMAC-SHA256 from two SHA-256 states keyed once, for any key length
    (keys longer than a block are hashed first) and any value."""
    pii._index_states.cache_clear()
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(pii, "_keys", lambda _master: (b"", key))
            assert pii._index_digest("k", value.encode()) == hmac.new(key, value.encode(), hashlib.sha256).hexdigest()
    finally:
        pii._index_states.cache_clear()


@given(st.one_of(st.text(st.sampled_from("0123456789"), max_size=14),
                 st.text(st.sampled_from("0123456789０１²٣+- ()"), max_size=16)))
def test_phone_numbers_are_normalised_to_their_ascii_digits(value):
    """Plain ASCII digits skip the expression that removes everything else; same result for any text."""
    digits = "".join(c for c in pii.fold_width(value.strip()) if c in "0123456789")
    expected = digits[2:] if digits.startswith("86") and len(digits) == 13 else digits
    assert pii.normalise("phone", value) == expected


@pytest.mark.django_db
def test_blind_indexes_stored_at_full_length_are_cut_to_what_lookups_compute():
    """What the data migrations (patients 0009, complaints 0004, surveys 0003) do to values stored
    before: a patient stored with 64 digits is found again by identity number and mobile."""
    from caredesk.patients.actions import find_patient
    from caredesk.patients.data import PatientData
    from caredesk.patients.models import Patient

    full = {k: hmac.new(pii._index_key(), f"{k}:{v}".encode(), hashlib.sha256).hexdigest() for k, v in
            (("id_number", ID), ("phone", PHONE))}
    kept = Patient.objects.create(name="张三", id_number=ID, mobile=PHONE)
    Patient.objects.filter(pk=kept.pk).update(id_number_bidx=full["id_number"], mobile_bidx=full["phone"])
    empty = Patient.objects.create(name="李四")
    assert find_patient(PatientData(name="王五", id_number=ID)) is None  # not found while stored in full
    pii.shorten_blind_indexes(Patient, ("id_number_bidx", "mobile_bidx"), 32)
    kept.refresh_from_db()
    assert (kept.id_number_bidx, kept.mobile_bidx) == (full["id_number"][:32], full["phone"][:32])
    assert find_patient(PatientData(name="王五", id_number=ID)) == kept
    assert find_patient(PatientData(name="张三", mobile=PHONE)) == kept
    assert Patient.objects.get(pk=empty.pk).id_number_bidx == ""


def test_encrypted_field_stores_ciphertext_and_reads_clear_text():
    field = pii.EncryptedTextField()
    stored = field.get_prep_value(PHONE)
    assert stored.startswith("v1:") and PHONE not in stored
    assert field.from_db_value(stored, None, None) == PHONE
    assert field.get_prep_value("") == ""


def test_the_bulk_preparation_gives_what_get_prep_value_gives():
    from django.utils.translation import gettext_lazy

    field = pii.EncryptedTextField()
    bulk = field.bulk_prep()

    def opened(stored):  # a ciphertext differs each time: compare what it opens to
        return pii.decrypt(stored) if isinstance(stored, str) and stored.startswith("v1:") else ("clear", stored)

    sealed = pii.encrypt(PHONE)
    for value in (PHONE, "北京市朝阳区", " x ", "", None, 12345, gettext_lazy("北京"), sealed):
        assert opened(bulk(value)) == opened(field.get_prep_value(value)), value
    assert bulk(sealed) != sealed and opened(bulk(sealed)) == PHONE  # opened first, as to_python does


@pytest.mark.parametrize(
    ("masker", "value", "expected"),
    [
        (pii.mask_phone, "13812345678", "138****5678"),
        (pii.mask_id_number, "110105194912310021", "1101**********0021"),
        (pii.mask_name, "张三", "张*"),
        (pii.mask_name, "王小明", "王*明"),
        (pii.mask_name, "欧阳娜娜", "欧***"),
        (pii.mask_address, "北京市朝阳区建国路88号", "北京市朝阳区****"),
        (pii.mask_phone, "", ""),
    ],
)
def test_masking(masker, value, expected):
    assert masker(value) == expected


@pytest.mark.django_db
def test_reveal_needs_permission_and_purpose_and_is_audited(agent, supervisor):
    with pytest.raises(PermissionDenied):
        pii.reveal(agent, "username", acting_user=agent, purpose="核对身份")
    assert AuditEvent.objects.filter(verb="pii.reveal", result="denied", actor=agent).exists()
    with pytest.raises(PermissionDenied, match="用途"):
        pii.reveal(agent, "username", acting_user=supervisor, purpose=" ")
    assert pii.reveal(agent, "username", acting_user=supervisor, purpose="电话回访核对身份") == "xiaowang"
    event = AuditEvent.objects.filter(verb="pii.reveal", result="ok").get()
    assert event.actor == supervisor and event.purpose == "电话回访核对身份"
    assert event.details["field"] == "username"


def test_log_scanner_patterns_catch_id_and_mobile_numbers():
    assert contains_pii(f"patient {ID} called") and contains_pii(f"call {PHONE} back")
    assert not contains_pii("patient_id=12345 task=678901")
    assert "[ID-REDACTED]" in redact(f"id {ID}") and "[PHONE-REDACTED]" in redact(f"tel {PHONE}")


def test_the_suite_log_scan_finds_a_planted_hit(tmp_path):
    from conftest import scan_for_pii

    (tmp_path / "gw9.log").write_text(f"ok line\nleak {PHONE}\n", encoding="utf-8")
    hits = scan_for_pii(tmp_path)
    assert len(hits) == 1 and hits[0].startswith("gw9.log:2:")


def test_redacting_filter_masks_records(caplog):
    import logging

    from caredesk.core.logging import RedactPIIFilter

    record = logging.LogRecord("x", logging.INFO, __file__, 1, "tel %s", ("x",), None)
    record.args = ("1" + "3812345678",)
    RedactPIIFilter().filter(record)
    assert record.getMessage() == "tel [PHONE-REDACTED]"


def test_encryption_follows_a_changed_key_setting():
    """The field cipher is kept between values, and dropped when the setting changes."""
    sealed = pii.encrypt("北京市朝阳区")
    other = base64.b64encode(b"\x02" * 32).decode()
    with override_settings(FIELD_ENCRYPTION_KEY=other):
        with pytest.raises(InvalidTag):
            pii.decrypt(sealed)
        resealed = pii.encrypt("北京市朝阳区")
        assert pii.decrypt(resealed) == "北京市朝阳区"
    assert pii.decrypt(sealed) == "北京市朝阳区"
    with pytest.raises(InvalidTag):
        pii.decrypt(resealed)
