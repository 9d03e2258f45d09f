"""The clear-text scan (crossbound.rules.pi): the forms it catches, what it must not flag (every string of
the fixtures and of a seeded simulator run), and C4's exemption of identifier fields."""

from __future__ import annotations

import json
from datetime import date

import pytest
from rules_builders import check, ctx

from crossbound._data import default_schemas_dir
from crossbound.rules.checks import CheckEnv
from crossbound.rules.pi import field_pi_code, pi_code, pi_code_in_code
from crossbound.testing import fixtures as examples
from crossbound.testing.documents import fixture_documents, strings
from crossbound.testing.traffic import Traffic

TODAY = date(2026, 11, 24)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        # mainland mobiles: bare, grouped, 0086 / 86 prefixes
        ("13800138000", "PI_PHONE"),
        ("call 138 0013 8000 after 6", "PI_PHONE"),
        ("0086 138-0013-8000", "PI_PHONE"),
        ("86 13912345678", "PI_PHONE"),
        # HK numbers without +852: grouped 4-4, (852), 00852, bare after a phone word
        ("9123 4567", "PI_PHONE"),
        ("office 2345-6789", "PI_PHONE"),
        ("(852) 6123 4567", "PI_PHONE"),
        ("00852 5123 4567", "PI_PHONE"),
        ("Tel: 91234567", "PI_PHONE"),
        ("電話 61234567", "PI_PHONE"),
        ("call 9123 4567 or 9876 5432", "PI_PHONE"),
        ("chan.taiman@gmail.com", "PI_EMAIL"),
        ("mail x.zhang+bank@example.com.hk today", "PI_EMAIL"),
        # Mainland Travel Permits for HK/Macao residents, passports
        ("H12345678", "PI_PERMIT"),
        ("permit M1234567801", "PI_PERMIT"),
        ("HA1234567", "PI_PERMIT"),
        ("E12345678", "PI_PASSPORT"),
        ("passport EA1234567", "PI_PASSPORT"),
        ("G12345678", "PI_PASSPORT"),
        ("K12345678", "PI_PASSPORT"),
        # HKIDs lower-case or spaced (these need the right check character)
        ("a123456(3)", "PI_HKID"),
        ("HKID A 123456 3", "PI_HKID"),
        ("ab987654-3", "PI_HKID"),
        # resident IDs spaced or dashed (with the right check character)
        ("110105 19491231 002X", "PI_CN_ID"),
        ("ID 110105-1949-1231-002X", "PI_CN_ID"),
        ("810000 19900101 1230", "PI_CN_ID"),
        # 15-digit American Express, Luhn-valid
        ("3714 496353 98431", "PI_CARD"),
        ("amex 378282246310005", "PI_CARD"),
        # names in Chinese script
        ("陈大文", "PI_NAME"),
        ("黃小明", "PI_NAME"),
        ("张伟先生", "PI_NAME"),
        ("姓名：李小红", "PI_NAME"),  # noqa: RUF001 - a full-width colon, as typed in Chinese
        # names in Latin script
        ("Chan Tai Man", "PI_NAME"),
        ("CHAN TAI MAN", "PI_NAME"),
        ("applicant Wong Siu-ming", "PI_NAME"),
        ("Ms. Lee", "PI_NAME"),
    ],
)
def test_pi_code_catches(text: str, code: str) -> None:
    assert pi_code(text) == code


@pytest.mark.parametrize(
    "text",
    [
        "2308a227-5bb2-4e14-8931-ba902d770765",
        "18969742-7060-4689-b5f1-c83738dce1f8",  # a UUID whose groups are 16 digits (was PI_CARD)
        "cns-5cc0-b301-8712",
        "eac38a894a3710e36d75a3bb5a48211264519cd33da851dbcf87e09999157837",
        "2026-11-24T08:00:00Z",
        "20261124",
        "13500000000.00",  # an amount, not a mobile number
        "26442000.00",
        "C0012345",  # a dummy BRN (was PI_HKID)
        "31245706",
        "HK0000873015",
        "91440300MA5F2K7Q1K",
        "5493001KJTIIGC8Y1R12",
        "INV-2025-000123",
        "CNS-4DA154C8A7B8",
        "HK-CWB-017",
        "Hong Kong Dollar",
        "Payment Connect northbound, Wealth Management Connect",
    ],
)
def test_pi_code_leaves_codes_ids_and_amounts(text: str) -> None:
    assert pi_code(text) is None


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("A123456(4)", "PI_HKID"),  # the bracketed shape is flagged whatever its check character
        ("110105 19491231 0021", None),  # spaced, and the check character is wrong
        ("4111 1111 1111 1112", None),  # not Luhn-valid
        ("金额", None),  # "amount": a word, not a surname and a name
    ],
)
def test_pi_code_edges(text: str, code: str | None) -> None:
    assert pi_code(text) == code


