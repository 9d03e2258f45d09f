"""Tests for crossbound.identifiers: the worked vectors of docs/scenarios.md section 6, edge cases, and
property tests that build valid numbers with an independent implementation of each check and then make
single-character substitutions."""

from __future__ import annotations

import datetime
import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crossbound.identifiers import (
    KINDS,
    IdCheck,
    check,
    gb11714_check_char,
    hkid_check_char,
    is_plausible_uscc,
    is_valid,
    lei_check_digits,
    luhn_check_digit,
    resident_id_check_char,
    uscc_check_char,
)

TODAY = datetime.date(2025, 6, 1)

# database=None: no .hypothesis directory in the tree.
PROPERTY = settings(max_examples=200, database=None, deadline=None)


# --------------------------------------------------------------------------------------------------
# Independent reference implementations (straight from the spec, used to generate valid values)
# --------------------------------------------------------------------------------------------------

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
ALNUM = string.digits + string.ascii_uppercase


def ref_uscc_check(body17: str) -> str:
    total = sum(USCC_ALPHABET.index(c) * pow(3, i, 31) for i, c in enumerate(body17))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def ref_ric_check(body17: str) -> str:
    total = sum(int(c) * pow(2, 17 - i, 11) for i, c in enumerate(body17))
    c = (12 - total % 11) % 11
    return "X" if c == 10 else str(c)


def hkid_value(c: str) -> int:
    return 36 if c == " " else int(c) if c.isdigit() else ord(c) - ord("A") + 10


def ref_hkid_check(prefix: str, digits: str) -> str:
    padded = prefix.rjust(2) + digits
    total = sum(hkid_value(c) * w for c, w in zip(padded, range(9, 1, -1), strict=True))
    c = (11 - total % 11) % 11
    return "A" if c == 10 else str(c)


def expand36(s: str) -> int:
    return int("".join(str(int(c, 36)) for c in s))


def ref_lei_check(body18: str) -> str:
    return f"{98 - expand36(body18 + '00') % 97:02d}"


def ref_iban_check(cc: str, bban: str) -> str:
    return f"{98 - expand36(bban + cc + '00') % 97:02d}"


def ref_luhn_check(payload: str) -> str:
    total = 0
    for i, c in enumerate(reversed(payload)):
        d = int(c)
        if i % 2 == 0:  # these become the even positions once the check digit is appended
            d = d * 2 - 9 if d * 2 > 9 else d * 2
        total += d
    return str((10 - total % 10) % 10)


def test_reference_implementations_agree_with_worked_examples() -> None:
    assert ref_uscc_check("91110000600037341") == "L"
    assert ref_ric_check("11010519491231002") == "X"
    assert ref_hkid_check("A", "123456") == "3"
    assert ref_hkid_check("AB", "987654") == "3"
    assert ref_lei_check("5493001KJTIIGC8Y1R") == "12"
    assert ref_iban_check("GB", "WEST12345698765432") == "82"
    assert ref_luhn_check("622600000000000") == "5"


# --------------------------------------------------------------------------------------------------
# Worked vectors (docs/scenarios.md section 6)
# --------------------------------------------------------------------------------------------------

