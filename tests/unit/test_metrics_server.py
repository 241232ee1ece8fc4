"""The metrics endpoint on real sockets: plain HTTP on a chosen bind address, HTTPS with the
test's own certificates, basic auth (200 / 401), client certificates, the exposition formats,
and the probes, which need no credentials."""

from __future__ import annotations

import base64
import gzip
import ssl
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import bcrypt
import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector
from tls_certs import Certs, make_certs

from monitor.config.web import WebConfig, load
from monitor.metrics.health import Heartbeat, Readiness
from monitor.metrics.server import BasicAuth, MetricsServer

#: the endpoint must show exactly these samples, whatever the format
EXPECTED = {("sqm_test_records_total", ()): 3.0, ("sqm_test_lag", (("stage", "aggregate"),)): 7.5}


class Fixed(Collector):
    def collect(self) -> Iterator[Metric]:
        c = CounterMetricFamily("sqm_test_records", "records", value=3)
        yield c
        g = GaugeMetricFamily("sqm_test_lag", "lag", labels=["stage"])
        g.add_metric(["aggregate"], 7.5)
        yield g


def registry() -> CollectorRegistry:
    reg = CollectorRegistry(auto_describe=True)  # which name[] needs, as in prometheus_client
    reg.register(Fixed())
    return reg


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            if not s.name.endswith("_created"):
                out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def get(url: str, *, auth: tuple[str, str] | None = None, headers: dict[str, str] | None = None,
        context: ssl.SSLContext | None = None) -> tuple[int, dict[str, str], bytes]:
    req = urllib.request.Request(url, headers=headers or {})
    if auth is not None:
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        req.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(req, timeout=10, context=context) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    return make_certs(tmp_path_factory.mktemp("certs"))


def client_context(certs: Certs, with_cert: bool = False) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(certs.ca))
    if with_cert:
        ctx.load_cert_chain(certs.client_cert, certs.client_key)
    return ctx


def web_file(tmp_path: Path, certs: Certs, extra: str = "", users: str = "") -> WebConfig:
    p = tmp_path / "web.yml"
    p.write_text(f"tls_server_config:\n  cert_file: {certs.server_cert}\n"
                 f"  key_file: {certs.server_key}\n{extra}{users}", encoding="utf-8")
    return load(p)


PASSWORD = "correct horse"
USERS = f"basic_auth_users:\n  prometheus: '{bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(4)).decode()}'\n"


@pytest.fixture
def servers() -> Iterator[list[MetricsServer]]:
    started: list[MetricsServer] = []
    yield started
    for s in started:
        s.close()


def start(servers: list[MetricsServer], web: WebConfig | None = None, bind: str = "127.0.0.1",
          live: Heartbeat | None = None, ready: Readiness | None = None) -> MetricsServer:
    beat = live or Heartbeat()
    readiness = ready or Readiness()
    s = MetricsServer(registry(), bind, 0, web, live=beat.check, ready=readiness.check)
    servers.append(s)
    return s


def test_plain_http_on_the_chosen_bind_address(servers: list[MetricsServer]) -> None:
    s = start(servers, bind="127.0.0.1")
    assert s.url() == f"http://127.0.0.1:{s.port}/metrics"
    status, headers, body = get(s.url())
    assert status == 200
    assert headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert samples(body.decode()) == EXPECTED
    assert s._server.server_address == ("127.0.0.1", s.port)


def test_openmetrics_gzip_and_name_filter_as_prometheus_client_serves_them(
        servers: list[MetricsServer]) -> None:
    s = start(servers)
    status, headers, body = get(s.url(), headers={
        "Accept": "application/openmetrics-text; version=1.0.0; charset=utf-8",
        "Accept-Encoding": "gzip"})
    assert status == 200
    assert headers["Content-Type"].startswith("application/openmetrics-text; version=1.0.0")
    assert headers["Content-Encoding"] == "gzip"
    text = gzip.decompress(body).decode()
    assert text.endswith("# EOF\n")
    assert samples(text.replace("# EOF\n", "")) == EXPECTED
    _, _, body = get(s.url("/metrics?name[]=sqm_test_lag"))
    assert samples(body.decode()) == {("sqm_test_lag", (("stage", "aggregate"),)): 7.5}
    assert get(s.url("/other"))[0] == 404


