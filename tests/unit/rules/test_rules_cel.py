"""CEL in rules (crossbound.rules.cel): compiling once, the roots a program reads, the values it sees,
and the ``cel`` check built on it."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest
from rules_builders import HEX_A, NOW, check, ctx, make_request

from crossbound.domain import LOCAL_TZ
from crossbound.rules.cel import CEL_ROOTS, cel_context, compile_cel


def test_cel_true_and_false() -> None:
    fn = check("cel", ["payload.flag"], {"expr": "payload.flag == true", "code": "FLAG"})
    assert fn(ctx(payload={"flag": True})) == []
    assert fn(ctx(payload={"flag": False})) == [("payload.flag", "FLAG")]


def test_cel_default_code_and_no_fields() -> None:
    fn = check("cel", [], {"expr": "payload.n > 3"})
    assert fn(ctx(payload={"n": 4})) == []
    assert fn(ctx(payload={"n": 2})) == [("", "CONDITION")]


def test_cel_non_boolean_raises() -> None:
    fn = check("cel", ["payload.n"], {"expr": "payload.n + 1"})
    with pytest.raises(TypeError):
        fn(ctx(payload={"n": 1}))


def test_cel_sees_every_root() -> None:
    fn = check(
        "cel",
        [],
        {
            "expr": "request.requester_side == 'HK' && consent.withdrawn == false && attestation.x == 'y' "
            "&& payload.issued < now && payload.amount > 1.0",
        },
    )
    good = ctx(payload={"issued": date(2025, 5, 1), "amount": Decimal("2.5")}, attestation={"x": "y"})
    assert fn(good) == []
    future = ctx(payload={"issued": date(2025, 7, 1), "amount": Decimal("2.5")}, attestation={"x": "y"})
    assert fn(future) == [("", "CONDITION")]


@pytest.mark.parametrize(("permit", "expected"), [(None, [("", "CONDITION")]), (HEX_A, [])])
def test_cel_null_comparison(permit: str | None, expected: list[tuple[str, str]]) -> None:
    fn = check("cel", [], {"expr": "payload.permit != null"})
    assert fn(ctx(payload={"permit": permit})) == expected


@pytest.mark.parametrize(
    ("params", "match"),
    [
        pytest.param({}, "expr", id="no-expr"),
        pytest.param({"expr": "payload.x =="}, "compile", id="does-not-compile"),
        pytest.param({"expr": "secrets.key == 'x'"}, "secrets", id="unknown-root"),
    ],
)
def test_cel_bad_params(params: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        check("cel", [], params)


def test_program_reads_only_the_roots_it_names() -> None:
    # a macro's bound variable (`t`) is not a root; the others are, each once
    prog = compile_cel("payload.tags.all(t, t in ['A', 'B']) && request.nonce != '' && payload.n > 1")
    assert sorted(prog.roots) == ["payload", "request"]
    assert prog.expr.startswith("payload.tags")
    assert {"request", "payload", "attestation", "consent", "now"} == CEL_ROOTS


def test_roots_can_be_narrowed() -> None:
    # applies_if reads the scenario header only
    assert compile_cel("scenario.personal_data", roots=frozenset({"scenario"})).roots == ("scenario",)
    with pytest.raises(ValueError, match="payload"):
        compile_cel("scenario.personal_data && payload.x", roots=frozenset({"scenario"}))


def test_context_converts_each_root_once_and_dates_to_local_midnight() -> None:
    c = ctx(make_request(consent=None), payload={"issued": date(2025, 5, 1), "at": NOW})
    variables = cel_context(c, ("payload", "consent", "now"))
    assert variables["payload"] == {"issued": datetime(2025, 5, 1, tzinfo=LOCAL_TZ), "at": NOW}
    assert variables["consent"] == {}  # no consent reads as an empty map
    assert variables["now"] is NOW
    assert c.cel_cache is not None
    assert set(c.cel_cache) == {"payload", "consent", "now"}
    again = cel_context(c, ("payload",))
    assert again == {"payload": variables["payload"]}
    assert again["payload"] is variables["payload"]  # converted once, shared by the context's programs
