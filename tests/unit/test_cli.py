"""`crossbound check`, `publish` and `--version` in-process: verdicts as JSON, exit 2 naming what is wrong.

No broker: `check` is offline, and `publish` must refuse a bad line before it connects to anything.
"""

from __future__ import annotations

import json
import shutil
import socket
from pathlib import Path
from typing import Any

import pytest

import crossbound.cli.publish
from crossbound import __version__
from crossbound._data import default_rulesets_dir, default_schemas_dir
from crossbound.cli import main
from crossbound.testing.traffic import Traffic

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
NOW = "2026-11-24T09:00:00Z"
REQUESTS = sorted(EXAMPLES.glob("*/*.request.json"))
SBCCR = "sb_corporate_credit_report"
SBCCR_ACCEPT = EXAMPLES / SBCCR / "accept.request.json"


def _attestation_of(request_file: Path) -> Path:
    return request_file.with_name(request_file.name.replace(".request.", ".attestation."))


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _check(
    capsys: pytest.CaptureFixture[str], scenario: str, request: Path, *extra: str
) -> tuple[int, str, str]:
    return _run(capsys, "check", "--scenario", scenario, str(request), "--now", NOW, *extra)


def _usage_error(code: int, out: str, err: str, *names: str) -> None:
    """Exit 2, nothing on stdout, one `crossbound: ...` message on stderr naming every one of ``names``."""
    assert code == 2, (out, err)
    assert out == ""
    assert err.startswith("crossbound: "), err
    assert "Traceback" not in err
    for name in names:
        assert name in err, f"{name!r} not in {err!r}"


def _sbccr_request(**changes: Any) -> dict[str, Any]:
    request = json.loads(SBCCR_ACCEPT.read_text())
    assert isinstance(request, dict)
    for dotted, value in changes.items():
        *parents, last = dotted.split("__")
        target = request
        for p in parents:
            target = target[p]
        target[last] = value
    return request


def _write(tmp_path: Path, name: str, data: Any) -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


# -- check: the examples ------------------------------------------------------------------------


@pytest.mark.parametrize("request_file", REQUESTS, ids=lambda p: f"{p.parent.name}/{p.name.split('.')[0]}")
def test_check_prints_the_verdict_its_example_file_names(
    capsys: pytest.CaptureFixture[str], request_file: Path
) -> None:
    scenario = request_file.parent.name
    attestation = _attestation_of(request_file)
    extra = ["--attestation", str(attestation)] if attestation.exists() else []
    code, out, err = _check(capsys, scenario, request_file, *extra)
    assert code == 0, err
    verdict = json.loads(out)
    assert verdict["outcome"] == request_file.name.split(".")[0].upper(), verdict["findings"]
    assert verdict["scenario_id"] == scenario
    assert verdict["request_id"] == json.loads(request_file.read_text())["request_id"]
    assert verdict["decided_at"] == NOW


@pytest.mark.parametrize("scenario", sorted({p.parent.name for p in REQUESTS}))
def test_check_without_attestation_reports_the_request_stage(
    capsys: pytest.CaptureFixture[str], scenario: str
) -> None:
    code, out, err = _check(capsys, scenario, EXAMPLES / scenario / "accept.request.json")
    assert code == 0, err
    assert '"awaiting_attestation": true' in out
    result = json.loads(out)
    assert result["stage"] == "request"
    assert result["outcome_so_far"] == "ACCEPT"
    assert "outcome" not in result  # no verdict without the other side's answer


# -- check: unusable input exits 2 and says why --------------------------------------------------


def test_check_missing_request_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    missing = tmp_path / "nope.json"
    _usage_error(*_check(capsys, SBCCR, missing), str(missing), "No such file")


def test_check_missing_attestation_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    missing = tmp_path / "nope.attestation.json"
    result = _check(capsys, SBCCR, SBCCR_ACCEPT, "--attestation", str(missing))
    _usage_error(*result, str(missing), "No such file")


