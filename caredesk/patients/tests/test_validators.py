from datetime import date

import pytest
from django.core.exceptions import ValidationError

from caredesk.patients.tests.factories import make_id_number
from caredesk.patients.validators import (
    id_number_birth_date,
    id_number_facts,
    id_number_sex,
    validate_id_number,
    validate_mobile,
)


def test_a_valid_id_number_is_normalised_to_upper_case():
    number = "11010519491231002X"  # the GB 11643 worked example
    assert validate_id_number(number.lower()) == number
    assert validate_id_number(" 110105 19491231002x ") == number


def test_the_birth_date_and_sex_come_from_the_id_number():
    assert id_number_birth_date("11010519491231002X") == date(1949, 12, 31)
    assert id_number_sex("11010519491231002X") == "F"
    assert id_number_sex(make_id_number(seq=123)) == "M"
    assert id_number_facts("11010519491231002X") == (date(1949, 12, 31), "F")
    with pytest.raises(ValidationError, match="校验位"):
        id_number_facts("110105194912310021")


def test_a_wrong_check_digit_is_rejected_in_chinese():
    good = make_id_number()
    bad = good[:17] + ("0" if good[17] != "0" else "1")
    with pytest.raises(ValidationError, match="校验位"):
        validate_id_number(bad)


def test_an_unknown_region_is_rejected():
    with pytest.raises(ValidationError, match="地区码"):
        validate_id_number(make_id_number(region="990101"))


def test_an_impossible_birth_date_is_rejected():
    first17 = "11010119800231123"
    from caredesk.patients.validators import id_check_char

    with pytest.raises(ValidationError, match="出生日期"):
        validate_id_number(first17 + id_check_char(first17))


def test_a_wrong_length_is_rejected():
    with pytest.raises(ValidationError, match="18位"):
        validate_id_number("1101011980")


def test_a_fifteen_digit_old_number_is_accepted():
    assert id_number_birth_date("110101800517123") == date(1980, 5, 17)


def test_mobile_numbers_lose_country_code_and_separators():
    assert validate_mobile("+86 138-0013-8000") == "13800138000"
    with pytest.raises(ValidationError, match="手机号"):
        validate_mobile("12345")


def test_a_birth_date_after_today_or_before_1880_is_refused() -> None:
    from datetime import timedelta

    from django.utils import timezone

    today = timezone.localdate()  # in the server's zone (Asia/Shanghai), whatever the system's
    assert validate_id_number(make_id_number(born=today)) == make_id_number(born=today)
    for born in (today + timedelta(days=1), today + timedelta(days=400), date(1879, 12, 31)):
        with pytest.raises(ValidationError) as exc:
            validate_id_number(make_id_number(born=born))
        assert exc.value.code == "id_date"


def test_the_check_character_follows_gb11643_for_every_weighted_position():
    from caredesk.patients.validators import ID_CHECK_CHARS, ID_WEIGHTS, id_check_char

    # the published example of GB 11643-1999 ends in X; then every digit at every position
    assert id_check_char("11010519491231002") == "X"
    for position in range(17):
        for digit in "0123456789":
            first17 = "34052419800101001"[:position] + digit + "34052419800101001"[position + 1:]
            expected = ID_CHECK_CHARS[sum(int(c) * w for c, w in zip(first17, ID_WEIGHTS, strict=True)) % 11]
            assert id_check_char(first17) == expected, first17
    assert id_check_char("00000000000000000") == "1"
    for bad in ("1101051949123100", "1101051949123100X", "11010519491231002 ", "１１０１０５１９４９１２３１００２",
                "1101051949123100a", "110105_9491231002", "+1101051949123100", " 1101051949123100"):
        with pytest.raises(ValueError, match="17 digits"):
            id_check_char(bad)


def test_full_width_digits_are_read_as_ascii_and_other_scripts_digits_are_refused():
    from caredesk.core import pii
    from caredesk.intake.visit_file import check_id_number
    from caredesk.patients.validators import validate_mobile

    full = "１１０１０５１９４９１２３１００２ｘ"  # an input method in full-width mode
    assert validate_id_number(full) == "11010519491231002X"
    assert check_id_number(full) == "11010519491231002X"
    assert pii.blind_index("id_number", full) == pii.blind_index("id_number", "11010519491231002X")
    assert validate_mobile("１３８ １２３４ ５６７８") == "13812345678"
    assert pii.blind_index("phone", "１３８１２３４５６７８") == pii.blind_index("phone", "13812345678")
    arabic = "".join(chr(0x0660 + int(c)) for c in "11010519491231002") + "X"  # digits, but not ours
    with pytest.raises(ValidationError, match="18位"):
        validate_id_number(arabic)
    with pytest.raises(ValueError, match="18位"):
        check_id_number(arabic)
    with pytest.raises(ValidationError):
        validate_mobile("".join(chr(0x0660 + int(c)) for c in "13812345678"))
