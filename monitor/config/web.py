"""``metrics_web_config``: TLS and basic auth of the metrics endpoint, in the web configuration
format of the Prometheus exporter-toolkit (the file node_exporter and friends take), so one file
serves both::

    tls_server_config:
      cert_file: server.crt            # relative paths: from the file's own directory
      key_file: server.key
      client_ca_file: clients-ca.crt   # optional: verify client certificates against it
      client_auth_type: RequireAndVerifyClientCert   # or VerifyClientCertIfGiven, NoClientCert
      min_version: TLS12               # TLS12 (default) or TLS13; max_version likewise
    basic_auth_users:
      prometheus: $2y$10$...           # bcrypt hash (htpasswd -nBC 10 "" | tr -d ':\\n')

Read and checked whole at start-up: the certificate and key are loaded into the TLS context
there, so a wrong path, a key that does not match or a hash that is not bcrypt stops start-up
with one message naming ``metrics_web_config`` and what is wrong. Keys of the format this
server does not implement (cipher suites, ``http_server_config``...) are refused rather than
ignored: a file that asks for something must not silently get less.
"""

from __future__ import annotations

import re
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import yaml

from monitor.config.errors import ConfigError

KEY: Final = "metrics_web_config"
_TOP_KEYS: Final = frozenset({"tls_server_config", "basic_auth_users"})
_TLS_KEYS: Final = frozenset({"cert_file", "key_file", "client_ca_file", "client_auth_type",
                              "min_version", "max_version"})
#: exporter-toolkit's names; RequestClientCert and RequireAnyClientCert (ask for a certificate
#: but do not verify it) have no equivalent in Python's ssl module and are refused.
CLIENT_AUTH: Final = {
    "NoClientCert": ssl.CERT_NONE,
    "VerifyClientCertIfGiven": ssl.CERT_OPTIONAL,
    "RequireAndVerifyClientCert": ssl.CERT_REQUIRED,
}
TLS_VERSIONS: Final = {"TLS12": ssl.TLSVersion.TLSv1_2, "TLS13": ssl.TLSVersion.TLSv1_3}
#: $2a$, $2b$ or $2y$, a two-digit cost, 22 characters of salt and 31 of hash
_BCRYPT: Final = re.compile(r"^\$2[aby]\$(0[4-9]|[12]\d|3[01])\$[./A-Za-z0-9]{53}$")



@dataclass(frozen=True, slots=True)
class TlsConfig:
    cert_file: Path
    key_file: Path
    client_ca_file: Path | None = None
    client_auth_type: str = "NoClientCert"
    min_version: str = "TLS12"
    max_version: str = "TLS13"


@dataclass(frozen=True, slots=True)
class WebConfig:
    tls: TlsConfig | None = None
    #: user name -> bcrypt hash; empty: no authentication
    users: dict[str, bytes] = field(default_factory=dict)
    #: built from ``tls`` at load time (which checks the files); None without TLS
    ssl_context: ssl.SSLContext | None = None


