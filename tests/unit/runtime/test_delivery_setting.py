"""The delivery setting: parsing (flag, environment, default) and the refusal of exactly_once on Tansu."""

from __future__ import annotations

import subprocess
import sys

import pytest
from pydantic import ValidationError

from crossbound.cli import build_parser, main, settings_from_args
from crossbound.errors import ConfigError
from crossbound.runtime.worker import check_delivery, on_tansu
from crossbound.settings import KafkaSettings, Settings

KAFKA = "kafka://127.0.0.1:9092"


def test_default_is_at_least_once() -> None:
    assert Settings().kafka.delivery == "at_least_once"


def test_flag_sets_delivery() -> None:
    args = build_parser().parse_args(["worker", "--broker", KAFKA, "--delivery", "exactly_once"])
    assert settings_from_args(args).kafka.delivery == "exactly_once"


def test_flag_absent_keeps_the_default() -> None:
    args = build_parser().parse_args(["worker", "--broker", KAFKA])
    assert settings_from_args(args).kafka.delivery == "at_least_once"


def test_environment_sets_delivery(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CROSSBOUND_KAFKA__DELIVERY", "exactly_once")
    assert Settings().kafka.delivery == "exactly_once"


def test_unknown_delivery_is_refused() -> None:
    with pytest.raises(ValidationError):
        KafkaSettings(delivery="at_most_once")  # type: ignore[arg-type]
    with pytest.raises(SystemExit):
        build_parser().parse_args(["worker", "--delivery", "exactly-once"])


@pytest.mark.parametrize(
    ("broker", "compat", "tansu"),
    [
        (None, None, True),
        (None, False, True),
        (KAFKA, True, True),
        (KAFKA, None, False),
        (KAFKA, False, False),
    ],
)
def test_on_tansu(broker: str | None, compat: bool | None, tansu: bool) -> None:
    settings = Settings(kafka=KafkaSettings(broker=broker, compat_tansu=compat))
    assert on_tansu(settings) is tansu


def test_exactly_once_on_tansu_is_refused_in_one_line() -> None:
    settings = Settings(kafka=KafkaSettings(delivery="exactly_once"))
    with pytest.raises(ConfigError) as info:
        check_delivery(settings, tansu=True)
    message = str(info.value)
    assert "\n" not in message
    assert "kafka.delivery=exactly_once" in message
    assert "Tansu" in message
    assert "transactions" in message


def test_exactly_once_on_kafka_and_at_least_once_anywhere_pass() -> None:
    check_delivery(Settings(kafka=KafkaSettings(broker=KAFKA, delivery="exactly_once")), tansu=False)
    check_delivery(Settings(), tansu=True)
    check_delivery(Settings(kafka=KafkaSettings(broker=KAFKA)), tansu=False)


def test_worker_refuses_exactly_once_on_the_embedded_broker(capsys: pytest.CaptureFixture[str]) -> None:
    # no --broker: the embedded Tansu; the check runs before anything loads or starts
    assert main(["worker", "--delivery", "exactly_once", "--no-metrics"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("crossbound: kafka.delivery=exactly_once")
    assert "Tansu" in err
    assert len(err.splitlines()) == 1


def test_idempotent_producer_by_default_on_kafka_not_on_tansu() -> None:
    from crossbound.runtime.worker import for_broker

    assert for_broker(Settings(), tansu=False).kafka.idempotence is True
    assert for_broker(Settings(), tansu=True).kafka.idempotence is False
    weak = Settings(kafka={"acks": "1"})
    assert for_broker(weak, tansu=False).kafka.idempotence is False  # idempotence needs acks=all
    off = Settings(kafka={"idempotence": False})
    assert for_broker(off, tansu=False).kafka.idempotence is False
    forced = Settings(kafka={"idempotence": True})
    assert for_broker(forced, tansu=True).kafka.idempotence is True


def test_idempotence_with_weak_acks_is_refused() -> None:
    with pytest.raises(ValidationError, match="idempotence needs acks=all"):
        Settings(kafka={"idempotence": True, "acks": "1"})


def test_faust_producer_is_made_idempotent_with_acks_all() -> None:
    # in a fresh interpreter: the patch is process-wide
    code = (
        "import faust\n"
        "from faust.transport.drivers import aiokafka as d\n"
        "from crossbound.runtime.eos import install_idempotent_producer\n"
        "app = faust.App('t', broker='kafka://127.0.0.1:1')\n"
        "p = d.Producer(app.transport)\n"
        "assert p._settings_extra() == {}, p._settings_extra()\n"
        "install_idempotent_producer()\n"
        "assert p._settings_extra() == {'acks': 'all', 'enable_idempotence': True}\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