# (kind, value, normalised, warnings)
VALID: list[tuple[str, str, str, tuple[str, ...]]] = [
    # 6.1 USCC
    ("uscc", "91110000600037341L", "91110000600037341L", ()),
    ("uscc", "91350100M000100Y43", "91350100M000100Y43", ()),
    ("uscc", "91440300123456788M", "91440300123456788M", ()),
    ("uscc", "12100000400000624D", "12100000400000624D", ()),
    ("uscc", "93440300876543210L", "93440300876543210L", ()),
    ("uscc", "91440300123456789Q", "91440300123456789Q", ("GB11714_CHECK",)),
    # letter registration authorities (N agriculture, Y other, A military): python-stdnum rejects these
    ("uscc", "N2440300MA5F12345H", "N2440300MA5F12345H", ()),
    ("uscc", "Y1440300MA5F12345C", "Y1440300MA5F12345C", ()),
    ("uscc", "A1440300MA5F123451", "A1440300MA5F123451", ()),
    ("uscc", "9111 0000 6000 3734 1l", "91110000600037341L", ()),
    # 6.2 resident ID / residence permit
    ("cn_resident_id", "11010519491231002X", "11010519491231002X", ()),
    ("cn_resident_id", "11010519491231002x", "11010519491231002X", ()),
    ("cn_resident_id", "440524188001010014", "440524188001010014", ()),
    ("cn_resident_id", "810000199001011230", "810000199001011230", ()),
    ("cn_resident_id", " 110105 19491231 002X ", "11010519491231002X", ()),
    # 6.3 HKID
    ("hkid", "A123456(3)", "A1234563", ()),
    ("hkid", "A1234563", "A1234563", ()),
    ("hkid", "a123456(3)", "A1234563", ()),
    ("hkid", "AB987654(3)", "AB9876543", ()),
    ("hkid", "Z683365(A)", "Z683365A", ()),
    ("hkid", "Z683365(a)", "Z683365A", ()),
    ("hkid", "E364912(5)", "E3649125", ()),
    ("hkid", "D288754(2)", "D2887542", ()),
    # 6.4 BRN
    ("hk_brn", "12345678", "12345678", ()),
    ("hk_brn", "C0012345", "C0012345", ()),
    ("hk_brn", "F0001234", "F0001234", ()),
    # 6.5 LEI
    ("lei", "5493001KJTIIGC8Y1R12", "5493001KJTIIGC8Y1R12", ()),
    ("lei", "254900HKCNSZDVP00122", "254900HKCNSZDVP00122", ()),
    ("lei", "3003000000000ABCDE87", "3003000000000ABCDE87", ()),
    ("lei", "506700GE1G29325QX363", "506700GE1G29325QX363", ()),
    ("lei", "5493001kjtiigc8y1r12", "5493001KJTIIGC8Y1R12", ()),
    # 6.6 BIC
    ("bic", "BKCHHKHHXXX", "BKCHHKHHXXX", ()),
    ("bic", "HSBCHKHHHKH", "HSBCHKHHHKH", ()),
    ("bic", "BKCHCNBJ", "BKCHCNBJ", ()),
    ("bic", "ICBKCNBJ", "ICBKCNBJ", ()),
    ("bic", "BEASHKHH", "BEASHKHH", ()),
    ("bic", "bkchhkhh", "BKCHHKHH", ()),
    ("bic", "BKCHHKH0", "BKCHHKH0", ("TEST_BIC",)),
    ("bic", "BKCHHK20XXX", "BKCHHK20XXX", ("TEST_BIC",)),
    # 6.7 travel permit and FPS ID
    ("home_return_permit", "H12345678", "H12345678", ()),
    ("home_return_permit", "M1234567801", "M1234567801", ()),
    ("home_return_permit", "HA1234567", "HA1234567", ()),
    ("home_return_permit", "ma1234567", "MA1234567", ()),
    ("home_return_permit", "M12345678", "M12345678", ()),
    ("home_return_permit", "H1234567801", "H1234567801", ()),
    ("home_return_permit", "MA1234567", "MA1234567", ()),
    ("fps_id", "1234567", "1234567", ()),
    ("fps_id", "123456789", "123456789", ()),
    # 6.8 IBAN
    ("iban", "GB82WEST12345698765432", "GB82WEST12345698765432", ()),
    ("iban", "DE89370400440532013000", "DE89370400440532013000", ()),
    ("iban", "GB82 WEST 1234 5698 7654 32", "GB82WEST12345698765432", ()),
    # a bank code missing from python-stdnum's Belgian table is a warning, not a failure
    ("iban", "BE83138811735115", "BE83138811735115", ("UNKNOWN_BANK_CODE",)),
    # 6.9 currencies
    *[
        ("currency", c, c, ())
        for c in ("CNY", "HKD", "USD", "MOP", "EUR", "GBP", "JPY", "SGD", "AUD", "CAD", "CHF")
    ],
    ("currency", "cny", "CNY", ()),
    ("currency", "CNH", "CNY", ("CNH_NORMALISED",)),
    # 6.10 Luhn / UnionPay
    ("unionpay_card", "6226000000000005", "6226000000000005", ()),
    ("unionpay_card", "6222021001123456789", "6222021001123456789", ()),
    ("unionpay_card", "6217000000000000004", "6217000000000000004", ()),
    ("unionpay_card", "6226 0000 0000 0005", "6226000000000005", ()),
    ("luhn", "6226000000000005", "6226000000000005", ()),
    ("luhn", "6222021001123456789", "6222021001123456789", ()),
    ("luhn", "4111111111111111", "4111111111111111", ()),
    ("luhn", "000000000000", "000000000000", ()),
]