def load(path: str | Path) -> WebConfig:
    """Read, check and prepare the file at ``path``."""
    p = Path(path)
    try:
        raw = yaml.safe_load(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{KEY}: cannot read {p}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{KEY}: {p} is not valid YAML ({_one_line(exc)})") from None
    return parse(raw if raw is not None else {}, p.parent, str(p))


def parse(raw: Any, base: Path, name: str) -> WebConfig:
    """A parsed YAML document; relative file names are taken from ``base``."""
    where = f"{KEY}: {name}"
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{where}: expected a mapping at the top, got {type(raw).__name__}")
    unknown = sorted(str(k) for k in set(raw) - _TOP_KEYS)
    if unknown:
        raise ConfigError(f"{where}: {unknown[0]}: not supported (this server implements "
                             "tls_server_config and basic_auth_users)")
    tls = None
    if raw.get("tls_server_config") is not None:
        tls = _tls(raw["tls_server_config"], base, where)
    users = _users(raw.get("basic_auth_users"), where)
    return WebConfig(tls, users, None if tls is None else ssl_context(tls, where))


def _tls(raw: Any, base: Path, where: str) -> TlsConfig:
    key = f"{where}: tls_server_config"
    _tls_keys(raw, key)
    auth = raw.get("client_auth_type", "NoClientCert")
    if auth not in CLIENT_AUTH:
        raise ConfigError(f"{key}.client_auth_type: expected one of {', '.join(CLIENT_AUTH)}, "
                             f"got {auth!r}")
    ca = raw.get("client_ca_file")
    if auth != "NoClientCert" and ca is None:
        raise ConfigError(f"{key}.client_ca_file: required with client_auth_type {auth}")
    if ca is not None and auth == "NoClientCert":
        raise ConfigError(f"{key}.client_auth_type: client_ca_file is set but client "
                             "certificates are not asked for (NoClientCert)")
    low, high = raw.get("min_version", "TLS12"), raw.get("max_version", "TLS13")
    for k, v in (("min_version", low), ("max_version", high)):
        if v not in TLS_VERSIONS:
            raise ConfigError(f"{key}.{k}: expected TLS12 or TLS13, got {v!r}")
    if TLS_VERSIONS[low] > TLS_VERSIONS[high]:
        raise ConfigError(f"{key}.min_version: {low} is above max_version {high}")
    return TlsConfig(base / raw["cert_file"], base / raw["key_file"],
                     None if ca is None else base / ca, auth, low, high)


def _tls_keys(raw: Any, key: str) -> None:
    """A mapping of known keys to non-empty strings, with the certificate and its key."""
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{key}: expected a mapping")
    unknown = sorted(str(k) for k in set(raw) - _TLS_KEYS)
    if unknown:
        raise ConfigError(f"{key}.{unknown[0]}: not supported (supported: "
                             f"{', '.join(sorted(_TLS_KEYS))})")
    for k, v in raw.items():
        if not isinstance(v, str) or not v:
            raise ConfigError(f"{key}.{k}: expected a non-empty string, got {v!r}")
    for k in ("cert_file", "key_file"):
        if k not in raw:
            raise ConfigError(f"{key}.{k}: required with tls_server_config")


def _users(raw: Any, where: str) -> dict[str, bytes]:
    key = f"{where}: basic_auth_users"
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise ConfigError(f"{key}: expected a mapping of user name to bcrypt hash")
    out: dict[str, bytes] = {}
    for user, hashed in raw.items():
        if not isinstance(user, str) or not user or ":" in user:
            raise ConfigError(f"{key}: user name {user!r}: expected a non-empty string "
                                 "without ':'")
        if not isinstance(hashed, str) or not _BCRYPT.match(hashed):
            # the hash is a secret of sorts: name the user, not the value
            raise ConfigError(f"{key}.{user}: not a bcrypt hash ($2a$, $2b$ or $2y$, cost "
                                 "04..31, 53 characters after it)")
        out[user] = hashed.encode("ascii")
    return out


def ssl_context(tls: TlsConfig, where: str = KEY) -> ssl.SSLContext:
    """A server-side TLS context; loading the files here is what checks them."""
    key = f"{where}: tls_server_config"
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = TLS_VERSIONS[tls.min_version]
    ctx.maximum_version = TLS_VERSIONS[tls.max_version]
    try:
        ctx.load_cert_chain(tls.cert_file, tls.key_file)
    except FileNotFoundError as exc:
        raise ConfigError(f"{key}: {exc.filename or tls.cert_file}: not found") from None
    except (ssl.SSLError, OSError) as exc:
        raise ConfigError(f"{key}: cannot load cert_file {tls.cert_file} with key_file "
                             f"{tls.key_file}: {_one_line(exc)}") from None
    if tls.client_ca_file is not None:
        try:
            ctx.load_verify_locations(cafile=tls.client_ca_file)
        except (ssl.SSLError, OSError) as exc:
            raise ConfigError(f"{key}.client_ca_file: cannot load {tls.client_ca_file}: "
                                 f"{_one_line(exc)}") from None
    ctx.verify_mode = CLIENT_AUTH[tls.client_auth_type]
    return ctx


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())
