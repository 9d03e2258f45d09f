"""`crossbound check`, `publish` and `--version` in-process: verdicts as JSON, exit 2 naming what is wrong.

No broker: `check` is offline, `publish` must refuse a bad line before it connects to anything, and
every command that takes a broker says in one line that a closed port cannot be reached.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from crossbound import __version__
from crossbound._data import default_rulesets_dir, default_schemas_dir
from crossbound.broker.net import free_port
from crossbound.cli import build_parser, main, settings_from_args
from crossbound.cli.check import FAIL_ON_EXIT
from crossbound.testing.traffic import Traffic

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
NOW = "2026-11-24T09:00:00Z"
REQUESTS = sorted(EXAMPLES.glob("*/*.request.json"))
SBCCR = "sb_corporate_credit_report"
SBCCR_ACCEPT = EXAMPLES / SBCCR / "accept.request.json"
FINGERPRINT_MODE = {p.parent.name for p in EXAMPLES.glob("*/accept.fingerprint.json")}


def _attestation_of(request_file: Path) -> Path:
    return request_file.with_name(request_file.name.replace(".request.", ".attestation."))


def _answers_of(request_file: Path) -> list[str]:
    """The flags that give ``check`` the fixture's answer: its attestation, or its registry record."""
    attestation = _attestation_of(request_file)
    fingerprint = request_file.with_name(request_file.name.replace(".request.", ".fingerprint."))
    if fingerprint.exists():
        return ["--fingerprints", str(fingerprint)]
    return ["--attestation", str(attestation)] if attestation.exists() else []


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
    code, out, err = _check(capsys, scenario, request_file, *_answers_of(request_file))
    assert code == 0, err
    verdict = json.loads(out)
    assert verdict["outcome"] == request_file.name.split(".")[0].upper(), verdict["findings"]
    assert verdict["scenario_id"] == scenario
    assert verdict["request_id"] == json.loads(request_file.read_text())["request_id"]
    assert verdict["decided_at"] == NOW


@pytest.mark.parametrize("scenario", sorted({p.parent.name for p in REQUESTS} - FINGERPRINT_MODE))
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


@pytest.mark.parametrize("scenario", sorted(FINGERPRINT_MODE))
def test_check_without_fingerprints_answers_a_fingerprint_mode_request_at_once(
    capsys: pytest.CaptureFixture[str], scenario: str
) -> None:
    code, out, err = _check(capsys, scenario, EXAMPLES / scenario / "accept.request.json")
    assert code == 0, err
    verdict = json.loads(out)
    assert verdict["outcome"] == "REJECT"  # nothing registered: no attestation to wait for
    rejects = [f["code"] for f in verdict["findings"] if f["severity"] == "REJECT"]
    assert rejects == ["FINGERPRINT_NOT_FOUND"]


def test_check_refuses_a_fingerprint_the_worker_would_dead_letter(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    folder = EXAMPLES / "sb_personal_credit_report_fingerprint"
    record = json.loads((folder / "accept.fingerprint.json").read_text())
    record["valid_until"] = record["valid_from"]
    bad = _write(tmp_path, "f.json", record)
    result = _check(capsys, folder.name, folder / "accept.request.json", "--fingerprints", str(bad))
    _usage_error(*result, "f.json: line 1", "fingerprint_inconsistent")


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


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A listening port nobody answers on: a command that connected leaves a connection behind."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.setblocking(False)
        yield server


def _no_connection(server: socket.socket) -> None:
    with pytest.raises(BlockingIOError):
        server.accept()[0].close()


def _url(server: socket.socket) -> str:
    return f"kafka://127.0.0.1:{server.getsockname()[1]}"


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
    capsys: pytest.CaptureFixture[str], tmp_path: Path, listener: socket.socket, bad: str, message: str
) -> None:
    # line 2 is blank (skipped but counted), line 3 is the bad one
    path = _requests_jsonl(tmp_path, [_valid_line(1), "", bad, _valid_line(2)])
    code, out, err = _run(capsys, "publish", "--broker", _url(listener), "--topic", "x", str(path))
    _usage_error(code, out, err, str(path), "line 3:", message)
    _no_connection(listener)


@OUT_OF_RANGE
def test_publish_value_out_of_range_exits_2_naming_the_line(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    listener: socket.socket,
    changes: dict[str, Any],
    field: str,
) -> None:
    path = _requests_jsonl(tmp_path, [_valid_line(3), json.dumps(_sbccr_request(**changes))])
    code, out, err = _run(capsys, "publish", "--broker", _url(listener), "--topic", "x", str(path))
    _usage_error(code, out, err, "line 2:", field)
    _no_connection(listener)


