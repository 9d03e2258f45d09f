"""Unit tests of crossbound.testing.synthetic: generated identifiers and institutions pass the very
checks (crossbound.identifiers) whose check-character functions build them.
"""

from __future__ import annotations

import random
import re

import pytest

from crossbound import identifiers
from crossbound.testing.synthetic import (
    CN_BANKS,
    CN_CREDIT_AGENCIES,
    HK_BANKS,
    HK_CRAS,
    bad_uscc,
    lei_with_check,
    random_cn_resident_id,
    random_hkid,
    random_unionpay_card,
    random_uscc,
    uscc_with_check,
)
from crossbound.testing.traffic import Traffic

NOW = 1_795_000_000.0
SCHEME_KIND = {"LEI": "lei", "BIC": "bic", "USCC": "uscc", "HK_BRN": "hk_brn"}


def test_generated_identifiers_are_valid() -> None:
    rng = random.Random(1)
    for _ in range(2000):
        assert identifiers.is_valid("hkid", random_hkid(rng))
        assert identifiers.is_valid("cn_resident_id", random_cn_resident_id(rng))
        permit = random_cn_resident_id(rng, "810000")
        assert permit.startswith("810000")
        assert identifiers.is_valid("cn_resident_id", permit)
        card = random_unionpay_card(rng)
        assert identifiers.is_valid("unionpay_card", card)
        uscc = random_uscc(rng)
        res = identifiers.check("uscc", uscc)
        assert res.valid
        assert res.warnings == ()
        assert not re.fullmatch(r"[0-9]{17}[0-9X]", uscc)
    assert uscc_with_check("9144030012345678") == "91440300123456788M"
    assert lei_with_check("5493001KJTIIGC8Y1R") == "5493001KJTIIGC8Y1R12"
    assert lei_with_check("254900HKCNSZDVP001") == "254900HKCNSZDVP00122"


def test_institutions_pass_their_checks() -> None:
    traffic = Traffic(seed=4, now=NOW)
    seen: set[tuple[str, str]] = set()
    for case in traffic.mix(500, weights={"valid": 1.0}):
        assert case.request is not None
        for name in ("requester_inst", "attester_inst"):
            inst = case.request[name]
            seen.add((inst["scheme"], inst["id"]))
            res = identifiers.check(SCHEME_KIND[inst["scheme"]], inst["id"])
            assert res.valid
            assert res.warnings == ()
            side = case.request[name.replace("_inst", "_side")]
            assert inst["city"] == "HK" if side == "HK" else re.fullmatch(r"[0-9]{6}", inst["city"])
    assert {s for s, _ in seen} == set(SCHEME_KIND)


@pytest.mark.parametrize(
    "institutions",
    [HK_BANKS, CN_CREDIT_AGENCIES, CN_BANKS, HK_CRAS],
    ids=["hk-banks", "cn-cras", "cn-banks", "hk-cras"],
)
def test_every_institution_passes_its_check(institutions: tuple[dict[str, str], ...]) -> None:
    for inst in institutions:
        res = identifiers.check(SCHEME_KIND[inst["scheme"]], inst["id"])
        assert res.valid, inst
        assert res.warnings == (), inst


def test_bad_uscc_fails_only_its_check_character() -> None:
    rng = random.Random(3)
    for _ in range(500):
        res = identifiers.check("uscc", bad_uscc(rng))
        assert res.code == "CHECK_DIGIT"


def test_a_generator_draws_the_same_identifiers_from_the_same_seed() -> None:
    def draw(seed: int) -> list[str]:
        rng = random.Random(seed)
        return [random_hkid(rng), random_cn_resident_id(rng), random_uscc(rng), random_unionpay_card(rng)]

    assert draw(5) == draw(5)
    assert draw(5) != draw(6)