def test_a_field_that_holds_a_code_refuses_any_chinese_text_and_a_bare_hk_number() -> None:
    assert pi_code("深圳") is None
    assert pi_code_in_code("深圳") == "PI_NAME"
    assert pi_code("91234567") is None
    assert pi_code_in_code("91234567") == "PI_PHONE"
    assert pi_code_in_code("20261124") is None  # a date: its first digit is not an HK number's


def test_no_string_of_any_fixture_or_of_a_seeded_traffic_sample_is_flagged() -> None:
    docs = fixture_documents()
    for case in Traffic(seed=11, now=1_790_000_000.0).mix(2000):
        docs += [case.request, case.attestation]
    flagged = {s: code for s in strings(docs) if (code := pi_code(s)) is not None}
    assert flagged == {}


def test_c4_refuses_no_class_c_value_of_the_fixtures() -> None:
    kinds: dict[tuple[str, str], dict[str, str | None]] = {}
    for path in default_schemas_dir().glob("scenarios/*/*.avsc"):
        fields = json.loads(path.read_text())["fields"]
        stage = "payload" if path.name.startswith("request") else "attestation"
        kinds[path.parent.name, stage] = {f["name"]: f.get("kind") for f in fields if f.get("class") == "C"}
    refused = []
    for sid in examples.discover():
        for fx in examples.load(sid).fixtures.values():
            for stage, doc in (("payload", fx.request), ("attestation", fx.attestation)):
                payload = (doc or {}).get("payload") or {}
                for name, kind in kinds.get((sid, stage), {}).items():
                    refused += [
                        (sid, name, s) for s in strings(payload.get(name)) if field_pi_code(kind, s, TODAY)
                    ]
    assert refused == []


# C4's exemption of identifier fields ----------------------------------------------------------------


def _c4(kind: str, value: str) -> list[tuple[str, str]]:
    env = CheckEnv(clear_fields=(("payload.x", kind),))
    return check("no_clear_pi", [], {"all_clear_fields": True}, env)(ctx(payload={"x": value}))


@pytest.mark.parametrize(
    ("kind", "value", "expected"),
    [
        # resident IDs that pass the USCC check (about 1 in 31) no longer cross as a USCC
        ("uscc", "440305199712015990", "PI_CN_ID"),
        ("uscc", "110105199006212770", "PI_CN_ID"),
        # a USCC-valid value that is no resident ID but whose authority/category and division code GB
        # 32100 does not know is scanned like any code: it reads as an ID number with a birth date
        ("uscc", "440524199002205285", "PI_CN_ID"),
        # an HKID without brackets is also a dummy BRN's format; a BRN starting with 9 is a mobile number
        ("hk_brn", "A1234563", "PI_HKID"),
        ("hk_brn", "91234567", "PI_PHONE"),
        # personal kinds are never exempt
        ("hkid", "A1234563", "PI_HKID"),
        ("cn_resident_id", "11010519491231002X", "PI_CN_ID"),
        ("home_return_permit", "H12345678", "PI_PERMIT"),
    ],
)
def test_c4_does_not_exempt_a_personal_identifier_in_an_identifier_field(
    kind: str, value: str, expected: str
) -> None:
    assert _c4(kind, value) == [("payload.x", expected)]


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        ("uscc", "91350100M000100Y43"),
        ("uscc", "12440300455834562U"),
        ("uscc", "93440300876543210L"),
        ("uscc", "91110000600037341L"),
        ("hk_brn", "12345678"),
        ("hk_brn", "31245706"),  # cannot be told from a landline: crosses as a BRN (see field_pi_code)
        ("hk_brn", "C0012345"),
        ("bic", "BKCHHKHHXXX"),
        ("lei", "5493001KJTIIGC8Y1R12"),
    ],
)
def test_c4_exempts_a_valid_public_identifier(kind: str, value: str) -> None:
    assert _c4(kind, value) == []
