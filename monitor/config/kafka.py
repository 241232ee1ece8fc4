"""``[kafka]`` of the configuration: how every client authenticates to the brokers.

::

    [kafka]
    security_protocol = "SASL_SSL"          # PLAINTEXT (default) | SSL | SASL_PLAINTEXT | SASL_SSL
    sasl_mechanism = "SCRAM-SHA-512"        # PLAIN | SCRAM-SHA-256 | SCRAM-SHA-512 (SASL only)
    sasl_username = "sqm"
    sasl_password_file = "/run/secrets/kafka-password"   # or: sasl_password_env = "SQM_KAFKA_PASSWORD"
    ssl_cafile = "/etc/sqm/kafka-ca.pem"    # default: the system's CAs (SSL, SASL_SSL only)
    ssl_certfile = "/etc/sqm/client.pem"    # a client certificate (mutual TLS)
    ssl_keyfile = "/etc/sqm/client.key"     # its unencrypted private key

The password never comes from the TOML file (which travels in repositories and config maps): it
is read once, at load time, from a file or an environment variable, and lives in a ``Secret``
whose ``repr`` and ``str`` hide it. Files must exist and parse at load time, so a typo stops
start-up with a message naming the key rather than a TLS error on the first connection.
"""

from __future__ import annotations

import hmac
import os
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from monitor.config import check
from monitor.config.errors import ConfigError

PROTOCOLS: Final = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
MECHANISMS: Final = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")
SASL_PROTOCOLS: Final = frozenset({"SASL_PLAINTEXT", "SASL_SSL"})
TLS_PROTOCOLS: Final = frozenset({"SSL", "SASL_SSL"})
_SASL_KEYS: Final = ("sasl_mechanism", "sasl_username", "sasl_password_file", "sasl_password_env")
_TLS_KEYS: Final = ("ssl_cafile", "ssl_certfile", "ssl_keyfile")
_KEYS: Final = frozenset({"security_protocol", *_SASL_KEYS, *_TLS_KEYS})



class Secret:
    """A password: ``reveal()`` gives it to the client that sends it; nothing else shows it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and hmac.compare_digest(self._value, other._value)

    def __hash__(self) -> int:
        return hash(Secret)


@dataclass(frozen=True, slots=True)
class KafkaConfig:
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    #: read at load time from ``password_source``
    sasl_password: Secret | None = field(default=None, repr=False)
    #: where the password came from, for messages: ``kafka.sasl_password_file (/path)``
    password_source: str | None = None
    ssl_cafile: str | None = None
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None

    @property
    def uses_sasl(self) -> bool:
        return self.security_protocol in SASL_PROTOCOLS

    @property
    def uses_tls(self) -> bool:
        return self.security_protocol in TLS_PROTOCOLS

    def summary(self) -> str:
        """One line for ``sqm check-config`` and start-up messages; never the password."""
        parts = [f"kafka: security_protocol {self.security_protocol}"]
        if self.uses_sasl:
            parts.append(f"sasl {self.sasl_mechanism} as user {self.sasl_username!r}, "
                         f"password from {self.password_source}")
        if self.uses_tls:
            parts.append(f"CA {self.ssl_cafile or 'system default'}")
            if self.ssl_certfile:
                parts.append(f"client certificate {self.ssl_certfile}"
                             + (f" (key {self.ssl_keyfile})" if self.ssl_keyfile else ""))
        return ", ".join(parts)


def parse_kafka(raw: Any, env: Mapping[str, str]) -> KafkaConfig:
    """The ``[kafka]`` table (None: PLAINTEXT); ``env`` holds ``sasl_password_env``'s variable."""
    if raw is None:
        return KafkaConfig()
    if isinstance(raw, Mapping) and "sasl_password" in raw:  # the value is never echoed
        raise ConfigError("kafka.sasl_password: the password is never read from the config "
                          "file; use kafka.sasl_password_file or kafka.sasl_password_env")
    raw = check.table("kafka", raw, _KEYS, header=True)
    for key, value in raw.items():
        check.non_empty(f"kafka.{key}", value)
    protocol = raw.get("security_protocol", "PLAINTEXT")
    if protocol not in PROTOCOLS:
        raise ConfigError(f"kafka.security_protocol: expected one of {', '.join(PROTOCOLS)}, "
                               f"got {protocol!r}")
    _only_with(raw, protocol)
    tls = _tls(raw) if protocol in TLS_PROTOCOLS else {}
    mechanism, username, password, source = (_sasl(raw, protocol, env)
                                             if protocol in SASL_PROTOCOLS else (None,) * 4)
    return KafkaConfig(protocol, mechanism, username, password, source,
                       tls.get("ssl_cafile"), tls.get("ssl_certfile"), tls.get("ssl_keyfile"))