# (kind, value, code)
INVALID: list[tuple[str, str, str]] = [
    # 6.1 USCC
    ("uscc", "91350100M000100Y4Z", "CHARSET"),  # computed check is '3'; 'Z' is not in the alphabet
    ("uscc", "91310115MA1G4L1WXK", "CHECK_DIGIT"),  # computed check is '7'
    ("uscc", "91110000600037341X", "CHECK_DIGIT"),
    ("uscc", "91110000600O37341L", "CHARSET"),
    ("uscc", "9111000060003734L", "LENGTH"),
    ("uscc", "911A0000600037341L", "FORMAT"),  # division code (pos 3-8) must be digits
    # 6.2 resident ID
    ("cn_resident_id", "110105194912310021", "CHECK_DIGIT"),
    ("cn_resident_id", "440524188001010015", "CHECK_DIGIT"),
    ("cn_resident_id", "110105194913310021", "DATE"),  # month 13, check digit right
    ("cn_resident_id", "110105194902290029", "DATE"),  # 29 Feb 1949, check digit right
    ("cn_resident_id", "81000020300101123X", "FUTURE_DATE"),  # born 2030, check digit right
    ("cn_resident_id", "11010519491231002", "LENGTH"),
    ("cn_resident_id", "11010519491231002Y", "CHARSET"),
    ("cn_resident_id", "1101051949123100X2", "FORMAT"),
    # 6.3 HKID
    ("hkid", "A123456(4)", "CHECK_DIGIT"),
    ("hkid", "AB987654(A)", "CHECK_DIGIT"),
    ("hkid", "Z683365(0)", "CHECK_DIGIT"),
    ("hkid", "A12345(6)", "LENGTH"),
    ("hkid", "1A23456(7)", "FORMAT"),
    ("hkid", "A123456(3", "FORMAT"),  # unbalanced bracket
    ("hkid", "A12(3456)3", "FORMAT"),
    ("hkid", "ABC123456(3)", "LENGTH"),
    ("hkid", "A123456/3", "CHARSET"),
    # 6.4 BRN
    ("hk_brn", "1234567", "LENGTH"),
    ("hk_brn", "12345678-000", "LENGTH"),
    ("hk_brn", "12345678-000-01-11-1", "LENGTH"),  # a whole BR certificate number
    ("hk_brn", "CC012345", "FORMAT"),
    # 6.5 LEI
    ("lei", "5493001KJTIIGC8Y1R21", "CHECK_DIGIT"),  # transposed check digits
    ("lei", "254900HKCNSZDVP00123", "CHECK_DIGIT"),
    ("lei", "506700GE1G29325QX36", "LENGTH"),
    ("lei", "5493001KJTIIGC8Y1R1A", "FORMAT"),  # check must be digits
    ("lei", "5493001KJTIIGC8Y1R_2", "CHARSET"),
    # 6.6 BIC
    ("bic", "BKCH1KHH", "FORMAT"),  # digit in the country code
    ("bic", "BKCHHKH", "LENGTH"),
    ("bic", "BKCHHKHHXX", "LENGTH"),
    ("bic", "BKCHQQHH", "COUNTRY"),
    ("bic", "BKC1HKHH", "FORMAT"),  # strict mode: the party prefix is letters only
    # 6.7 travel permit and FPS ID
    ("home_return_permit", "H1234567", "LENGTH"),
    ("home_return_permit", "H123456780", "LENGTH"),
    ("home_return_permit", "X12345678", "FORMAT"),
    ("home_return_permit", "HB1234567", "FORMAT"),
    ("home_return_permit", "HA123456789", "FORMAT"),
    ("home_return_permit", "HA12345678", "LENGTH"),
    ("home_return_permit", "MA123456", "LENGTH"),
    ("fps_id", "12345678", "LENGTH"),
    ("fps_id", "123456", "LENGTH"),
    ("fps_id", "12345A7", "CHARSET"),
    ("fps_id", "+85212345678", "CHARSET"),  # a mobile-number proxy is not an FPS ID
    # 6.8 IBAN
    ("iban", "GB82WEST12345698765431", "CHECK_DIGIT"),
    ("iban", "GB28WEST12345698765432", "CHECK_DIGIT"),
    ("iban", "HK82WEST12345698765432", "NOT_IBAN_COUNTRY"),
    ("iban", "CN82WEST12345698765432", "NOT_IBAN_COUNTRY"),
    ("iban", "MO82WEST12345698765432", "NOT_IBAN_COUNTRY"),
    ("iban", "QQ82WEST12345698765432", "COUNTRY"),
    ("iban", "GB82WEST1234569876543", "LENGTH"),
    ("iban", "GB82WEST123456987654321", "LENGTH"),
    ("iban", "1B82WEST12345698765432", "FORMAT"),
    ("iban", "GB82WEST12345698765_32", "CHARSET"),
    ("iban", "BE41091811735141", "NATIONAL_CHECK"),  # Belgian national check digits wrong
    # 6.9 currencies
    ("currency", "XXX", "UNKNOWN_CURRENCY"),
    ("currency", "XTS", "UNKNOWN_CURRENCY"),
    ("currency", "RMB", "UNKNOWN_CURRENCY"),
    ("currency", "HK", "LENGTH"),
    ("currency", "U5D", "CHARSET"),
    # 6.10 Luhn / UnionPay
    ("unionpay_card", "6226000000000004", "CHECK_DIGIT"),  # listed as "valid" in an AI-generated sample
    ("unionpay_card", "6222021001123456788", "CHECK_DIGIT"),
    ("unionpay_card", "6217000000000000040", "CHECK_DIGIT"),
    ("unionpay_card", "4111111111111111", "PREFIX"),
    ("unionpay_card", "622600000000005", "LENGTH"),
    ("unionpay_card", "62260000000000000005", "LENGTH"),
    ("luhn", "6226000000000004", "CHECK_DIGIT"),
    ("luhn", "79927398713", "LENGTH"),  # Luhn-valid but 11 digits
    ("luhn", "12345678901234567890", "LENGTH"),
    ("luhn", "4111-1111-1111-111x", "CHARSET"),
    ("luhn", "\u0664\u0661\u0661\u0661" * 4, "CHARSET"),  # Arabic-Indic digits are not ASCII digits
]


