"""A throw-away certificate authority for a secured local Kafka (development and tests only).

:func:`make_test_pki` writes, into one directory, a CA certificate (``ca.pem``) and a broker key and
certificate for ``127.0.0.1``/``localhost`` signed by it, as the PEM key store Kafka 4.x reads
(``ssl.keystore.type=PEM``: ``broker-keystore.pem`` holds the unencrypted PKCS#8 key and then the
certificate chain). The CA's private key is not written at all: nothing can be signed by it later.
Keys are EC P-256, valid for ``days`` days. Production brokers get their certificates from the
deployment's own CA, never from here.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = ["GeneratedPki", "make_test_pki"]

BROKER_CN = "crossbound-broker"


@dataclass(frozen=True, slots=True)
class GeneratedPki:
    """Where the PEM files are: the CA (clients trust it) and the broker's key store."""

    ca_file: Path
    keystore_file: Path
    broker_principal: str = f"User:CN={BROKER_CN}"


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def make_test_pki(directory: Path, *, days: int = 2) -> GeneratedPki:
    """Generate the CA and broker certificate into ``directory`` (created, mode 0700)."""
    directory.mkdir(parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    now = datetime.datetime.now(datetime.UTC) - datetime.timedelta(minutes=5)
    until = now + datetime.timedelta(days=days)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("crossbound test CA")
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(until)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True
        )
        .sign(ca_key, hashes.SHA256())
    )
    broker_key = ec.generate_private_key(ec.SECP256R1())
    san = x509.SubjectAlternativeName(
        [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    )
    broker_cert = (
        x509.CertificateBuilder()
        .subject_name(_name(BROKER_CN))
        .issuer_name(ca_name)
        .public_key(broker_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(until)
        .add_extension(san, critical=False)
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    ca_file, keystore = directory / "ca.pem", directory / "broker-keystore.pem"
    ca_file.write_bytes(ca_cert.public_bytes(pem))
    key_pem = broker_key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    fd = os.open(keystore, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(key_pem + broker_cert.public_bytes(pem) + ca_cert.public_bytes(pem))
    return GeneratedPki(ca_file, keystore)
