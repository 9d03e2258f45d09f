"""Every output of the golden runs (tests/unit/golden.py) is byte for byte what tests/golden/ pins."""

from __future__ import annotations

import json

import pytest

import golden


@pytest.mark.parametrize("run", sorted(golden.RUNS))
def test_outputs_are_byte_for_byte_the_golden_ones(run: str) -> None:
    expected = golden.read(run)
    got = golden.RUNS[run]()
    for n, (want, have) in enumerate(zip(expected, got, strict=False)):
        if want != have:
            step = json.loads(want).get("step", "tables")
            pytest.fail(
                f"{run}: output {n} (step {step}) differs:\n  golden {want[:300]}\n  now    {have[:300]}\n"
                "if the change is intended: .venv/bin/python tests/unit/golden.py --write, and say why"
            )
    assert len(got) == len(expected), f"{run}: {len(got)} outputs, golden has {len(expected)}"