@pytest.mark.parametrize(("kind", "value", "normalised", "warnings"), VALID)
def test_valid_vectors(kind: str, value: str, normalised: str, warnings: tuple[str, ...]) -> None:
    result = check(kind, value, today=TODAY)
    assert result == IdCheck(kind, True, "OK", "valid", normalised, warnings)
    assert is_valid(kind, value, today=TODAY)


@pytest.mark.parametrize(("kind", "value", "code"), INVALID)
def test_invalid_vectors(kind: str, value: str, code: str) -> None:
    result = check(kind, value, today=TODAY)
    assert not result.valid
    assert result.code == code
    assert result.kind == kind
    assert result.normalised is None
    assert result.warnings == ()
    assert result.reason
    assert result.reason != "valid"
    assert not is_valid(kind, value, today=TODAY)


def _leaks(value: str, reason: str) -> bool:
    """True if the reason contains the value, its compact form, or any 5-character piece of either."""
    forms = {value, value.strip(), "".join(c for c in value if c.isalnum()).upper()}
    for form in forms:
        if form and form in reason:
            return True
        if any(form[i : i + 5] in reason for i in range(len(form) - 4)):
            return True
    return False


@pytest.mark.parametrize(("kind", "value"), [(k, v) for k, v, *_ in VALID + INVALID])
def test_reason_never_contains_the_value(kind: str, value: str) -> None:
    result = check(kind, value, today=TODAY)
    assert not _leaks(value, result.reason)
    assert not _leaks(value, result.reason.upper())


# --------------------------------------------------------------------------------------------------
# Behaviour beyond the vectors
# --------------------------------------------------------------------------------------------------


def test_kinds_and_dispatch() -> None:
    assert KINDS == (
        "uscc",
        "cn_resident_id",
        "hkid",
        "hk_brn",
        "lei",
        "bic",
        "iban",
        "luhn",
        "unionpay_card",
        "fps_id",
        "home_return_permit",
        "currency",
    )
    with pytest.raises(ValueError, match="unknown identifier kind"):
        check("passport", "X")
    with pytest.raises(ValueError, match="unknown identifier kind"):
        is_valid("passport", "X")