def test_publish_encodes_fingerprints_keyed_by_their_digest() -> None:
    from crossbound.cli.documents import read_documents
    from crossbound.cli.publish import encode_documents
    from crossbound.codec import Codec, SchemaRegistry

    settings = settings_from_args(build_parser().parse_args(["publish", "--topic", "t", "f"]))
    cases = EXAMPLES / "sb_personal_credit_report_fingerprint" / "cases" / "fp-revoked.fingerprints.jsonl"
    docs = read_documents(cases)
    codec = Codec(SchemaRegistry.load(default_schemas_dir()))
    records = encode_documents(settings, "fingerprint", docs)
    assert [key for key, _, _ in records] == [doc.value["digest"].encode() for doc in docs]
    assert [codec.decode(value)[1]["sequence"] for _, value, _ in records] == [1, 2]
    assert [headers for _, _, headers in records] == [(), ()]  # no --signing-key: unsigned


def test_publish_a_bad_fingerprint_exits_2_naming_the_line_without_connecting(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, listener: socket.socket
) -> None:
    record = json.loads(
        (EXAMPLES / "sb_personal_credit_report_fingerprint" / "accept.fingerprint.json").read_text()
    )
    path = _requests_jsonl(tmp_path, [json.dumps(record), json.dumps({**record, "sequence": "two"})])
    argv = [
        "publish",
        "--broker",
        _url(listener),
        "--topic",
        "sz.fingerprints",
        "--kind",
        "fingerprint",
        str(path),
    ]
    code, out, err = _run(capsys, *argv)
    _usage_error(code, out, err, "line 2:", "sequence")
    _no_connection(listener)


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


# -- check: the files publish reads, --json, --fail-on -------------------------------------------


def _example(outcome: str, kind: str) -> dict[str, Any]:
    data = json.loads((EXAMPLES / SBCCR / f"{outcome}.{kind}.json").read_text())
    assert isinstance(data, dict)
    return data


