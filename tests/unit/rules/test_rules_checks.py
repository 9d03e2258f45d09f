"""The stateless check library (crossbound.rules.checks), each check on hand-built contexts; the
stateful checks' compare (quota) at the end."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from rules_builders import (
    BIC_INST,
    HEX_A,
    HEX_B,
    HEX_C,
    LOCAL_AFTER_MIDNIGHT,
    NOW,
    check,
    ctx,
    make_consent,
    make_request,
    pcn_payload,
)

from crossbound import identifiers
from crossbound.rules.checks import CHECKS, CheckEnv
from crossbound.rules.pi import pi_code
from crossbound.rules.stateful import STATEFUL

Failures = list[tuple[str, str]]


def test_checks_catalogue_is_complete() -> None:
    assert sorted([*CHECKS, *STATEFUL]) == sorted(
        [
            "required",
            "pattern",
            "range",
            "enum",
            "identifier",
            "no_clear_pi",
            "distinct",
            "subject_volume",
            "institution",
            "freshness",
            "request_window",
            "consent",
            "digest_format",
            "digest_match",
            "scenario_version",
            "cel",
            "quota",
        ]
    )


@pytest.mark.parametrize(
    ("name", "fields", "params", "match"),
    [
        pytest.param("required", [], {}, "field", id="required-needs-fields"),
        pytest.param("pattern", ["payload.x"], {}, "regex", id="pattern-no-regex"),
        pytest.param("pattern", ["payload.x"], {"regex": "[0-9"}, "regex", id="pattern-bad-regex"),
        pytest.param("range", ["payload.a"], {}, "min", id="range-no-bounds"),
        pytest.param("range", ["payload.a"], {"min": "ten"}, "min", id="range-min-not-a-number"),
        pytest.param("enum", ["payload.x"], {}, "exactly one", id="enum-neither"),
        pytest.param(
            "enum", ["payload.x"], {"values": ["A"], "forbidden": ["B"]}, "exactly one", id="enum-both"
        ),
        # an empty list would allow everything: the rule is refused at load time instead
        pytest.param("enum", ["payload.x"], {"values": []}, "values", id="enum-empty-values"),
        pytest.param(
            "enum", ["payload.facility_ccy"], {"values": "HKD"}, "values", id="enum-values-not-a-list"
        ),
        pytest.param("identifier", ["payload.x"], {}, "kind", id="identifier-no-kind"),
        pytest.param("identifier", ["payload.x"], {"kind": "ssn"}, "kind", id="identifier-unknown-kind"),
        pytest.param("freshness", ["payload.issued"], {}, "max_age_days", id="freshness-no-max-age"),
        pytest.param(
            "freshness",
            ["payload.issued"],
            {"max_age_days": "thirty"},
            "max_age_days",
            id="freshness-not-numeric",
        ),
        pytest.param("digest_match", ["payload.d"], {}, "against", id="digest-match-no-against"),
        pytest.param(
            "digest_match",
            ["payload.d", "payload.e"],
            {"against": "attestation.d"},
            "exactly one field",
            id="digest-match-two-fields",
        ),
    ],
)
def test_bad_params(name: str, fields: list[str], params: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        check(name, fields, params)


# required ------------------------------------------------------------------------------------------


def test_required_passes_when_present() -> None:
    fn = check("required", ["request.hmac_key_id", "request.consent", "payload.x"])
    assert fn(ctx(payload={"x": 0})) == []
    assert fn(ctx(payload={"x": False})) == []


@pytest.mark.parametrize("empty", [None, "", [], {}])
def test_required_missing(empty: Any) -> None:
    fn = check("required", ["payload.a", "payload.x", "payload.b"])
    assert fn(ctx(payload={"a": "1", "x": empty, "b": "2"})) == [("payload.x", "MISSING")]


def test_required_absent_keys_and_nested() -> None:
    fn = check(
        "required", ["request.consent", "payload.x", "consent.consent_id", "request.requester_inst.id"]
    )
    request = make_request(consent=None, requester_inst={"scheme": "BIC", "id": "", "city": None})
    assert fn(ctx(request, payload={})) == [
        ("request.consent", "MISSING"),
        ("payload.x", "MISSING"),
        ("consent.consent_id", "MISSING"),
        ("request.requester_inst.id", "MISSING"),
    ]


# pattern -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("nonce", "expected"),
    [
        ("9f86d081884c7d659a2feaa0c55ad015", []),
        ("9F86D081884C7D659A2FEAA0C55AD015", [("request.nonce", "NONCE_FORMAT")]),
        # full match: a 33rd character or a prefix does not pass
        ("9f86d081884c7d659a2feaa0c55ad015f", [("request.nonce", "NONCE_FORMAT")]),
        ("x9f86d081884c7d659a2feaa0c55ad015", [("request.nonce", "NONCE_FORMAT")]),
    ],
)
def test_pattern(nonce: str, expected: Failures) -> None:
    fn = check("pattern", ["request.nonce"], {"regex": "[0-9a-f]{32}", "code": "NONCE_FORMAT"})
    assert fn(ctx(make_request(nonce=nonce))) == expected


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({"x": "123"}, []),
        ({"x": None}, []),
        ({}, []),
        ({"x": 123}, [("payload.x", "PATTERN")]),  # not a string
        ({"x": "12a"}, [("payload.x", "PATTERN")]),
    ],
)
def test_pattern_default_code_none_and_non_string(payload: dict[str, Any], expected: Failures) -> None:
    fn = check("pattern", ["payload.x"], {"regex": "[0-9]+"})
    assert fn(ctx(payload=payload)) == expected


# range ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (Decimal("0.01"), []),
        (Decimal("300000.00"), []),
        (Decimal("0.00"), [("payload.amount", "BELOW_MIN")]),
        (Decimal("-5"), [("payload.amount", "BELOW_MIN")]),
        (Decimal("300000.01"), [("payload.amount", "ABOVE_MAX")]),
        (0.01, []),
        (0.005, [("payload.amount", "BELOW_MIN")]),
        (300000.5, [("payload.amount", "ABOVE_MAX")]),
        (300000, []),
        (300001, [("payload.amount", "ABOVE_MAX")]),
        (0, [("payload.amount", "BELOW_MIN")]),
        (float("inf"), [("payload.amount", "ABOVE_MAX")]),
        pytest.param(float("nan"), [("payload.amount", "NOT_A_NUMBER")], id="float-nan-is-not-in-range"),
        (None, []),
        (True, []),  # booleans are not numbers here
    ],
)
def test_range(value: Any, expected: Failures) -> None:
    fn = check("range", ["payload.amount"], {"min": "0.01", "max": "300000"})
    assert fn(ctx(payload={"amount": value})) == expected


def test_range_decimal_comparison_is_exact() -> None:
    # float(Decimal("0.10000000000000001")) == 0.1: only an exact comparison sees it is above the max.
    fn = check("range", ["payload.amount"], {"max": "0.1"})
    assert fn(ctx(payload={"amount": Decimal("0.10000000000000001")})) == [("payload.amount", "ABOVE_MAX")]
    assert fn(ctx(payload={"amount": Decimal("0.1")})) == []


def test_range_one_sided_and_several_fields() -> None:
    fn = check("range", ["payload.a", "payload.b"], {"min": 1})
    assert fn(ctx(payload={"a": Decimal("1000000000"), "b": 0})) == [("payload.b", "BELOW_MIN")]
    fn_max = check("range", ["payload.a"], {"max": 10.5})
    assert fn_max(ctx(payload={"a": Decimal("-1e9")})) == []
    assert fn_max(ctx(payload={"a": Decimal("10.51")})) == [("payload.a", "ABOVE_MAX")]


# enum ----------------------------------------------------------------------------------------------

_CCY = {"values": ["HKD", "CNY", "USD", "CNH"], "code": "CURRENCY"}
_STATUS = {"forbidden": ["REVOKED", "DEREGISTERED"]}


@pytest.mark.parametrize(
    ("field", "params", "value", "expected"),
    [
        pytest.param("payload.facility_ccy", _CCY, "CNY", [], id="values-allowed"),
        pytest.param(
            "payload.facility_ccy", _CCY, "EUR", [("payload.facility_ccy", "CURRENCY")], id="values-other"
        ),
        pytest.param(
            "payload.facility_ccy", _CCY, "hkd", [("payload.facility_ccy", "CURRENCY")], id="values-case"
        ),
        pytest.param("payload.facility_ccy", _CCY, None, [], id="values-absent"),
        pytest.param("attestation.entity_status", _STATUS, "ACTIVE", [], id="forbidden-other"),
        pytest.param(
            "attestation.entity_status",
            _STATUS,
            "REVOKED",
            [("attestation.entity_status", "NOT_ALLOWED")],  # the default code
            id="forbidden-listed",
        ),
    ],
)
def test_enum(field: str, params: dict[str, Any], value: Any, expected: Failures) -> None:
    fn = check("enum", [field], params)
    root, name = field.split(".")
    record = {name: value}
    context = ctx(payload=record) if root == "payload" else ctx(attestation=record)
    assert fn(context) == expected


def test_enum_forbidden_without_attestation() -> None:
    fn = check("enum", ["attestation.entity_status"], _STATUS)
    assert fn(ctx(attestation=None)) == []


# identifier ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("91350100M000100Y43", []),
        (None, []),
        ("91350100M000100Y42", [("payload.subject_uscc", "USCC_CHECK_DIGIT")]),
        ("9135", [("payload.subject_uscc", "USCC_LENGTH")]),
    ],
)
def test_identifier_uscc(value: str | None, expected: Failures) -> None:
    fn = check("identifier", ["payload.subject_uscc"], {"kind": "uscc"})
    assert fn(ctx(payload={"subject_uscc": value})) == expected


def test_identifier_code_is_the_library_code() -> None:
    assert identifiers.check("uscc", "91350100M000100Y42").code == "CHECK_DIGIT"
    assert identifiers.check("uscc", "91440300123456789Q").warnings == ("GB11714_CHECK",)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("91440300123456789Q", [("payload.subject_uscc", "USCC_GB11714_CHECK")]),
        ("91440300123456788M", []),
        # an invalid identifier is the other rule's business: warning mode stays silent
        ("91350100M000100Y42", []),
    ],
)
def test_identifier_warning_mode(value: str, expected: Failures) -> None:
    fn = check("identifier", ["payload.subject_uscc"], {"kind": "uscc", "warning": "GB11714_CHECK"})
    assert fn(ctx(payload={"subject_uscc": value})) == expected


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (datetime(2025, 6, 2, 12, 0, tzinfo=UTC), []),
        (datetime(2025, 5, 30, 12, 0, tzinfo=UTC), [("payload.id", "CN_RESIDENT_ID_FUTURE_DATE")]),
        pytest.param(LOCAL_AFTER_MIDNIGHT, [], id="today-is-the-local-date"),
    ],
)
def test_identifier_uses_ctx_now_as_today(now: datetime, expected: Failures) -> None:
    fn = check("identifier", ["payload.id"], {"kind": "cn_resident_id"})
    born_2025_06_02 = "440304202506020017"
    assert identifiers.check("cn_resident_id", born_2025_06_02, today=date(2025, 6, 2)).valid
    assert fn(ctx(payload={"id": born_2025_06_02}, now=now)) == expected


# institution ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("inst", "expected"),
    [
        ({"scheme": "LEI", "id": "5493001KJTIIGC8Y1R12"}, []),
        ({"scheme": "BIC", "id": "BKCHHKHHXXX"}, []),
        ({"scheme": "USCC", "id": "91350100M000100Y43"}, []),
        ({"scheme": "HK_BRN", "id": "12345678"}, []),
        (
            {"scheme": "LEI", "id": "5493001KJTIIGC8Y1R21"},
            [("request.requester_inst", "INSTITUTION_LEI_CHECK_DIGIT")],
        ),
        ({"scheme": "BIC", "id": "BKCHQQHH"}, [("request.requester_inst", "INSTITUTION_BIC_COUNTRY")]),
        (
            {"scheme": "USCC", "id": "91350100M000100Y42"},
            [("request.requester_inst", "INSTITUTION_USCC_CHECK_DIGIT")],
        ),
        ({"scheme": "HK_BRN", "id": "1234"}, [("request.requester_inst", "INSTITUTION_HK_BRN_LENGTH")]),
        ({"scheme": "DUNS", "id": "123456789"}, [("request.requester_inst", "INSTITUTION_SCHEME")]),
        ({"scheme": "LEI"}, [("request.requester_inst", "INSTITUTION_LEI_EMPTY")]),
    ],
)
def test_institution(inst: dict[str, Any], expected: Failures) -> None:
    fn = check("institution", ["request.requester_inst", "request.attester_inst"])
    assert fn(ctx(make_request(requester_inst=dict(inst, city=None)))) == expected


def test_institution_absent_is_skipped() -> None:
    fn = check("institution", ["request.requester_inst"])
    assert fn(ctx(make_request(requester_inst=None))) == []


# freshness -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (NOW - timedelta(days=10), []),
        (NOW - timedelta(days=30), []),
        (NOW - timedelta(days=30, seconds=1), [("payload.issued", "STALE")]),
        (NOW + timedelta(minutes=4), []),  # within the 5-minute clock skew
        (NOW + timedelta(minutes=6), [("payload.issued", "FUTURE_DATE")]),
        (date(2025, 5, 20), []),
        (date(2025, 6, 1), []),  # today
        (date(2025, 4, 1), [("payload.issued", "STALE")]),
        (date(2025, 6, 2), [("payload.issued", "FUTURE_DATE")]),  # tomorrow
        (datetime(2025, 5, 20, 8, 0), []),  # naive: read as UTC
        (datetime(2025, 6, 1, 12, 10), [("payload.issued", "FUTURE_DATE")]),
        ("2025-05-20", [("payload.issued", "NOT_A_DATE")]),
        (None, []),
    ],
)
def test_freshness(value: Any, expected: Failures) -> None:
    fn = check("freshness", ["payload.issued"], {"max_age_days": 30})
    assert fn(ctx(payload={"issued": value})) == expected


def test_freshness_uses_env_clock_skew() -> None:
    fn = check("freshness", ["payload.issued"], {"max_age_days": 30}, CheckEnv(clock_skew=timedelta(0)))
    assert fn(ctx(payload={"issued": NOW + timedelta(seconds=1)})) == [("payload.issued", "FUTURE_DATE")]
    assert fn(ctx(payload={"issued": NOW})) == []


def test_freshness_fractional_days() -> None:
    fn = check("freshness", ["payload.issued"], {"max_age_days": 0.5})
    assert fn(ctx(payload={"issued": NOW - timedelta(hours=11)})) == []
    assert fn(ctx(payload={"issued": NOW - timedelta(hours=13)})) == [("payload.issued", "STALE")]


@pytest.mark.parametrize(
    ("issued", "now", "expected"),
    [
        # dates are calendar days in UTC+8: at 01:00 local on 2 June, a report of 2 June is today's,
        # one of 3 June is not
        pytest.param(date(2025, 6, 2), LOCAL_AFTER_MIDNIGHT, [], id="issued-today-local-is-not-future"),
        pytest.param(date(2025, 6, 3), LOCAL_AFTER_MIDNIGHT, ["FUTURE_DATE"], id="issued-tomorrow-local"),
        # 2025-06-01 20:00 local: issued 2025-05-02 is 30 calendar days ago (fresh), 2025-05-01 is 31
        pytest.param(date(2025, 5, 2), NOW, [], id="age-30-local-days"),
        pytest.param(date(2025, 5, 1), NOW, ["STALE"], id="age-31-local-days"),
        # at 01:00 local on 2 June the same 2025-05-02 report is 31 days old
        pytest.param(date(2025, 5, 2), LOCAL_AFTER_MIDNIGHT, ["STALE"], id="age-31-after-local-midnight"),
    ],
)
def test_freshness_date_in_local_calendar_days(issued: date, now: datetime, expected: list[str]) -> None:
    fn = check("freshness", ["payload.report_issued_on"], {"max_age_days": 30})
    got = fn(ctx(payload={"report_issued_on": issued}, now=now))
    assert got == [("payload.report_issued_on", code) for code in expected]


# request_window ------------------------------------------------------------------------------------

_H = timedelta(hours=1)
_M = timedelta(minutes=1)


@pytest.mark.parametrize(
    ("created", "expires", "params", "expected"),
    [
        pytest.param(NOW - _H, NOW + _H, {}, None, id="ok"),
        pytest.param(NOW - 23 * _H, NOW + _H, {}, None, id="ok-exactly-24h"),
        pytest.param(NOW + 4 * _M, NOW + _H, {}, None, id="ok-within-skew"),
        pytest.param(
            NOW + 6 * _M, NOW + _H, {}, ("request.created_at", "CREATED_IN_FUTURE"), id="created-in-future"
        ),
        pytest.param(NOW, NOW, {}, ("request.expires_at", "EXPIRES_BEFORE_CREATED"), id="expires-at-created"),
        pytest.param(
            NOW,
            NOW - timedelta(seconds=1),
            {},
            ("request.expires_at", "EXPIRES_BEFORE_CREATED"),
            id="expires-before-created",
        ),
        pytest.param(
            NOW - _H,
            NOW + 23 * _H + timedelta(seconds=1),
            {},
            ("request.expires_at", "LIFETIME_TOO_LONG"),
            id="lifetime-too-long",
        ),
        pytest.param(
            NOW - 10 * _M,
            NOW + 51 * _M,
            {"max_lifetime_hours": 1},
            ("request.expires_at", "LIFETIME_TOO_LONG"),
            id="lifetime-too-long-for-param",
        ),
        pytest.param(NOW - 2 * _H, NOW, {}, ("request.expires_at", "EXPIRED"), id="expired-now"),
        pytest.param(NOW - 2 * _H, NOW - _M, {}, ("request.expires_at", "EXPIRED"), id="expired"),
    ],
)
def test_request_window(
    created: datetime, expires: datetime, params: dict[str, Any], expected: tuple[str, str] | None
) -> None:
    fn = check("request_window", ["request.created_at", "request.expires_at"], params)
    assert fn(ctx(make_request(created_at=created, expires_at=expires))) == (
        [] if expected is None else [expected]
    )


# consent -------------------------------------------------------------------------------------------

_OTHER_BIC = {"scheme": "BIC", "id": "HSBCHKHHHKH", "city": None}


def _consent(params: Mapping[str, Any], payload: Mapping[str, Any] | None = None, **consent: Any) -> Failures:
    fn = check("consent", [], params)
    return fn(ctx(make_request(consent=make_consent(**consent)), payload=payload))


@pytest.mark.parametrize(
    ("params", "payload", "consent", "expected"),
    [
        pytest.param(
            {"purposes": ["CREDIT_APPLICATION"], "require_separate_xb": True}, None, {}, None, id="ok"
        ),
        pytest.param(
            {"purpose_field": "payload.purpose"}, {"purpose": "CREDIT_APPLICATION"}, {}, None, id="ok-field"
        ),
        pytest.param(
            {"purposes": ["OTHER"]},
            None,
            {"withdrawn": True, "expires_at": NOW - timedelta(days=1)},
            ("request.consent", "CONSENT_WITHDRAWN"),
            id="withdrawn-wins",
        ),
        pytest.param(
            {"purposes": ["OTHER"]},
            None,
            {"expires_at": NOW},  # expires_at is exclusive
            ("request.consent.expires_at", "CONSENT_NOT_IN_FORCE"),
            id="not-in-force-expires-now",
        ),
        pytest.param(
            {"purposes": ["OTHER"]},
            None,
            {"expires_at": NOW - timedelta(days=1)},
            ("request.consent.expires_at", "CONSENT_NOT_IN_FORCE"),
            id="not-in-force-expired",
        ),
        pytest.param(
            {"purposes": ["OTHER"]},
            None,
            {"granted_at": NOW + timedelta(seconds=1)},
            ("request.consent.expires_at", "CONSENT_NOT_IN_FORCE"),
            id="not-in-force-yet",
        ),
        pytest.param({}, None, {"granted_at": NOW}, None, id="in-force-from-granted-at"),
        pytest.param(
            {"purposes": ["CROSS_BORDER_CREDIT_APPLICATION"]},
            None,
            {},
            ("request.consent.purpose_codes", "CONSENT_PURPOSE"),
            id="purpose-via-purposes",
        ),
        pytest.param(
            {"purposes": ["CREDIT_APPLICATION", "MARKETING"]},  # every listed purpose must be covered
            None,
            {},
            ("request.consent.purpose_codes", "CONSENT_PURPOSE"),
            id="purpose-via-purposes-all",
        ),
        pytest.param(
            {"purpose_field": "payload.purpose"},
            {"purpose": "GUARANTOR_CHECK"},
            {},
            ("request.consent.purpose_codes", "CONSENT_PURPOSE"),
            id="purpose-via-purpose-field",
        ),
        pytest.param(
            {"purpose_field": "payload.purpose"}, {"purpose": None}, {}, None, id="purpose-field-absent"
        ),
        pytest.param(
            {},
            None,
            {"recipient_inst": _OTHER_BIC},
            ("request.consent.recipient_inst", "CONSENT_RECIPIENT"),
            id="recipient-other-id",
        ),
        pytest.param(
            {},
            None,
            {"recipient_inst": {"scheme": "LEI", "id": "BKCHHKHHXXX", "city": None}},
            ("request.consent.recipient_inst", "CONSENT_RECIPIENT"),
            id="recipient-other-scheme",
        ),
        # the city is not part of the identity
        pytest.param({}, None, {"recipient_inst": dict(BIC_INST, city="440300")}, None, id="recipient-city"),
        pytest.param(
            {"check_recipient": False}, None, {"recipient_inst": _OTHER_BIC}, None, id="recipient-not-checked"
        ),
        pytest.param(
            {"require_separate_xb": True},
            None,
            {"separate_xb_consent": False},
            ("request.consent.separate_xb_consent", "CONSENT_XB_MISSING"),
            id="xb-missing",
        ),
        pytest.param({}, None, {"separate_xb_consent": False}, None, id="xb-not-required"),
        pytest.param(
            {"legal_bases": ["GBA_SC"]},
            None,
            {},
            ("request.consent.legal_basis", "LEGAL_BASIS"),
            id="legal-basis",
        ),
        pytest.param({"legal_bases": ["GBA_SC", "SCC_FILED"]}, None, {}, None, id="legal-basis-listed"),
    ],
)
def test_consent(
    params: dict[str, Any],
    payload: dict[str, Any] | None,
    consent: dict[str, Any],
    expected: tuple[str, str] | None,
) -> None:
    assert _consent(params, payload, **consent) == ([] if expected is None else [expected])


def test_consent_missing() -> None:
    fn = check("consent", [], {})
    assert fn(ctx(make_request(consent=None))) == [("request.consent", "CONSENT_MISSING")]


def test_consent_reports_every_failure() -> None:
    findings = _consent(
        {"purposes": ["MARKETING"], "require_separate_xb": True, "legal_bases": ["GBA_SC"]},
        recipient_inst=_OTHER_BIC,
        separate_xb_consent=False,
    )
    assert [code for _, code in findings] == [
        "CONSENT_PURPOSE",
        "CONSENT_RECIPIENT",
        "CONSENT_XB_MISSING",
        "LEGAL_BASIS",
    ]


# digest_format -------------------------------------------------------------------------------------


def test_digest_format() -> None:
    fn = check("digest_format", ["payload.d", "attestation.d"])
    assert fn(ctx(payload={"d": HEX_A}, attestation={"d": [HEX_B, HEX_C]})) == []
    assert fn(ctx(payload={"d": None})) == []


@pytest.mark.parametrize(
    "bad", [HEX_A.upper(), HEX_A[:-1], HEX_A + "0", "g" * 64, b"\x00" * 32, [HEX_A, "xyz"]]
)
def test_digest_format_bad(bad: Any) -> None:
    fn = check("digest_format", ["payload.d", "attestation.d"])
    assert fn(ctx(payload={"d": bad})) == [("payload.d", "DIGEST_FORMAT")]


def test_digest_format_all_digest_fields() -> None:
    env = CheckEnv(digest_fields=("payload.a", "payload.b", "attestation.c"))
    fn = check("digest_format", ["payload.a"], {"all_digest_fields": True}, env)
    good = ctx(payload={"a": HEX_A, "b": HEX_B}, attestation={"c": HEX_C})
    assert fn(good) == []
    bad = ctx(payload={"a": "nope", "b": "nope"}, attestation={"c": "nope"})
    # payload.a is listed once even though it is both a field and a digest field
    assert fn(bad) == [
        ("payload.a", "DIGEST_FORMAT"),
        ("payload.b", "DIGEST_FORMAT"),
        ("attestation.c", "DIGEST_FORMAT"),
    ]
    without = check("digest_format", ["payload.a"], {}, env)
    assert without(bad) == [("payload.a", "DIGEST_FORMAT")]


# digest_match --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mine", "theirs", "expected"),
    [
        pytest.param(HEX_A, {"d": HEX_A}, None, id="same"),
        pytest.param(HEX_A, {"d": HEX_B}, "DIGEST_MISMATCH", id="other"),
        pytest.param(HEX_A, {"d": HEX_A.upper()}, "DIGEST_MISMATCH", id="case"),
        pytest.param(None, {"d": HEX_A}, "DIGEST_MISSING", id="missing-mine"),
        pytest.param(HEX_A, {}, "DIGEST_MISSING", id="missing-theirs"),
        pytest.param(HEX_A, None, "DIGEST_MISSING", id="missing-attestation"),
        pytest.param([HEX_A, HEX_B], {"d": [HEX_B, HEX_A]}, None, id="lists-any-order"),
        pytest.param([HEX_A, HEX_B], {"d": [HEX_A, HEX_C]}, "DIGEST_MISMATCH", id="lists-other"),
        pytest.param([HEX_A, HEX_A], {"d": [HEX_A]}, "DIGEST_MISMATCH", id="lists-multiplicity"),
        pytest.param([HEX_A], {"d": HEX_A}, None, id="list-and-value"),
        pytest.param(HEX_A, {"d": [HEX_A, HEX_B]}, "DIGEST_MISMATCH", id="value-and-list"),
        pytest.param("é" * 64, {"d": HEX_A}, "DIGEST_MISMATCH", id="non-ascii-is-a-mismatch"),
    ],
)
def test_digest_match(mine: Any, theirs: dict[str, Any] | None, expected: str | None) -> None:
    fn = check("digest_match", ["payload.d"], {"against": "attestation.d"})
    assert fn(ctx(payload={"d": mine}, attestation=theirs)) == (
        [] if expected is None else [("payload.d", expected)]
    )


# scenario_version ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("theirs", "mine", "expected"),
    [
        ("1.0.0", "1.0.0", []),
        ("1.4.2", "1.0.0", []),
        ("1", "1.2.0", []),
        ("2.0.0", "1.0.0", [("request.scenario_version", "VERSION_MISMATCH")]),
        ("10.0.0", "1.0.0", [("request.scenario_version", "VERSION_MISMATCH")]),
        ("0.9.0", "1.0.0", [("request.scenario_version", "VERSION_MISMATCH")]),
    ],
)
def test_scenario_version(theirs: str, mine: str, expected: Failures) -> None:
    fn = check("scenario_version", ["request.scenario_version"])
    assert fn(ctx(make_request(scenario_version=theirs), ruleset_version=mine)) == expected


# no_clear_pi ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("ID 110105199003074513 on file", "PI_CN_ID"),
        ("HKID A123456(3)", "PI_HKID"),
        ("card 4111 1111 1111 1111", "PI_CARD"),
        ("call +852 9123 4567", "PI_PHONE"),
        ("call +86 138 0013 8000", "PI_PHONE"),
        ("ref INV-2025-000123", None),
        ("LEI5493001KJTIIGC8Y1R12345", None),  # digits inside an identifier are not a card number
    ],
)
def test_pi_code(text: str, code: str | None) -> None:
    assert pi_code(text) == code


def test_no_clear_pi_exempts_a_valid_identifier_of_the_declared_kind() -> None:
    env = CheckEnv(clear_fields=(("payload.note", None), ("payload.uscc", "uscc")))
    fn = check("no_clear_pi", [], {"all_clear_fields": True}, env)
    uscc = "91350100M000100Y43"
    assert fn(ctx(payload={"note": "fine", "uscc": uscc})) == []
    assert fn(ctx(payload={"note": ["ok", "HKID A123456(3)"], "uscc": None})) == [("payload.note", "PI_HKID")]
    # without its declared kind the same 18-character text is taken for what it looks like
    assert check("no_clear_pi", ["payload.uscc"])(ctx(payload={"uscc": "110105199003074513"})) == [
        ("payload.uscc", "PI_CN_ID")
    ]


# quota (stateful: the compare; the window update is the quota hop's) -------------------------------


QUOTA = {
    "key": "payload.payer_hkid_hmac",
    "amount": "payload.amount_hkd",
    "window": "day",
    "limit": "10000",
}


@pytest.mark.parametrize(
    ("used", "expected"),
    [
        (None, []),  # the rule did not apply (no amount): nothing to compare
        ({"PCN-03": Decimal("10000.00")}, []),
        ({"PCN-03": Decimal("10000.01")}, [("payload.amount_hkd", "LIMIT_EXCEEDED")]),
        ({"PCN-04": Decimal("9999999")}, []),  # another rule's total does not count
    ],
)
def test_quota(used: Mapping[str, Any] | None, expected: Failures) -> None:
    """The check compares the total after this request, which the quota agent computes, for its rule."""
    fn = check("quota", ["payload.amount_hkd"], QUOTA, CheckEnv(rule_id="PCN-03"))
    assert fn(ctx(payload=pcn_payload(), quota_used=used)) == expected


@pytest.mark.parametrize(
    ("broken", "match"),
    [
        ({"window": "week"}, "window"),
        ({"limit": "lots"}, "limit"),
        ({"key": "body.x"}, "body.x"),
    ],
)
def test_quota_bad_params(broken: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        check("quota", ["payload.amount_hkd"], {**QUOTA, **broken})


@pytest.mark.parametrize("missing", ["key", "window", "limit"])
def test_quota_missing_params(missing: str) -> None:
    params = {k: v for k, v in QUOTA.items() if k != missing}
    with pytest.raises(ValueError, match=missing):
        check("quota", ["payload.amount_hkd"], params)
