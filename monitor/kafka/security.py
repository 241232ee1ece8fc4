"""One set of security options for every Kafka client, and a start-up check of the credentials.

``client_options`` gives aiokafka's keyword arguments (producers, consumers, the admin client;
Faust gets the same through ``monitor.quality.app``). ``check_access`` connects once before a
command starts its clients: aiokafka logs a refused login and retries it as if the broker were
down, then fails with "Unable to bootstrap", which says nothing about the password. Here a
refused login or a failed TLS handshake becomes one line that names the broker, the user and the
key to fix; the password is never part of it.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Mapping
from typing import Any, Final

from aiokafka.conn import create_conn
from aiokafka.errors import (
    AuthenticationFailedError,
    AuthenticationMethodNotSupported,
    IllegalSaslStateError,
    KafkaConnectionError,
    KafkaError,
    SaslAuthenticationFailed,
    UnsupportedSaslMechanismError,
)
from aiokafka.helpers import create_ssl_context

from monitor.config.kafka import KafkaConfig, no_password

#: aiokafka's keyword arguments for one client's security
ClientOptions = Mapping[str, Any]

CHECK_TIMEOUT_S: Final = 15.0
_AUTH_ERRORS: Final = (SaslAuthenticationFailed, AuthenticationFailedError,
                       AuthenticationMethodNotSupported, UnsupportedSaslMechanismError,
                       IllegalSaslStateError)


class KafkaAccessError(RuntimeError):
    """The broker answered but refused this client (login, TLS); the message is one line."""


def ssl_context(kafka: KafkaConfig) -> ssl.SSLContext:
    """The TLS context of SSL and SASL_SSL: the CA (else the system's), the client certificate."""
    context: ssl.SSLContext = create_ssl_context(
        cafile=kafka.ssl_cafile, certfile=kafka.ssl_certfile, keyfile=kafka.ssl_keyfile,
        password=no_password if kafka.ssl_certfile else None)
    return context


def client_options(kafka: KafkaConfig) -> dict[str, Any]:
    """aiokafka's ``security_protocol``, ``sasl_*`` and ``ssl_context`` for ``[kafka]``."""
    out: dict[str, Any] = {"security_protocol": kafka.security_protocol}
    if kafka.uses_tls:
        out["ssl_context"] = ssl_context(kafka)
    if kafka.uses_sasl:
        assert kafka.sasl_password is not None
        out.update(sasl_mechanism=kafka.sasl_mechanism, sasl_plain_username=kafka.sasl_username,
                   sasl_plain_password=kafka.sasl_password.reveal())
    return out


def _redact(text: str, kafka: KafkaConfig) -> str:
    one_line = " ".join(text.split())
    if kafka.sasl_password is not None:
        one_line = one_line.replace(kafka.sasl_password.reveal(), "***")
    return one_line


def _auth_message(address: str, kafka: KafkaConfig, exc: Exception) -> str:
    if isinstance(exc, UnsupportedSaslMechanismError):
        return (f"Kafka at {address} does not offer SASL mechanism {kafka.sasl_mechanism} on this "
                f"listener; check kafka.sasl_mechanism")
    return (f"Kafka at {address} refused the login of user {kafka.sasl_username!r} "
            f"({kafka.sasl_mechanism} over {kafka.security_protocol}): "
            f"{_redact(str(exc), kafka) or type(exc).__name__}; check kafka.sasl_username, "
            f"kafka.sasl_mechanism and the password in {kafka.password_source}")


def _closed_message(address: str, kafka: KafkaConfig) -> str:
    """The broker took the connection, then hung up: the listener speaks another protocol, or it
    wants a client certificate (TLS 1.3 refuses one only after the handshake)."""
    cert = ("; it may require a client certificate (kafka.ssl_certfile, kafka.ssl_keyfile)"
            if kafka.uses_tls else "")
    return (f"Kafka at {address} closed the connection while setting up "
            f"{kafka.security_protocol}: check that kafka.security_protocol is that listener's"
            f"{cert}")


def _tls_message(address: str, kafka: KafkaConfig, exc: ssl.SSLError) -> str:
    reason = getattr(exc, "verify_message", None) or exc.reason or str(exc)
    keys = "kafka.ssl_cafile" + (", kafka.ssl_certfile and kafka.ssl_keyfile"
                                 if kafka.ssl_certfile else "")
    return (f"the TLS handshake with Kafka at {address} failed ({_redact(str(reason), kafka)}); "
            f"check {keys} and that the address is the broker's TLS listener")


async def check_access(bootstrap: str, kafka: KafkaConfig) -> None:
    """Log in to the first broker that answers; raise ``KafkaAccessError`` if it refuses us.

    A broker that does not take the connection at all is left to the command (it has its own
    message and retries); PLAINTEXT has nothing to check.
    """
    if kafka.security_protocol == "PLAINTEXT":
        return
    options = client_options(kafka)
    for address in bootstrap.split(","):
        host, _, port = address.rpartition(":")
        try:
            conn = await asyncio.wait_for(
                create_conn(host, int(port), client_id="sqm-access-check",
                            request_timeout_ms=int(CHECK_TIMEOUT_S * 1000), **options),
                CHECK_TIMEOUT_S)
        except _AUTH_ERRORS as exc:
            raise KafkaAccessError(_auth_message(address, kafka, exc)) from None
        except ssl.SSLError as exc:
            raise KafkaAccessError(_tls_message(address, kafka, exc)) from None
        except KafkaConnectionError:
            raise KafkaAccessError(_closed_message(address, kafka)) from None
        except (OSError, KafkaError, TimeoutError):
            continue  # unreachable: try the next one, or let the command report it
        conn.close()
        return


def check_access_sync(bootstrap: str, kafka: KafkaConfig) -> None:
    """:func:`check_access` for the CLI, before a command starts its own loop."""
    asyncio.run(check_access(bootstrap, kafka))