@pytest.mark.parametrize("kind", KINDS)
def test_empty_and_blank_values(kind: str) -> None:
    for value in ("", "   "):
        result = check(kind, value)
        assert not result.valid
        assert result.code == "EMPTY"


@pytest.mark.parametrize("kind", KINDS)
def test_non_string_is_invalid_not_an_exception(kind: str) -> None:
    result = check(kind, 12345678)  # type: ignore[arg-type]
    assert not result.valid
    assert result.code == "TYPE"


@pytest.mark.parametrize("kind", KINDS)
def test_results_are_frozen(kind: str) -> None:
    result = check(kind, "x")
    with pytest.raises(AttributeError):
        result.valid = True  # type: ignore[misc]


def test_uscc_gb11714_is_only_checked_when_positions_9_to_16_are_digits() -> None:
    # 60003734 -> 1 and 12345678 -> 8: body digits with the right organisation-code check, no warning
    assert check("uscc", "91110000600037341L").warnings == ()
    assert check("uscc", "91440300123456788M").warnings == ()
    # letters in the body: GB 11714 letter values are disputed, so not checked at all
    assert check("uscc", "91350100M000100Y43").warnings == ()
    # wrong organisation-code check: still valid, warning only
    result = check("uscc", "91440300123456789Q")
    assert result.valid
    assert result.warnings == ("GB11714_CHECK",)


def test_uscc_check_value_x_in_organisation_code() -> None:
    # body 8 digits whose GB 11714 check is 10 -> 'X'
    body8 = next(
        f"{n:08d}"
        for n in range(100000)
        if (11 - sum(int(d) * w for d, w in zip(f"{n:08d}", (3, 7, 9, 10, 5, 8, 4, 2), strict=True)) % 11)
        == 10
    )
    body17 = "91440300" + body8 + "X"
    result = check("uscc", body17 + ref_uscc_check(body17))
    assert result.valid
    assert result.warnings == ()


def test_uscc_unknown_registration_authority_is_a_warning() -> None:
    body17 = "01440300MA5F12345"
    result = check("uscc", body17 + ref_uscc_check(body17))
    assert result.valid
    assert result.warnings == ("UNKNOWN_REGISTRATION_AUTHORITY",)


@pytest.mark.parametrize(
    ("code", "plausible"),
    [
        ("91110000600037341L", True),  # 9 market regulation, 1 enterprise, Beijing
        ("12100000400000624D", True),  # 1 establishment office, 2 public institution, central level
        ("93440300876543210L", True),  # 3 farmers' co-operative
        ("Y1440300MA5F12345X", True),
        ("94440300MA5F12345X", False),  # market regulation has no category 4
        ("Y2440300MA5F12345X", False),
        ("01440300MA5F12345X", False),  # no authority 0
        ("91990300MA5F12345X", False),  # 99 is no province
        ("440305199712015990", False),  # a resident ID: 4/4 is no category, 03 no province
    ],
)
def test_uscc_authority_category_and_division_structure(code: str, plausible: bool) -> None:
    assert is_plausible_uscc(code) is plausible


def _ric(area: str, born: datetime.date, seq: str = "123") -> str:
    body = f"{area}{born:%Y%m%d}{seq}"
    return body + ref_ric_check(body)


def test_cn_resident_id_unknown_area_code_is_only_a_warning() -> None:
    for area in ("990000", "000000", "811234"):
        result = check("cn_resident_id", _ric(area, datetime.date(1990, 1, 1)), today=TODAY)
        assert result.valid
        assert result.warnings == ("UNKNOWN_AREA_CODE",)
    for area in ("820000", "830000", "710000", "440305"):
        result = check("cn_resident_id", _ric(area, datetime.date(1990, 1, 1)), today=TODAY)
        assert result.valid
        assert result.warnings == ()


def test_cn_resident_id_birth_date_against_today() -> None:
    assert check("cn_resident_id", _ric("440305", TODAY), today=TODAY).valid
    tomorrow = TODAY + datetime.timedelta(days=1)
    assert check("cn_resident_id", _ric("440305", tomorrow), today=TODAY).code == "FUTURE_DATE"
    # the default "today" is the real current date (UTC+8): a birth date far in the future is rejected
    assert check("cn_resident_id", _ric("440305", datetime.date(2999, 1, 1))).code == "FUTURE_DATE"
    assert check("cn_resident_id", _ric("440305", datetime.date(2000, 2, 29))).valid
    # 1880 (the standard's own example) is fine; a year before 1800 is not a plausible birth year
    assert check("cn_resident_id", _ric("440305", datetime.date(1799, 12, 31))).code == "DATE"
    assert check(
        "cn_resident_id", "440305" + "00000101" + "123" + ref_ric_check("44030500000101123")
    ).code == ("DATE")