def test_check_request_that_is_not_json(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = _write(tmp_path, "broken.json", '{"request_id": ')
    _usage_error(*_check(capsys, SBCCR, path), str(path), "not JSON")


def test_check_request_that_is_not_an_object(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = _write(tmp_path, "list.json", [1, 2])
    _usage_error(*_check(capsys, SBCCR, path), str(path), "JSON object")


def test_check_scenario_flag_differs_from_scenario_id(capsys: pytest.CaptureFixture[str]) -> None:
    result = _check(capsys, "payment_connect_northbound", SBCCR_ACCEPT)
    _usage_error(*result, str(SBCCR_ACCEPT), f"scenario_id is '{SBCCR}'", "'payment_connect_northbound'")


def test_check_unknown_scenario(capsys: pytest.CaptureFixture[str]) -> None:
    _usage_error(*_check(capsys, "no_such_scenario", SBCCR_ACCEPT), "unknown scenario 'no_such_scenario'")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"consent__separate_xb_consent": "yes"}, "consent.separate_xb_consent: expected boolean"),
        ({"scenario_version": 1}, "scenario_version: expected string"),
        ({"payload__report_issued_on": "yesterday"}, "payload.report_issued_on: not a YYYY-MM-DD date"),
        ({"created_at": "2026-11-24T08:00:00"}, "created_at: timestamp needs a time zone"),
    ],
    ids=["envelope-bool", "envelope-string", "payload-date", "naive-timestamp"],
)
def test_check_field_of_the_wrong_type(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, changes: dict[str, Any], message: str
) -> None:
    path = _write(tmp_path, "bad.json", _sbccr_request(**changes))
    _usage_error(*_check(capsys, SBCCR, path), str(path), message)


def test_check_unknown_field(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = _write(tmp_path, "extra.json", _sbccr_request(payload__subject_name="ACME Ltd"))
    _usage_error(*_check(capsys, SBCCR, path), "payload", "unknown fields ['subject_name']")


def test_check_request_the_worker_would_dead_letter(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = _write(tmp_path, "sides.json", _sbccr_request(requester_side="SZ", attester_side="HK"))
    _usage_error(*_check(capsys, SBCCR, path), "would dead-letter", "wrong_side")


def test_check_attestation_for_another_request(capsys: pytest.CaptureFixture[str]) -> None:
    other = EXAMPLES / "payment_connect_northbound" / "accept.attestation.json"
    result = _check(capsys, SBCCR, SBCCR_ACCEPT, "--attestation", str(other))
    _usage_error(*result, "would dead-letter", "orphan_attestation")


# Values of the right JSON type but out of range: exit 2 naming the field, never a traceback.
OUT_OF_RANGE = pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"created_at": 10**20}, "created_at"),
        ({"payload__facility_amount": "1e30"}, "payload.facility_amount"),
        ({"payload__facility_amount": "123456789012345678901.00"}, "payload.facility_amount"),
    ],
    ids=["epoch-ms-overflow", "decimal-beyond-context", "decimal-beyond-schema-precision"],
)


@OUT_OF_RANGE
def test_check_value_out_of_range_exits_2_naming_the_field(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, changes: dict[str, Any], field: str
) -> None:
    path = _write(tmp_path, "big.json", _sbccr_request(**changes))
    _usage_error(*_check(capsys, SBCCR, path), str(path), field)


@pytest.mark.parametrize("now", ["2026-11-24T09:00:00", "2026-11-24 09:00:00"])
def test_check_now_without_time_zone(capsys: pytest.CaptureFixture[str], now: str) -> None:
    code, out, err = _run(capsys, "check", "--scenario", SBCCR, str(SBCCR_ACCEPT), "--now", now)
    _usage_error(code, out, err, "--now", "time zone")


def test_check_now_that_is_not_a_timestamp(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "check", "--scenario", SBCCR, str(SBCCR_ACCEPT), "--now", "tomorrow")
    _usage_error(code, out, err, "--now", "'tomorrow'")


