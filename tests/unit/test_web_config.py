"""``metrics_bind`` and ``metrics_web_config``: the exporter-toolkit file is read whole at
start-up, and every mistake is one message naming the key and what is wrong."""

from __future__ import annotations

import ssl
from pathlib import Path

import bcrypt
import pytest
from tls_certs import Certs, make_certs

from monitor import cli
from monitor import config as config_mod
from monitor.config import ConfigError, from_mapping
from monitor.config.web import load

HASH = bcrypt.hashpw(b"s3cret", bcrypt.gensalt(4)).decode()


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    return make_certs(tmp_path_factory.mktemp("certs"))


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "web.yml"
    p.write_text(text, encoding="utf-8")
    return p


def test_a_full_file_with_relative_paths_from_its_own_directory(certs: Certs) -> None:
    d = certs.ca.parent
    p = d / "web.yml"
    p.write_text(f"""
tls_server_config:
  cert_file: server.crt
  key_file: {certs.server_key}
  client_ca_file: ca.crt
  client_auth_type: RequireAndVerifyClientCert
  min_version: TLS13
basic_auth_users:
  prometheus: {HASH}
  grafana: '{HASH.replace("$2b$", "$2y$")}'
""", encoding="utf-8")
    web = load(p)
    assert web.tls is not None
    assert (web.tls.cert_file, web.tls.key_file, web.tls.client_ca_file) == (
        certs.server_cert, certs.server_key, certs.ca)
    assert (web.tls.client_auth_type, web.tls.min_version, web.tls.max_version) == (
        "RequireAndVerifyClientCert", "TLS13", "TLS13")
    assert web.users == {"prometheus": HASH.encode(), "grafana": HASH.replace("$2b$", "$2y$").encode()}
    ctx = web.ssl_context
    assert ctx is not None
    assert ctx.verify_mode == ssl.CERT_REQUIRED
    assert ctx.minimum_version == ssl.TLSVersion.TLSv1_3


def test_an_empty_file_means_plain_http_without_auth(tmp_path: Path) -> None:
    web = load(write(tmp_path, ""))
    assert (web.tls, web.users, web.ssl_context) == (None, {}, None)


def test_basic_auth_alone_is_allowed(tmp_path: Path) -> None:
    web = load(write(tmp_path, f"basic_auth_users:\n  u: '{HASH}'\n"))
    assert (web.tls, web.users) == (None, {"u": HASH.encode()})


@pytest.mark.parametrize(("text", "message"), [
    ("- a list\n", "expected a mapping at the top, got list"),
    ("http_server_config:\n  http2: false\n", "http_server_config: not supported"),
    ("tls_server_config:\n  key_file: server.key\n", "tls_server_config.cert_file: required"),
    ("tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
     "  cipher_suites: [TLS_AES_128_GCM_SHA256]\n", "tls_server_config.cipher_suites: not supported"),
    ("tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
     "  client_auth_type: RequireAnyClientCert\n  client_ca_file: ca.crt\n",
     "tls_server_config.client_auth_type: expected one of NoClientCert, VerifyClientCertIfGiven, "
     "RequireAndVerifyClientCert, got 'RequireAnyClientCert'"),
    ("tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
     "  client_auth_type: RequireAndVerifyClientCert\n",
     "tls_server_config.client_ca_file: required with client_auth_type RequireAndVerifyClientCert"),
    ("tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n"
     "  client_ca_file: ca.crt\n", "client_ca_file is set but client certificates are not asked for"),
    ("tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  min_version: TLS10\n",
     "tls_server_config.min_version: expected TLS12 or TLS13, got 'TLS10'"),
    ("tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  min_version: TLS13\n"
     "  max_version: TLS12\n", "tls_server_config.min_version: TLS13 is above max_version TLS12"),
    ("tls_server_config:\n  cert_file: 12\n  key_file: server.key\n",
     "tls_server_config.cert_file: expected a non-empty string, got 12"),
    ("basic_auth_users: [a, b]\n", "basic_auth_users: expected a mapping"),
    ("basic_auth_users:\n  alice: plaintext\n", "basic_auth_users.alice: not a bcrypt hash"),
    ("basic_auth_users:\n  'a:b': '$2b$04$aRoxU4CKzeIUwB.DpanYJOATGl4zdxb4Ma1x8BvHwTlNvfW8z8ayS'\n",
     "user name 'a:b': expected a non-empty string without ':'"),
    ("tls_server_config: [\n", "is not valid YAML"),
])
def test_each_mistake_is_one_message_naming_the_key(tmp_path: Path, text: str, message: str) -> None:
    p = write(tmp_path, text)
    with pytest.raises(ConfigError) as err:
        load(p)
    assert str(err.value).startswith(f"metrics_web_config: {p}")
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_missing_and_mismatched_files_are_named(tmp_path: Path, certs: Certs) -> None:
    with pytest.raises(ConfigError, match=r"^metrics_web_config: cannot read .*nope\.yml"):
        load(tmp_path / "nope.yml")
    p = write(tmp_path, "tls_server_config:\n  cert_file: missing.crt\n  key_file: missing.key\n")
    with pytest.raises(ConfigError, match=r"tls_server_config: .*missing\.crt: not found$"):
        load(p)
    other = make_certs(tmp_path / "other")  # a key that does not belong to the certificate
    p = write(tmp_path, f"tls_server_config:\n  cert_file: {certs.server_cert}\n"
                        f"  key_file: {other.server_key}\n")
    with pytest.raises(ConfigError, match=r"tls_server_config: cannot load cert_file .* with "
                                             r"key_file .*"):
        load(p)
    p = write(tmp_path, f"tls_server_config:\n  cert_file: {certs.server_cert}\n"
                        f"  key_file: {certs.server_key}\n  client_ca_file: {p}\n"
                        "  client_auth_type: VerifyClientCertIfGiven\n")
    with pytest.raises(ConfigError, match=r"tls_server_config.client_ca_file: cannot load"):
        load(p)