def test_check_reads_json_lines_and_pretty_objects_and_answers_in_order(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    outcomes = ["review", "accept", "reject"]
    requests = _write(tmp_path, "r.jsonl", "\n".join(json.dumps(_example(o, "request")) for o in outcomes))
    attestations = [
        _example(o, "attestation") for o in outcomes if (EXAMPLES / SBCCR / f"{o}.attestation.json").exists()
    ]
    answers = _write(tmp_path, "a.json", "\n".join(json.dumps(a, indent=2) for a in attestations))
    code, out, err = _check(capsys, SBCCR, requests, "--attestation", str(answers), "--json")
    assert code == 0, err
    results = [json.loads(line) for line in out.splitlines()]
    assert [r["outcome"] for r in results] == [o.upper() for o in outcomes]
    assert [r["request_id"] for r in results] == [_example(o, "request")["request_id"] for o in outcomes]


def test_check_a_json_array_without_scenario_flag(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    requests = _write(tmp_path, "r.json", [_example("accept", "request"), _example("review", "request")])
    code, out, err = _run(capsys, "check", str(requests), "--now", NOW, "--json")
    assert code == 0, err
    results = [json.loads(line) for line in out.splitlines()]
    assert [r["stage"] for r in results] == ["request", "request"]
    assert all(r["awaiting_attestation"] for r in results)


def test_check_second_object_broken_names_its_line(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    text = json.dumps(_example("accept", "request"), indent=2) + "\n" + '{"request_id": \n'
    path = _write(tmp_path, "two.json", text)
    first_lines = json.dumps(_example("accept", "request"), indent=2).count("\n") + 1
    _usage_error(*_check(capsys, SBCCR, path), str(path), f"line {first_lines + 1}:", "not JSON")


@pytest.mark.parametrize(
    ("outcome", "fail_on", "code"),
    [
        ("accept", "review", 0),
        ("review", "reject", 0),
        ("review", "review", FAIL_ON_EXIT),
        ("reject", "reject", FAIL_ON_EXIT),
        ("reject", "review", FAIL_ON_EXIT),
    ],
)
def test_check_fail_on_exits_1_when_an_outcome_is_that_severe(
    capsys: pytest.CaptureFixture[str], outcome: str, fail_on: str, code: int
) -> None:
    request = EXAMPLES / SBCCR / f"{outcome}.request.json"
    attestation = _attestation_of(request)
    extra = ["--attestation", str(attestation)] if attestation.exists() else []
    got, out, err = _check(capsys, SBCCR, request, *extra, "--fail-on", fail_on)
    assert got == code, err
    assert json.loads(out)["outcome"] == outcome.upper()  # the verdict is printed either way


def test_check_fail_on_counts_the_outcome_so_far(capsys: pytest.CaptureFixture[str]) -> None:
    request = EXAMPLES / SBCCR / "accept.request.json"
    assert _check(capsys, SBCCR, request, "--fail-on", "review")[0] == 0
    assert FAIL_ON_EXIT == 1


def test_check_help_documents_fail_on_and_its_exit_code(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["check", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "--fail-on {reject,review}" in out
    assert f"exit {FAIL_ON_EXIT} when any outcome is REJECT" in out


# -- broker flags: host:port, the environment, a broker that is down -----------------------------


@pytest.mark.parametrize("given", ["127.0.0.1:9092", "kafka://127.0.0.1:9092", "h1:1,h2:2"])
def test_broker_flag_takes_host_port_or_url(given: str) -> None:
    settings = settings_from_args(build_parser().parse_args(["worker", "--broker", given]))
    assert settings.kafka.broker == "kafka://" + given.removeprefix("kafka://")
    assert settings.kafka.bootstrap_servers == given.removeprefix("kafka://")


def test_broker_from_the_environment_as_host_port(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CROSSBOUND_KAFKA__BROKER", "127.0.0.1:9092")
    settings = settings_from_args(build_parser().parse_args(["publish", "--topic", "t", "f"]))
    assert settings.kafka.broker == "kafka://127.0.0.1:9092"


@pytest.mark.parametrize("bad", ["http://h:1", "h", "h:port", "kafka://"])
def test_bad_broker_exits_2(capsys: pytest.CaptureFixture[str], tmp_path: Path, bad: str) -> None:
    path = _requests_jsonl(tmp_path, [_valid_line(1)])
    code, out, err = _run(capsys, "publish", "--broker", bad, "--topic", "x", str(path))
    _usage_error(code, out, err, "kafka://host:port or host:port", repr(bad))


def _broker_commands(tmp_path: Path) -> dict[str, list[str]]:
    recording = _write(tmp_path, "rec.jsonl", "")
    return {
        "publish": ["publish", "--topic", "x", str(_requests_jsonl(tmp_path, [_valid_line(1)]))],
        "record": ["record", "--topic", "x", "--out", str(tmp_path / "out.jsonl")],
        "replay": ["replay", str(recording)],
        "demo": ["demo", "--count", "1"],
        "demo --join": ["demo", "--count", "1", "--join"],
        "worker": ["worker", "--no-metrics"],
    }


@pytest.mark.parametrize("command", ["publish", "record", "replay", "demo", "demo --join", "worker"])
@pytest.mark.parametrize("spelling", ["flag", "env"])
def test_a_broker_that_is_down_is_one_line_exit_1(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    command: str,
    spelling: str,
) -> None:
    port = free_port()  # closed: nothing listens there
    argv = _broker_commands(tmp_path)[command]
    if spelling == "flag":
        argv = [*argv, "--broker", f"127.0.0.1:{port}"]
    else:
        monkeypatch.setenv("CROSSBOUND_KAFKA__BROKER", f"127.0.0.1:{port}")
    code, out, err = _run(capsys, *argv)
    assert (code, out) == (1, ""), err
    assert err == f"crossbound: cannot reach broker kafka://127.0.0.1:{port} (Connection refused)\n"


@pytest.mark.parametrize("command", ["publish", "record", "replay"])
def test_a_command_without_broker_names_the_flag_and_the_variable(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    monkeypatch.delenv("CROSSBOUND_KAFKA__BROKER", raising=False)
    _usage_error(*_run(capsys, *_broker_commands(tmp_path)[command]), "--broker", "CROSSBOUND_KAFKA__BROKER")


@pytest.mark.parametrize("command", ["worker", "demo", "publish", "record", "replay"])
def test_help_of_every_broker_command_names_the_variable(
    capsys: pytest.CaptureFixture[str], command: str
) -> None:
    with pytest.raises(SystemExit):
        main([command, "--help"])
    out = capsys.readouterr().out
    assert "--broker [kafka://]HOST:PORT" in out
    assert "CROSSBOUND_KAFKA__BROKER" in out


def test_broker_down_as_a_user_sees_it_no_traceback(tmp_path: Path) -> None:
    port = free_port()
    path = _requests_jsonl(tmp_path, [_valid_line(4)])
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "crossbound",
            "publish",
            "--broker",
            f"127.0.0.1:{port}",
            "--topic",
            "x",
            str(path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr == f"crossbound: cannot reach broker kafka://127.0.0.1:{port} (Connection refused)\n"


@pytest.mark.parametrize(
    ("flag", "variable", "value", "attribute"),
    [
        ("--partitions", "CROSSBOUND_KAFKA__PARTITIONS", "8", ("kafka", "partitions")),
        ("--app-id", "CROSSBOUND_PIPELINE__APP_ID", "other", ("pipeline", "app_id")),
        ("--metrics-port", "CROSSBOUND_METRICS__PORT", "9999", ("metrics", "port")),
        ("--log-level", "CROSSBOUND_LOG_LEVEL", "INFO", ("log_level",)),
    ],
)
def test_a_setting_flag_and_the_variable_its_help_names_set_the_same_field(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    flag: str,
    variable: str,
    value: str,
    attribute: tuple[str, ...],
) -> None:
    def read(settings: Any) -> Any:
        for name in attribute:
            settings = getattr(settings, name)
        return settings

    with pytest.raises(SystemExit):
        main(["worker", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert f"{flag} " in help_text
    assert f"(env {variable}" in help_text
    from_flag = read(settings_from_args(build_parser().parse_args(["worker", flag, value])))
    monkeypatch.setenv(variable, value)
    from_env = read(settings_from_args(build_parser().parse_args(["worker"])))
    assert str(from_flag) == str(from_env) == value
