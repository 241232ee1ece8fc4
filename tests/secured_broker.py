"""A local broker with secured listeners next to its PLAINTEXT one, and the certificates for it.

The listeners: PLAINTEXT on ``port`` (the readiness probe and the broker's own traffic),
SASL_SSL on ``sasl_port`` (SCRAM-SHA-512 users created at format time, and PLAIN), and SSL with
required client certificates (mutual TLS) on ``sasl_port + 1``. The certificates are made here
with ``cryptography``: a CA, a server certificate for 127.0.0.1 and localhost, a client
certificate, and a second CA that signed nothing of this broker's. Kafka 4 reads PEM key and
trust stores directly.

Deliberately no pytest import, like ``kafka_broker``.
"""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from kafka_broker import HOST, free_port, start_broker, stop_broker

USER = "sqm-it"
PASSWORD = "s3cret-Pa55word-for-the-test"
PLAIN_USER = "sqm-plain"


@dataclass(frozen=True)
class Certs:
    ca: Path
    server: Path  # key and certificate chain, the broker's PEM keystore
    client_cert: Path
    client_key: Path
    other_ca: Path  # a CA that signed nothing of this broker's


@dataclass(frozen=True)
class SecuredBroker:
    port: int
    data_dir: Path
    plain: str  # 127.0.0.1:port, PLAINTEXT
    sasl_ssl: str  # 127.0.0.1:sasl_port, SASL_SSL
    mtls: str  # 127.0.0.1:sasl_port+1, SSL with client certificates
    certs: Certs


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _cert(subject: str, key: ec.EllipticCurvePrivateKey, issuer: str,
          issuer_key: ec.EllipticCurvePrivateKey, *, ca: bool,
          sans: list[x509.GeneralName] | None = None) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    b = (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(_name(issuer))
         .public_key(key.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(now - datetime.timedelta(hours=1))
         .not_valid_after(now + datetime.timedelta(days=2))
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if sans:
        b = b.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return b.sign(issuer_key, hashes.SHA256())


def make_certs(directory: Path) -> Certs:
    """A CA, a server certificate for 127.0.0.1 and localhost, a client certificate, another CA."""
    directory.mkdir(parents=True, exist_ok=True)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _cert("sqm test CA", ca_key, "sqm test CA", ca_key, ca=True)
    server_key = ec.generate_private_key(ec.SECP256R1())
    server = _cert("localhost", server_key, "sqm test CA", ca_key, ca=False, sans=[
        x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address(HOST))])
    client_key = ec.generate_private_key(ec.SECP256R1())
    client = _cert("sqm-client", client_key, "sqm test CA", ca_key, ca=False)
    other_key = ec.generate_private_key(ec.SECP256R1())
    other = _cert("another CA", other_key, "another CA", other_key, ca=True)
    pem = serialization.Encoding.PEM
    certs = Certs(directory / "ca.pem", directory / "server.pem", directory / "client.pem",
                  directory / "client.key", directory / "other-ca.pem")
    certs.ca.write_bytes(ca.public_bytes(pem))
    certs.server.write_bytes(_pem_key(server_key) + server.public_bytes(pem) + ca.public_bytes(pem))
    certs.client_cert.write_bytes(client.public_bytes(pem))
    certs.client_key.write_bytes(_pem_key(client_key))
    certs.other_ca.write_bytes(other.public_bytes(pem))
    return certs


def _properties(port: int, sasl_port: int, certs: Certs) -> str:
    ctl = port + 1
    listeners = (f"PLAINTEXT://{HOST}:{port},CONTROLLER://{HOST}:{ctl},"
                 f"SASL_SSL://{HOST}:{sasl_port},SSL://{HOST}:{sasl_port + 1}")
    return "\n".join([
        f"listeners={listeners}",
        f"advertised.listeners={listeners}",
        "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,"
        "SASL_SSL:SASL_SSL,SSL:SSL",
        "sasl.enabled.mechanisms=SCRAM-SHA-512,PLAIN",
        "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config="
        "org.apache.kafka.common.security.scram.ScramLoginModule required;",
        "listener.name.sasl_ssl.plain.sasl.jaas.config="
        f'org.apache.kafka.common.security.plain.PlainLoginModule required user_{PLAIN_USER}="{PASSWORD}";',
        "ssl.keystore.type=PEM",
        f"ssl.keystore.location={certs.server}",
        "ssl.truststore.type=PEM",
        f"ssl.truststore.location={certs.ca}",
        "listener.name.ssl.ssl.client.auth=required",
        "",
    ])


def start_secured_broker(data_dir: Path, certs_dir: Path) -> SecuredBroker:
    """Certificates, then a fresh broker with the three listeners; stop it with
    ``stop_secured_broker``."""
    certs = make_certs(certs_dir)
    port = free_port()
    sasl_port = free_port()
    while sasl_port in (port - 1, port, port + 1, port + 2):
        sasl_port = free_port()
    extra = certs_dir / "secured.properties"
    extra.write_text(_properties(port, sasl_port, certs), encoding="utf-8")
    plain = start_broker(port, data_dir, extra_config=extra,
                         add_scram=[f"SCRAM-SHA-512=[name={USER},password={PASSWORD}]"])
    return SecuredBroker(port, data_dir, plain, f"{HOST}:{sasl_port}", f"{HOST}:{sasl_port + 1}",
                         certs)


def stop_secured_broker(broker: SecuredBroker) -> None:
    stop_broker(broker.port, broker.data_dir)