def test_hkid_letter_substitution_by_eleven_is_not_detected() -> None:
    # letter values span 10-35, so A (10), L (21) and W (32) are equal mod 11: the check cannot tell them
    # apart
    for letter in "ALW":
        assert check("hkid", f"{letter}123456(3)").valid
    assert check("hkid", "B123456(3)").code == "CHECK_DIGIT"


def test_lei_positions_5_and_6_need_not_be_00() -> None:
    # older LEIs have "00" in positions 5-6 (every worked vector does); it is not enforced
    body = "HWUPKR0MPOU8FGXBT3"
    assert body[4:6] != "00"
    assert check("lei", body + ref_lei_check(body)).valid


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        ("hk_brn", "\u017f0012345"),
        ("bic", "BKCHHKH\u017f"),
        ("currency", "u\u017fd"),
        ("hkid", "\u0131123456(5)"),
    ],
)
def test_non_ascii_letters_are_not_folded_into_ascii(kind: str, value: str) -> None:
    """str.upper() maps some non-ASCII letters (long s, dotless i) to ASCII ones: refused first."""
    res = check(kind, value)
    assert not res.valid
    assert res.code == "CHARSET"


def test_mod97_misses_some_letter_digit_substitutions() -> None:
    # documented limitation of MOD 97-10 over alphanumerics: 'Y' -> '7' at position 6 keeps n mod 97 = 1
    assert check("lei", "6K111Y0ODR1XESVZEM78").valid
    assert check("lei", "6K11170ODR1XESVZEM78").valid


def test_check_digits_00_01_99_are_rejected_even_when_the_remainder_is_1() -> None:
    # find bodies whose proper check digits are 98 / 02; "01" / "99" are then congruent aliases
    lei_body = next(b for b in (f"5493001KJTIIGC{n:04d}" for n in range(10000)) if ref_lei_check(b) == "98")
    assert check("lei", lei_body + "98").valid
    assert check("lei", lei_body + "01").code == "CHECK_DIGIT"
    bban = next(
        b for b in (f"WEST1234569876{n:04d}" for n in range(10000)) if ref_iban_check("GB", b) == "02"
    )
    assert check("iban", f"GB02{bban}").valid
    assert check("iban", f"GB99{bban}").code == "CHECK_DIGIT"


def test_iban_bban_structure_is_checked() -> None:
    # GB BBAN is 4 letters + 14 digits; a digit in the bank code fails even with correct check digits
    bban = "WES712345698765432"
    assert check("iban", f"GB{ref_iban_check('GB', bban)}{bban}").code == "FORMAT"


def test_brn_is_not_stripped_of_a_certificate_suffix() -> None:
    assert check("hk_brn", " 12345678 ").normalised == "12345678"
    assert check("hk_brn", "c0012345").normalised == "C0012345"
    assert not is_valid("hk_brn", "1234-5678")


# --------------------------------------------------------------------------------------------------
# Property tests
# --------------------------------------------------------------------------------------------------

DIGITS = string.digits


def _substitute(data: st.DataObject, value: str, alphabets: list[str], start: int = 0) -> tuple[int, str]:
    """Draw a position (from ``start``) and a different character from that position's alphabet."""
    i = data.draw(st.integers(start, len(value) - 1), label="position")
    choices = sorted(set(alphabets[i]) - {value[i]})
    return i, value[:i] + data.draw(st.sampled_from(choices), label="replacement") + value[i + 1 :]


uscc_bodies = st.builds(
    lambda a, b, div, subj: a + b + div + subj,
    st.sampled_from("123456789ANY"),
    st.sampled_from(USCC_ALPHABET),
    st.text(DIGITS, min_size=6, max_size=6),
    st.text(USCC_ALPHABET, min_size=9, max_size=9),
)