def _sasl(raw: Mapping[str, Any], protocol: str, env: Mapping[str, str]
          ) -> tuple[str, str, Secret, str]:
    """Mechanism, user name, password and where it came from."""
    mechanism, username = raw.get("sasl_mechanism"), raw.get("sasl_username")
    if mechanism is None:
        raise ConfigError(f"kafka.sasl_mechanism: required with {protocol} "
                               f"(one of {', '.join(MECHANISMS)})")
    if mechanism not in MECHANISMS:
        raise ConfigError(f"kafka.sasl_mechanism: expected one of {', '.join(MECHANISMS)}, "
                               f"got {mechanism!r}")
    if username is None:
        raise ConfigError(f"kafka.sasl_username: required with {protocol}")
    return (mechanism, username, *_password(raw, env))


def _only_with(raw: Mapping[str, Any], protocol: str) -> None:
    """SASL keys without SASL, or TLS files without TLS, are a mistake, not something to ignore."""
    for key in _SASL_KEYS:
        if key in raw and protocol not in SASL_PROTOCOLS:
            raise ConfigError(f"kafka.{key}: only with security_protocol SASL_PLAINTEXT or "
                                   f"SASL_SSL (it is {protocol})")
    for key in _TLS_KEYS:
        if key in raw and protocol not in TLS_PROTOCOLS:
            raise ConfigError(f"kafka.{key}: only with security_protocol SSL or SASL_SSL "
                                   f"(it is {protocol})")


def _password(raw: Mapping[str, Any], env: Mapping[str, str]) -> tuple[Secret, str]:
    """Read once, here: exactly one of a file (its content, less one final newline) or a
    variable."""
    given = [k for k in ("sasl_password_file", "sasl_password_env") if k in raw]
    if len(given) != 1:
        raise ConfigError("kafka.sasl_password_file: exactly one of kafka.sasl_password_file "
                               "and kafka.sasl_password_env is required with SASL"
                               + (" (both are set)" if given else ""))
    if given[0] == "sasl_password_env":
        name = raw["sasl_password_env"]
        value = env.get(name, "")
        if not value:
            raise ConfigError(f"kafka.sasl_password_env: environment variable {name} is not "
                                   f"set or empty")
        return Secret(value), f"kafka.sasl_password_env ({name})"
    path = Path(raw["sasl_password_file"])
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"kafka.sasl_password_file: file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise ConfigError(f"kafka.sasl_password_file: cannot read {path}: {reason}") from None
    value = text.removesuffix("\n").removesuffix("\r")
    if not value:
        raise ConfigError(f"kafka.sasl_password_file: {path} is empty")
    return Secret(value), f"kafka.sasl_password_file ({path})"


def no_password() -> str:
    """For an encrypted key: fail with an error rather than OpenSSL's prompt on the terminal."""
    return ""


def _tls(raw: Mapping[str, Any]) -> dict[str, str]:
    """The TLS files, each checked by loading it the way the clients will."""
    files: dict[str, str] = {}
    for key in _TLS_KEYS:
        if key in raw:
            path = raw[key]
            if not os.path.isfile(path):
                raise ConfigError(f"kafka.{key}: file not found: {path}")
            files[key] = path
    if "ssl_keyfile" in files and "ssl_certfile" not in files:
        raise ConfigError("kafka.ssl_keyfile: needs kafka.ssl_certfile (the client "
                               "certificate it belongs to)")
    context = ssl.create_default_context()
    if "ssl_cafile" in files:
        try:
            context.load_verify_locations(cafile=files["ssl_cafile"])
        except ssl.SSLError as exc:
            raise ConfigError(f"kafka.ssl_cafile: {files['ssl_cafile']} holds no PEM "
                                   f"certificate ({exc.reason or exc})") from None
    if "ssl_certfile" in files:
        try:
            context.load_cert_chain(files["ssl_certfile"], files.get("ssl_keyfile"), no_password)
        except ssl.SSLError as exc:
            key = "ssl_keyfile" if "ssl_keyfile" in files else "ssl_certfile"
            raise ConfigError(f"kafka.{key}: the client certificate and key do not load "
                                   f"({exc.reason or exc}); PEM, key unencrypted") from None
    return files
