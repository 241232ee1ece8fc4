"""A local broker with secured listeners next to its PLAINTEXT one, and the certificates for it.

The listeners: PLAINTEXT on ``port`` (the readiness probe and the broker's own traffic),
SASL_SSL on ``sasl_port`` (SCRAM-SHA-512 users created at format time, and PLAIN), and SSL with
required client certificates (mutual TLS) on ``sasl_port + 1``. The certificates come from
``tls_certs``: a CA, a server certificate for 127.0.0.1 and localhost, a client certificate, and
a second CA that signed nothing of this broker's. Kafka 4 reads PEM key and trust stores
directly.

Deliberately no pytest import, like ``kafka_broker``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kafka_broker import HOST, free_port, start_broker, stop_broker
from tls_certs import Certs, make_certs

USER = "sqm-it"
PASSWORD = "s3cret-Pa55word-for-the-test"
PLAIN_USER = "sqm-plain"


@dataclass(frozen=True)
class SecuredBroker:
    port: int
    data_dir: Path
    plain: str  # 127.0.0.1:port, PLAINTEXT
    sasl_ssl: str  # 127.0.0.1:sasl_port, SASL_SSL
    mtls: str  # 127.0.0.1:sasl_port+1, SSL with client certificates
    certs: Certs


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
        f"ssl.keystore.location={certs.server_keystore}",
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