@PROPERTY
@given(body=uscc_bodies, data=st.data())
def test_uscc_property(body: str, data: st.DataObject) -> None:
    value = body + ref_uscc_check(body)
    result = check("uscc", value)
    assert result.valid, result
    assert result.normalised == value
    assert set(result.warnings) <= {"GB11714_CHECK"}
    alphabets = [USCC_ALPHABET] * 2 + [DIGITS] * 6 + [USCC_ALPHABET] * 10
    _, changed = _substitute(data, value, alphabets)
    bad = check("uscc", changed)
    assert not bad.valid
    assert bad.code == "CHECK_DIGIT"
    assert changed not in bad.reason


ric_bodies = st.builds(
    lambda area, born, seq: f"{area}{born:%Y%m%d}{seq}",
    st.text(DIGITS, min_size=6, max_size=6),
    st.dates(datetime.date(1900, 1, 1), TODAY),
    st.text(DIGITS, min_size=3, max_size=3),
)


@PROPERTY
@given(body=ric_bodies, lower=st.booleans(), data=st.data())
def test_cn_resident_id_property(body: str, lower: bool, data: st.DataObject) -> None:
    value = body + ref_ric_check(body)
    result = check("cn_resident_id", value.lower() if lower else value, today=TODAY)
    assert result.valid, result
    assert result.normalised == value
    assert set(result.warnings) <= {"UNKNOWN_AREA_CODE"}
    _, changed = _substitute(data, value, [DIGITS] * 17 + [DIGITS + "X"])
    bad = check("cn_resident_id", changed, today=TODAY)
    assert not bad.valid
    assert bad.code == "CHECK_DIGIT"
    assert changed not in bad.reason


@PROPERTY
@given(
    prefix=st.text(string.ascii_uppercase, min_size=1, max_size=2),
    digits=st.text(DIGITS, min_size=6, max_size=6),
    brackets=st.booleans(),
    data=st.data(),
)
def test_hkid_property(prefix: str, digits: str, brackets: bool, data: st.DataObject) -> None:
    check_char = ref_hkid_check(prefix, digits)
    bare = prefix + digits + check_char
    shown = f"{prefix}{digits}({check_char})" if brackets else bare
    result = check("hkid", shown)
    assert result.valid, result
    assert result.normalised == bare
    alphabets = [string.ascii_uppercase] * len(prefix) + [DIGITS] * 6 + [DIGITS + "A"]
    i, changed = _substitute(data, bare, alphabets)
    bad = check("hkid", changed)
    assert changed not in bad.reason
    if i < len(prefix):
        # a prefix letter is detected unless its value changes by a multiple of 11 (e.g. A <-> L)
        assert bad.valid == ((hkid_value(bare[i]) - hkid_value(changed[i])) % 11 == 0)
    else:
        assert not bad.valid
        assert bad.code == "CHECK_DIGIT"


@PROPERTY
@given(letter=st.sampled_from(string.ascii_uppercase), digits=st.text(DIGITS, min_size=6, max_size=6))
def test_hkid_school_formula_agrees_for_single_letters(letter: str, digits: str) -> None:
    # scenarios.md 6.3: the older "A=1, weights 8..2" formula gives the same check for one-letter IDs
    total = (ord(letter) - ord("A") + 1) * 8 + sum(
        int(d) * w for d, w in zip(digits, range(7, 1, -1), strict=True)
    )
    c = (11 - total % 11) % 11
    school = "A" if c == 10 else str(c)
    assert school == ref_hkid_check(letter, digits)
    assert check("hkid", f"{letter}{digits}({school})").valid


@PROPERTY
@given(body=st.text(ALNUM, min_size=18, max_size=18), data=st.data())
def test_lei_property(body: str, data: st.DataObject) -> None:
    value = body + ref_lei_check(body)
    result = check("lei", value)
    assert result.valid, result
    assert result.normalised == value
    # same-class substitutions (digit<->digit, letter<->letter) are always detected by MOD 97-10
    alphabets = [DIGITS if c.isdigit() else string.ascii_uppercase for c in value]
    _, changed = _substitute(data, value, alphabets)
    bad = check("lei", changed)
    assert not bad.valid
    assert bad.code == "CHECK_DIGIT"
    assert changed not in bad.reason


@PROPERTY
@given(payload=st.text(DIGITS, min_size=11, max_size=18), data=st.data())
def test_luhn_property(payload: str, data: st.DataObject) -> None:
    value = payload + ref_luhn_check(payload)
    result = check("luhn", value)
    assert result.valid, result
    assert result.normalised == value
    _, changed = _substitute(data, value, [DIGITS] * len(value))
    bad = check("luhn", changed)
    assert not bad.valid
    assert bad.code == "CHECK_DIGIT"
    assert changed not in bad.reason