def test_check_bad_rule_file_names_the_file_and_the_rule(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    rulesets = tmp_path / "rulesets"
    shutil.copytree(default_rulesets_dir(), rulesets)
    broken = rulesets / f"{SBCCR}.toml"
    text = broken.read_text()
    assert 'id = "SBCCR-01"' in text
    broken.write_text(text.replace('check = "identifier"', 'check = "no_such_check"', 1))
    result = _check(capsys, SBCCR, SBCCR_ACCEPT, "--rulesets", str(rulesets))
    _usage_error(*result, str(broken), "'SBCCR-01'", "no_such_check")


def test_check_unreadable_schema_names_the_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    schemas = tmp_path / "schemas"
    shutil.copytree(default_schemas_dir(), schemas)
    broken = schemas / "core" / "verdict.v1.avsc"
    broken.write_text('{"type": "record", "name": ')
    result = _check(capsys, SBCCR, SBCCR_ACCEPT, "--schemas", str(schemas))
    _usage_error(*result, str(broken), "JSON")


def test_check_payload_field_without_class_names_the_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    schemas = tmp_path / "schemas"
    shutil.copytree(default_schemas_dir(), schemas)
    broken = schemas / "scenarios" / SBCCR / "request.v1.avsc"
    schema = json.loads(broken.read_text())
    del schema["fields"][0]["class"]
    broken.write_text(json.dumps(schema))
    result = _check(capsys, SBCCR, SBCCR_ACCEPT, "--schemas", str(schemas))
    _usage_error(*result, str(broken), f"'{schema['fields'][0]['name']}'", "class")


# -- publish: everything is encoded before anything connects -------------------------------------


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _NoProducer:
    """Stands in for AIOKafkaProducer: publish must fail before it would be constructed."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        raise AssertionError("publish connected to a broker before every line was encoded")


def _requests_jsonl(tmp_path: Path, lines: list[str]) -> Path:
    path = tmp_path / "requests.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def _valid_line(seed: int) -> str:
    case = Traffic(seed=seed).case(SBCCR, "valid")
    return json.dumps(case.request)


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ('{"request_id": "x", ', "not JSON"),
        (json.dumps(_sbccr_request(scenario_version=1)), "scenario_version: expected string"),
        (json.dumps(_sbccr_request(scenario_id="nope")), "unknown scenario 'nope'"),
    ],
    ids=["not-json", "wrong-type", "unknown-scenario"],
)
def test_publish_bad_line_exits_2_naming_the_line_without_connecting(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    bad: str,
    message: str,
) -> None:
    monkeypatch.setattr(crossbound.cli.publish, "AIOKafkaProducer", _NoProducer)
    # line 2 is blank (skipped but counted), line 3 is the bad one
    path = _requests_jsonl(tmp_path, [_valid_line(1), "", bad, _valid_line(2)])
    code, out, err = _run(
        capsys, "publish", "--broker", f"kafka://127.0.0.1:{_closed_port()}", "--topic", "x", str(path)
    )
    _usage_error(code, out, err, "line 3:", message)


@OUT_OF_RANGE
def test_publish_value_out_of_range_exits_2_naming_the_line(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    changes: dict[str, Any],
    field: str,
) -> None:
    monkeypatch.setattr(crossbound.cli.publish, "AIOKafkaProducer", _NoProducer)
    path = _requests_jsonl(tmp_path, [_valid_line(3), json.dumps(_sbccr_request(**changes))])
    code, out, err = _run(capsys, "publish", "--broker", "kafka://127.0.0.1:9", "--topic", "x", str(path))
    _usage_error(code, out, err, "line 2:", field)


def test_publish_missing_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    missing = tmp_path / "none.jsonl"
    code, out, err = _run(capsys, "publish", "--broker", "kafka://127.0.0.1:9", "--topic", "x", str(missing))
    _usage_error(code, out, err, str(missing))


# -- --version -----------------------------------------------------------------------------------


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"crossbound {__version__}"