def test_the_hash_itself_never_appears_in_a_message(tmp_path: Path) -> None:
    secretish = "$2b$04$short"
    with pytest.raises(ConfigError) as err:
        load(write(tmp_path, f"basic_auth_users:\n  alice: '{secretish}'\n"))
    assert secretish not in str(err.value)


def test_metrics_bind_and_web_config_keys() -> None:
    assert from_mapping({}, env={}).metrics_bind == "0.0.0.0"
    assert from_mapping({}, env={}).metrics_web_config is None
    for bind in ("127.0.0.1", "::", "::1", "localhost", "metrics.example.org"):
        assert from_mapping({"metrics_bind": bind}, env={}).metrics_bind == bind
    for raw, message in (
        ({"metrics_bind": "1.2.3.4:80"}, "metrics_bind: expected an IP address or a host name, "
                                         "got '1.2.3.4:80'"),
        ({"metrics_bind": ""}, "metrics_bind: expected an IP address or a host name, got ''"),
        ({"metrics_bind": 9310}, "metrics_bind: expected str, got int 9310"),
        ({"metrics_web_config": ""}, "metrics_web_config: must not be empty"),
        ({"metrics_web_config": ["a"]}, "metrics_web_config: expected str, got list"),
    ):
        with pytest.raises(ConfigError) as err:
            from_mapping(raw, env={})
        assert str(err.value).startswith(message)


def test_the_file_is_read_by_the_serving_commands_not_by_every_load(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``sqm topics`` or ``sqm generate`` pods need not mount the metrics certificates; the
    worker, the quality stage and check-config read the file and stop with exit code 2."""
    cfg_file = tmp_path / "sqm.toml"
    cfg_file.write_text(f'metrics_web_config = "{tmp_path / "absent.yml"}"\n', encoding="utf-8")
    cfg = config_mod.load(cfg_file, env={})
    with pytest.raises(ConfigError, match=r"^metrics_web_config: cannot read"):
        config_mod.load_web(cfg)
    for command in ("check-config", "worker", "quality"):
        assert cli.main(["--config", str(cfg_file), command]) == 2
        err = capsys.readouterr().err
        assert err.startswith("sqm: bad config: metrics_web_config: cannot read "), err
        assert err.count("\n") == 1


def test_check_config_says_how_the_endpoint_is_served(tmp_path: Path, certs: Certs,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    web = write(tmp_path, f"tls_server_config:\n  cert_file: {certs.server_cert}\n"
                          f"  key_file: {certs.server_key}\nbasic_auth_users:\n  p: '{HASH}'\n")
    cfg_file = tmp_path / "sqm.toml"
    cfg_file.write_text(f'metrics_bind = "127.0.0.1"\nmetrics_web_config = "{web}"\n',
                        encoding="utf-8")
    assert cli.main(["--config", str(cfg_file), "check-config"]) == 0
    assert ("metrics: https on 127.0.0.1, ports 9310 (worker) and 9311 (quality), basic auth for "
            "/metrics (1 user); /healthz and /readyz open") in capsys.readouterr().out