@PROPERTY
@given(payload=st.text(DIGITS, min_size=13, max_size=16), data=st.data())
def test_unionpay_property(payload: str, data: st.DataObject) -> None:
    value = "62" + payload + ref_luhn_check("62" + payload)
    assert check("unionpay_card", value).valid
    _, changed = _substitute(data, value, [DIGITS] * len(value), start=2)
    assert check("unionpay_card", changed).code == "CHECK_DIGIT"


# BBAN structures (from the SWIFT IBAN registry) of countries without a national check in python-stdnum
IBAN_STRUCTURES = {
    "GB": [string.ascii_uppercase] * 4 + [DIGITS] * 14,
    "DE": [DIGITS] * 18,
    "NL": [string.ascii_uppercase] * 4 + [DIGITS] * 10,
    "CH": [DIGITS] * 5 + [ALNUM] * 12,
    "AT": [DIGITS] * 16,
}


@st.composite
def ibans(draw: st.DrawFn) -> str:
    cc = draw(st.sampled_from(sorted(IBAN_STRUCTURES)))
    bban = "".join(draw(st.sampled_from(alphabet)) for alphabet in IBAN_STRUCTURES[cc])
    return cc + ref_iban_check(cc, bban) + bban


@PROPERTY
@given(value=ibans(), spaced=st.booleans(), data=st.data())
def test_iban_property(value: str, spaced: bool, data: st.DataObject) -> None:
    shown = " ".join(value[i : i + 4] for i in range(0, len(value), 4)) if spaced else value
    result = check("iban", shown)
    assert result.valid, result
    assert result.normalised == value
    # same-class substitutions anywhere (country letters, check digits, BBAN) are detected
    alphabets = [string.ascii_uppercase] * 2 + [DIGITS] * 2
    alphabets += [DIGITS if c.isdigit() else string.ascii_uppercase for c in value[4:]]
    _, changed = _substitute(data, value, alphabets)
    bad = check("iban", changed)
    assert not bad.valid
    assert changed not in bad.reason


# --------------------------------------------------------------------------------------------------
# The public check-character functions (what crossbound.testing.synthetic builds identifiers with)
# --------------------------------------------------------------------------------------------------


def ref_gb11714_check(body8: str) -> str:
    c = 11 - sum(int(d) * w for d, w in zip(body8, (3, 7, 9, 10, 5, 8, 4, 2), strict=True)) % 11
    return "X" if c == 10 else "0" if c == 11 else str(c)


@PROPERTY
@given(
    uscc=uscc_bodies,
    ric=ric_bodies,
    org=st.text(DIGITS, min_size=8, max_size=8),
    prefix=st.text(string.ascii_uppercase, min_size=1, max_size=2),
    hkid_digits=st.text(DIGITS, min_size=6, max_size=6),
    lei=st.text(ALNUM, min_size=18, max_size=18),
    card=st.text(DIGITS, min_size=11, max_size=18),
)
def test_public_check_characters_agree_with_the_references(
    uscc: str, ric: str, org: str, prefix: str, hkid_digits: str, lei: str, card: str
) -> None:
    assert uscc_check_char(uscc) == ref_uscc_check(uscc)
    assert resident_id_check_char(ric) == ref_ric_check(ric)
    assert gb11714_check_char(org) == ref_gb11714_check(org)
    assert hkid_check_char(prefix, hkid_digits) == ref_hkid_check(prefix, hkid_digits)
    assert lei_check_digits(lei) == ref_lei_check(lei)
    assert lei_check_digits(lei.lower()) == ref_lei_check(lei)
    assert luhn_check_digit(card) == ref_luhn_check(card)


def test_lei_check_digits_are_97_and_98_not_00_and_01() -> None:
    # the two bodies whose remainder would give 00/01 under a plain (98 - 100 n) mod 97
    bodies = {98 - expand36(f"{n:018d}00") % 97: f"{n:018d}" for n in range(400)}
    assert lei_check_digits(bodies[97]) == "97"
    assert lei_check_digits(bodies[98]) == "98"
    assert check("lei", bodies[98] + "98").valid
    assert check("lei", bodies[97] + "97").valid
