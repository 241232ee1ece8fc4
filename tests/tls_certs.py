"""Certificates made by the tests: a CA, a server certificate for 127.0.0.1 and localhost, and a
client certificate, both signed by that CA, and a second CA that signed nothing (PEM files in a
directory). The tests' only maker of keys and certificates."""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@dataclass(frozen=True)
class Certs:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    server_keystore: Path  # server key, certificate and CA in one file (a Kafka PEM keystore)
    other_ca: Path  # a CA that signed nothing of these


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _issue(subject: str, key: ec.EllipticCurvePrivateKey, issuer: x509.Name,
           issuer_key: ec.EllipticCurvePrivateKey, *, ca: bool = False,
           sans: list[x509.GeneralName] | None = None,
           usage: x509.ObjectIdentifier | None = None) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    b = (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(issuer)
         .public_key(key.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(now - datetime.timedelta(minutes=5))
         .not_valid_after(now + datetime.timedelta(days=1))
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if ca:
        b = b.add_extension(x509.KeyUsage(
            digital_signature=True, content_commitment=False, key_encipherment=False,
            data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
            encipher_only=False, decipher_only=False), critical=True)
        b = b.add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                            critical=False)
    else:
        b = b.add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
            issuer_key.public_key()), critical=False)
    if sans:
        b = b.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    if usage is not None:
        b = b.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    return b.sign(issuer_key, hashes.SHA256())


def make_certs(directory: Path) -> Certs:
    """Write the CA, server, client and other-CA files into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _issue("sqm test CA", ca_key, _name("sqm test CA"), ca_key, ca=True)
    server_key = ec.generate_private_key(ec.SECP256R1())
    server = _issue("127.0.0.1", server_key, ca.subject, ca_key,
                    sans=[x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                          x509.DNSName("localhost")],
                    usage=ExtendedKeyUsageOID.SERVER_AUTH)
    client_key = ec.generate_private_key(ec.SECP256R1())
    client = _issue("prometheus", client_key, ca.subject, ca_key,
                    usage=ExtendedKeyUsageOID.CLIENT_AUTH)
    other_key = ec.generate_private_key(ec.SECP256R1())
    other = _issue("another CA", other_key, _name("another CA"), other_key, ca=True)
    out = Certs(directory / "ca.crt", directory / "server.crt", directory / "server.key",
                directory / "client.crt", directory / "client.key", directory / "server.pem",
                directory / "other-ca.crt")
    pem = serialization.Encoding.PEM
    out.ca.write_bytes(ca.public_bytes(pem))
    out.server_cert.write_bytes(server.public_bytes(pem))
    out.server_key.write_bytes(_pem_key(server_key))
    out.client_cert.write_bytes(client.public_bytes(pem))
    out.client_key.write_bytes(_pem_key(client_key))
    out.server_keystore.write_bytes(_pem_key(server_key) + server.public_bytes(pem)
                                    + ca.public_bytes(pem))
    out.other_ca.write_bytes(other.public_bytes(pem))
    return out
