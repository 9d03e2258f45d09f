"""TLS and SASL settings of every client: checked, loaded once, and the password never shown."""

from __future__ import annotations

import logging
import ssl
from pathlib import Path

import pytest
from aiokafka.errors import KafkaConnectionError, SaslAuthenticationFailed
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import Encoding

from crossbound.broker.kafka_config import KafkaNode, SecureMode, node_properties, scram_format_args
from crossbound.broker.security import PLAINTEXT, ClientSecurity, is_auth_failure
from crossbound.broker.testca import make_test_pki
from crossbound.cli import main
from crossbound.cli.broker import secure_mode
from crossbound.errors import ConfigError, InputError
from crossbound.runtime.app import faust_credentials
from crossbound.runtime.worker import check_security
from crossbound.settings import SecuritySettings, Settings

SECRET = "s3cret-hunter2-pw"


def _sasl(**extra: object) -> dict[str, object]:
    return {"protocol": "SASL_SSL", "sasl_username": "hk-bank", "sasl_password": SECRET, **extra}


def test_the_password_is_in_no_repr_no_log_view_and_no_log_line(caplog: pytest.LogCaptureFixture) -> None:
    settings = Settings(kafka={"security": _sasl()})
    security = ClientSecurity.from_settings(settings.kafka.security)
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("crossbound.test").info("settings %s %r %s", settings.as_dict(), settings, security)
    shown = [
        repr(settings),
        str(settings),
        str(settings.as_dict()),
        repr(security),
        security.describe(),
        caplog.text,
    ]
    assert all(SECRET not in text for text in shown)
    assert settings.as_dict()["kafka"]["security"]["sasl_password"] == "**********"
    assert security.describe() == "SASL_SSL as User:hk-bank"


@pytest.mark.parametrize(
    "security",
    [
        {"protocol": "PLAINTEXT", "sasl_password": SECRET},  # a password without SASL
        {"protocol": "SASL_SSL", "sasl_password": SECRET},  # no user
        _sasl(sasl_password_file="/etc/pw"),  # both password settings
        _sasl(cert_file="/c.pem"),  # a certificate without its key
    ],
)
def test_a_refused_setting_does_not_echo_the_password(security: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="validation error") as caught:
        Settings(kafka={"security": security})
    assert SECRET not in str(caught.value)


def test_the_cli_reports_a_bad_security_setting_without_the_password(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setenv("CROSSBOUND_KAFKA__SECURITY__SASL_PASSWORD", SECRET)  # but protocol stays PLAINTEXT
    docs = tmp_path / "none.jsonl"
    docs.write_text("", encoding="utf-8")
    assert main(["publish", "--broker", "127.0.0.1:9", "--topic", "hk.requests", str(docs)]) == 2
    err = capsys.readouterr().err
    assert "need protocol SASL_PLAINTEXT or SASL_SSL" in err
    assert SECRET not in err


@pytest.mark.parametrize(
    ("security", "fault"),
    [
        ({"protocol": "SASL_SSL", "sasl_password": SECRET}, "needs sasl_username"),
        ({"protocol": "SASL_PLAINTEXT", "sasl_username": "u"}, "exactly one of sasl_password"),
        ({"protocol": "PLAINTEXT", "ca_file": "/ca.pem"}, "need protocol SSL or SASL_SSL"),
        ({"protocol": "SSL", "key_file": "/k.pem"}, "cert_file and key_file go together"),
        (
            {"protocol": "SASL_SSL", "sasl_username": "u", "sasl_password": "p", "sasl_mechanism": "GSSAPI"},
            "sasl_mechanism",
        ),
    ],
)
def test_inconsistent_security_settings_are_refused(security: dict[str, object], fault: str) -> None:
    with pytest.raises(ValueError, match=fault):
        SecuritySettings(**security)  # type: ignore[arg-type]


def test_plaintext_is_the_default_and_adds_nothing() -> None:
    assert ClientSecurity.from_settings(Settings().kafka.security) == PLAINTEXT
    assert PLAINTEXT.aiokafka_kwargs() == {"security_protocol": "PLAINTEXT"}
    assert faust_credentials(PLAINTEXT) is None


def test_the_password_file_is_read_and_the_ca_loaded(tmp_path: Path) -> None:
    pki = make_test_pki(tmp_path / "pki")
    (tmp_path / "pw").write_text(SECRET + "\n", encoding="utf-8")
    settings = SecuritySettings(
        protocol="SASL_SSL", ca_file=pki.ca_file, sasl_username="u", sasl_password_file=tmp_path / "pw"
    )
    security = ClientSecurity.from_settings(settings)
    kwargs = security.aiokafka_kwargs()
    assert kwargs["sasl_plain_password"] == SECRET  # only the client's own arguments hold it
    assert kwargs["sasl_mechanism"] == "SCRAM-SHA-512"
    assert isinstance(kwargs["ssl_context"], ssl.SSLContext)
    assert kwargs["ssl_context"].check_hostname
    credentials = faust_credentials(security)
    assert credentials is not None
    assert credentials.protocol.value == "SASL_SSL"
    assert credentials.mechanism.value == "SCRAM-SHA-512"  # type: ignore[attr-defined]
    assert SECRET not in repr(credentials)
    tls_only = ClientSecurity.from_settings(SecuritySettings(protocol="SSL", ca_file=pki.ca_file))
    assert faust_credentials(tls_only).protocol.value == "SSL"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("content", "fault"), [(None, "cannot read the SASL password file"), ("\n", "is empty")]
)
def test_an_unusable_password_file_names_the_file(tmp_path: Path, content: str | None, fault: str) -> None:
    path = tmp_path / "pw"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    settings = SecuritySettings(protocol="SASL_PLAINTEXT", sasl_username="u", sasl_password_file=path)
    with pytest.raises(ConfigError, match=f"{path}: .*{fault}"):
        ClientSecurity.from_settings(settings)


