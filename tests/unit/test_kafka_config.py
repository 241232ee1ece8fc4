"""``[kafka]``: parsing, the options every client gets, and the password kept out of sight."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any

import pytest
from tls_certs import Certs, make_certs

from monitor import config as config_mod
from monitor.cli import main
from monitor.config import ConfigError
from monitor.config.kafka import KafkaConfig, Secret, parse_kafka
from monitor.kafka.security import client_options

PASSWORD = "pa55-w0rd-never-shown"


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    return make_certs(tmp_path_factory.mktemp("certs"))


@pytest.fixture
def pw_file(tmp_path: Path) -> Path:
    f = tmp_path / "kafka-password"
    f.write_text(PASSWORD + "\n")
    return f


def _scram(pw_file: Path, certs: Certs, **extra: str) -> dict[str, str]:
    return {"security_protocol": "SASL_SSL", "sasl_mechanism": "SCRAM-SHA-512",
            "sasl_username": "sqm", "sasl_password_file": str(pw_file),
            "ssl_cafile": str(certs.ca), **extra}


def test_without_a_table_every_client_speaks_plaintext() -> None:
    assert parse_kafka(None, {}) == KafkaConfig()
    assert client_options(KafkaConfig()) == {"security_protocol": "PLAINTEXT"}
    assert config_mod.from_mapping({}, env={}).kafka == KafkaConfig()


def test_sasl_ssl_with_scram_gives_aiokafka_its_options(pw_file: Path, certs: Certs) -> None:
    k = parse_kafka(_scram(pw_file, certs), {})
    opts = client_options(k)
    ctx = opts.pop("ssl_context")
    assert opts == {"security_protocol": "SASL_SSL", "sasl_mechanism": "SCRAM-SHA-512",
                    "sasl_plain_username": "sqm", "sasl_plain_password": PASSWORD}
    assert isinstance(ctx, ssl.SSLContext)
    assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname
    assert [c["subject"] for c in ctx.get_ca_certs()] == [((("commonName", "sqm test CA"),),)]


def test_the_password_may_come_from_an_environment_variable(certs: Certs) -> None:
    raw = {"security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": "PLAIN",
           "sasl_username": "u", "sasl_password_env": "SQM_KAFKA_PASSWORD"}
    k = parse_kafka(raw, {"SQM_KAFKA_PASSWORD": PASSWORD})
    assert client_options(k) == {"security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": "PLAIN",
                                 "sasl_plain_username": "u", "sasl_plain_password": PASSWORD}
    assert k.password_source == "kafka.sasl_password_env (SQM_KAFKA_PASSWORD)"


def test_mutual_tls_loads_the_client_certificate(certs: Certs) -> None:
    k = parse_kafka({"security_protocol": "SSL", "ssl_cafile": str(certs.ca),
                     "ssl_certfile": str(certs.client_cert),
                     "ssl_keyfile": str(certs.client_key)}, {})
    opts = client_options(k)
    assert set(opts) == {"security_protocol", "ssl_context"} and opts["security_protocol"] == "SSL"
    assert "client certificate" in k.summary()


def test_the_password_is_in_no_repr_str_or_summary(pw_file: Path, certs: Certs, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    k = parse_kafka(_scram(pw_file, certs), {})
    assert k.sasl_password == Secret(PASSWORD)
    toml = tmp_path / "sqm.toml"
    toml.write_text("[kafka]\n" + "".join(f'{key} = "{v}"\n' for key, v in
                                          _scram(pw_file, certs).items()))
    cfg = config_mod.load(toml, env={})
    for text in (repr(k), str(k), k.summary(), repr(cfg), str(k.sasl_password),
                 f"{k.sasl_password}"):
        assert PASSWORD not in text
    assert main(["check-config", "--config", str(toml)]) == 0
    out = capsys.readouterr()
    assert PASSWORD not in out.out + out.err
    assert (f"kafka: security_protocol SASL_SSL, sasl SCRAM-SHA-512 as user 'sqm', password "
            f"from kafka.sasl_password_file ({pw_file}), CA {certs.ca}") in out.out


def _errors(pw_file: Path, certs: Certs, tmp_path: Path) -> list[tuple[dict[str, Any], str]]:
    empty = tmp_path / "empty"
    empty.write_text("\n")
    sasl = {"security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": "PLAIN", "sasl_username": "u"}
    return [
        ({"sasl_password": PASSWORD}, "kafka.sasl_password: the password is never read from the "
                                      "config file; use kafka.sasl_password_file or "
                                      "kafka.sasl_password_env"),
        ({"security_protocol": "SASL_SSL", "sasl_password": PASSWORD},
         "kafka.sasl_password: the password is never read"),
        ({"bootstrap": "x"}, "kafka.bootstrap: unknown key"),
        ({"security_protocol": "TLS"}, "kafka.security_protocol: expected one of PLAINTEXT, SSL, "
                                       "SASL_PLAINTEXT, SASL_SSL, got 'TLS'"),
        ({"security_protocol": 1}, "kafka.security_protocol: expected a non-empty string, got 1"),
        ({"security_protocol": "SASL_PLAINTEXT", "sasl_username": "u",
          "sasl_password_file": str(pw_file)}, "kafka.sasl_mechanism: required with SASL_PLAINTEXT"),
        ({**sasl, "sasl_mechanism": "GSSAPI", "sasl_password_file": str(pw_file)},
         "kafka.sasl_mechanism: expected one of PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, got 'GSSAPI'"),
        ({"security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": "PLAIN",
          "sasl_password_file": str(pw_file)}, "kafka.sasl_username: required with SASL_PLAINTEXT"),
        (sasl, "kafka.sasl_password_file: exactly one of kafka.sasl_password_file and "
               "kafka.sasl_password_env is required with SASL"),
        ({**sasl, "sasl_password_file": str(pw_file), "sasl_password_env": "P"},
         "kafka.sasl_password_file: exactly one of kafka.sasl_password_file and "
         "kafka.sasl_password_env is required with SASL (both are set)"),
        ({**sasl, "sasl_password_env": "NOT_SET_HERE"},
         "kafka.sasl_password_env: environment variable NOT_SET_HERE is not set or empty"),
        ({**sasl, "sasl_password_file": str(tmp_path / "nope")},
         f"kafka.sasl_password_file: file not found: {tmp_path / 'nope'}"),
        ({**sasl, "sasl_password_file": str(empty)}, f"kafka.sasl_password_file: {empty} is empty"),
        ({"sasl_username": "u"}, "kafka.sasl_username: only with security_protocol SASL_PLAINTEXT "
                                 "or SASL_SSL (it is PLAINTEXT)"),
        ({**sasl, "sasl_password_file": str(pw_file), "ssl_cafile": str(certs.ca)},
         "kafka.ssl_cafile: only with security_protocol SSL or SASL_SSL (it is SASL_PLAINTEXT)"),
        ({"security_protocol": "SSL", "ssl_cafile": str(tmp_path / "ca.pem")},
         f"kafka.ssl_cafile: file not found: {tmp_path / 'ca.pem'}"),
        ({"security_protocol": "SSL", "ssl_cafile": str(pw_file)},
         f"kafka.ssl_cafile: {pw_file} holds no PEM certificate"),
        ({"security_protocol": "SSL", "ssl_keyfile": str(certs.client_key)},
         "kafka.ssl_keyfile: needs kafka.ssl_certfile"),
        ({"security_protocol": "SSL", "ssl_certfile": str(certs.client_cert),
          "ssl_keyfile": str(certs.ca)}, "kafka.ssl_keyfile: the client certificate and key do "
                                         "not load"),
    ]


def test_every_error_names_its_key_and_never_shows_the_password(
        pw_file: Path, certs: Certs, tmp_path: Path) -> None:
    for raw, message in _errors(pw_file, certs, tmp_path):
        with pytest.raises(ConfigError) as caught:
            parse_kafka(raw, {})
        assert str(caught.value).startswith(message), (raw, str(caught.value))
        assert PASSWORD not in str(caught.value)
    with pytest.raises(ConfigError, match=r"^kafka: expected a table"):
        parse_kafka("SASL_SSL", {})


def test_a_bad_kafka_table_stops_start_up_with_one_message(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    toml = tmp_path / "sqm.toml"
    toml.write_text(f'[kafka]\nsecurity_protocol = "SASL_SSL"\nsasl_password = "{PASSWORD}"\n')
    with pytest.raises(ConfigError, match=r"^kafka\.sasl_password: "):
        config_mod.load(toml, env={})
    assert main(["worker", "--config", str(toml)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("sqm: bad config: kafka.sasl_password: ") and err.count("\n") == 1
    assert PASSWORD not in err


def test_faust_gets_the_same_options_as_the_other_clients(pw_file: Path, certs: Certs) -> None:
    """The quality stage's Faust app: faust-streaming maps its credentials to aiokafka's
    options; they must be the ones ``client_options`` gives every other client."""
    from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth

    from monitor.quality.app import broker_credentials

    cases = [_scram(pw_file, certs),
             {"security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": "SCRAM-SHA-256",
              "sasl_username": "u", "sasl_password_file": str(pw_file)},
             {"security_protocol": "SSL", "ssl_cafile": str(certs.ca)}]
    for raw in cases:
        k = parse_kafka(raw, {})
        ours = client_options(k)
        faust_opts = dict(credentials_to_aiokafka_auth(broker_credentials(k)))
        assert isinstance(faust_opts.pop("ssl_context", None), ssl.SSLContext) == k.uses_tls
        ours.pop("ssl_context", None)
        assert faust_opts == ours, raw
    assert broker_credentials(KafkaConfig()) is None