def test_https_with_basic_auth(tmp_path: Path, certs: Certs, servers: list[MetricsServer]) -> None:
    s = start(servers, web_file(tmp_path, certs, users=USERS))
    ctx = client_context(certs)
    assert s.url() == f"https://127.0.0.1:{s.port}/metrics"
    status, _, body = get(s.url(), auth=("prometheus", PASSWORD), context=ctx)
    assert (status, samples(body.decode())) == (200, EXPECTED)
    for auth in (None, ("prometheus", "wrong"), ("nobody", PASSWORD), ("prometheus", "x" * 100)):
        status, headers, body = get(s.url(), auth=auth, context=ctx)
        assert status == 401, auth
        assert headers["WWW-Authenticate"] == 'Basic realm="sqm-monitor", charset="UTF-8"'
        assert b"sqm_test" not in body
    status, _, _ = get(s.url(), headers={"Authorization": "Bearer abc"}, context=ctx)
    assert status == 401
    # the probes need no credentials
    assert get(s.url("/healthz"), context=ctx)[:3:2] == (200, b"ok\n")
    # plain HTTP to the TLS port gets no metrics
    with pytest.raises((urllib.error.URLError, ConnectionError, OSError)):
        get(f"http://127.0.0.1:{s.port}/metrics", auth=("prometheus", PASSWORD))
    # nor does a client that does not trust the server's CA
    with pytest.raises(urllib.error.URLError, match="CERTIFICATE_VERIFY_FAILED"):
        get(s.url(), auth=("prometheus", PASSWORD), context=ssl.create_default_context())


def test_client_certificates_when_required(tmp_path: Path, certs: Certs,
                                           servers: list[MetricsServer]) -> None:
    s = start(servers, web_file(tmp_path, certs, extra=f"  client_ca_file: {certs.ca}\n"
                                "  client_auth_type: RequireAndVerifyClientCert\n"))
    status, _, body = get(s.url(), context=client_context(certs, with_cert=True))
    assert (status, samples(body.decode())) == (200, EXPECTED)
    with pytest.raises((urllib.error.URLError, ConnectionError, ssl.SSLError)):
        get(s.url(), context=client_context(certs, with_cert=False))


def test_basic_auth_over_plain_http(tmp_path: Path, servers: list[MetricsServer]) -> None:
    p = tmp_path / "web.yml"
    p.write_text(USERS, encoding="utf-8")
    s = start(servers, load(p))
    assert get(s.url())[0] == 401
    assert get(s.url(), auth=("prometheus", PASSWORD))[0] == 200


def test_probes_report_ok_or_the_reason(servers: list[MetricsServer]) -> None:
    now = [100.0]
    beat = Heartbeat(stall_s=60, clock=lambda: now[0])
    ready = Readiness()
    s = start(servers, live=beat, ready=ready)
    assert get(s.url("/healthz"))[::2] == (200, b"ok\n")
    assert get(s.url("/readyz"))[::2] == (503, b"waiting for the first partition assignment\n")
    ready.not_ready("restoring the state of 3 partitions")
    assert get(s.url("/readyz"))[::2] == (503, b"restoring the state of 3 partitions\n")
    ready.ready()
    assert get(s.url("/readyz"))[::2] == (200, b"ok\n")
    now[0] = 160.0  # exactly the bound: still live
    assert get(s.url("/healthz"))[0] == 200
    now[0] = 160.5
    assert get(s.url("/healthz"))[::2] == (
        503, b"no progress of the processing loop for 60 s (limit 60 s)\n")
    beat.beat()
    assert get(s.url("/healthz"))[0] == 200


def test_each_result_is_cached_so_a_repeated_scrape_costs_no_bcrypt(
        monkeypatch: pytest.MonkeyPatch) -> None:
    hashed = bcrypt.hashpw(b"pw", bcrypt.gensalt(4))
    calls: list[bytes] = []
    real = bcrypt.checkpw

    def counting(password: bytes, h: bytes) -> bool:
        calls.append(password)
        return real(password, h)

    monkeypatch.setattr(bcrypt, "checkpw", counting)  # the module the server calls
    auth = BasicAuth({"u": hashed})

    def header(user: str, password: str) -> str:
        return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

    assert [auth.check(header("u", "pw")) for _ in range(3)] == [True, True, True]
    assert calls == [b"pw"]
    assert [auth.check(header("u", "no")) for _ in range(2)] == [False, False]
    assert calls == [b"pw", b"no"]
    # an unknown user costs a bcrypt too (against a dummy hash), and is refused, even with the
    # password of another user
    assert [auth.check(header("v", "pw")) for _ in range(2)] == [False, False]
    assert calls == [b"pw", b"no", b"pw"]
    assert auth.check(None) is False
    assert auth.check("Basic !!!") is False
    assert auth.check("Basic " + base64.b64encode(b"no-colon").decode()) is False
    assert len(calls) == 3