def test_an_unusable_ca_file_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "ca.pem"
    bad.write_text("not a certificate", encoding="utf-8")
    with pytest.raises(ConfigError, match=f"{bad}: not a readable PEM CA file"):
        ClientSecurity.from_settings(SecuritySettings(protocol="SSL", ca_file=bad))


def test_an_auth_failure_is_recognised_through_its_causes() -> None:
    outer = ConfigError("wrapped")
    outer.__cause__ = SaslAuthenticationFailed("bad credentials")
    assert is_auth_failure(outer)
    assert not is_auth_failure(KafkaConnectionError("Unable to bootstrap"))


def test_the_secured_broker_properties(tmp_path: Path) -> None:
    pki = make_test_pki(tmp_path / "pki")
    secure = SecureMode(pki, ("admin", SECRET), {"hk-bank": "other-secret"})
    node = KafkaNode(1, 9092, 9093, tmp_path / "node-1")
    props = node_properties(node, [node], None, secure)
    assert props["listeners"] == "SASL_SSL://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093"
    assert props["listener.security.protocol.map"] == "SASL_SSL:SASL_SSL,CONTROLLER:SSL"
    assert props["authorizer.class.name"] == "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
    assert props["allow.everyone.if.no.acl.found"] == "false"
    assert props["super.users"] == "User:admin;User:CN=crossbound-broker"
    assert props["ssl.keystore.type"] == "PEM"
    assert scram_format_args(secure) == [
        "--add-scram",
        f"SCRAM-SHA-512=[name=admin,password={SECRET}]",
        "--add-scram",
        "SCRAM-SHA-512=[name=hk-bank,password=other-secret]",
    ]
    assert SECRET not in repr(secure)
    keystore = pki.keystore_file.read_bytes()
    # the broker's key (generated by this run) and its chain: the leaf certificate holds that key
    key = serialization.load_pem_private_key(keystore, password=None)
    chain = x509.load_pem_x509_certificates(keystore)
    assert len(chain) == 2
    public = serialization.PublicFormat.SubjectPublicKeyInfo
    assert chain[0].public_key().public_bytes(Encoding.PEM, public) == key.public_key().public_bytes(
        Encoding.PEM, public
    )
    assert pki.keystore_file.stat().st_mode & 0o777 == 0o600


def test_tls_or_sasl_with_the_embedded_broker_is_refused_before_it_starts(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CROSSBOUND_KAFKA__SECURITY__SASL_PASSWORD", SECRET)
    argv = ["--security-protocol", "SASL_SSL", "--sasl-username", "u"]
    assert main(["worker", *argv]) == 2
    assert main(["demo", *argv]) == 2
    err = capsys.readouterr().err
    assert err.count("kafka.security.protocol=SASL_SSL needs a --broker") == 2
    assert SECRET not in err
    check_security(Settings(kafka={"broker": "h:1", "security": _sasl()}))  # a broker given: fine


def test_the_broker_commands_secure_mode_makes_a_ca_an_admin_and_the_registry_users(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["registry", "generate", str(tmp_path / "reg")]) == 0
    capsys.readouterr()
    secure = secure_mode(tmp_path / "sec", tmp_path / "reg")
    admin_file = tmp_path / "sec" / "admin.password"
    assert secure.admin == ("admin", admin_file.read_text(encoding="utf-8").strip())
    assert admin_file.stat().st_mode & 0o777 == 0o600
    assert len(secure.users) == 21  # the simulator's 15 and the fixtures' 6
    assert (
        secure.users["hsbchkhhhkh"]
        == (tmp_path / "reg" / "scram" / "hsbchkhhhkh.password").read_text().strip()
    )
    assert secure.pki.ca_file == tmp_path / "sec" / "pki" / "ca.pem"
    assert secure_mode(tmp_path / "sec", None).admin == secure.admin  # the admin password is kept
    with pytest.raises(InputError, match="no scram/ directory"):
        secure_mode(tmp_path / "sec", tmp_path)
    assert main(["broker", "--secure", str(tmp_path / "sec")]) == 2
    assert "--secure and --users apply to --engine kafka" in capsys.readouterr().err
