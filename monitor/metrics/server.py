"""The HTTP(S) endpoint of ``sqm worker`` and ``sqm quality``: ``/metrics``, ``/healthz``,
``/readyz``.

The standard library's threading HTTP server, with TLS and basic auth from ``metrics_web_config``
(the exporter-toolkit's format, ``monitor.config.web``). Written here rather than taken from
``prometheus_client.start_http_server``, which has neither basic auth nor probes.

* ``/metrics``: prometheus_client's exposition of the injected registry, honouring ``Accept``
  (OpenMetrics or text), ``Accept-Encoding: gzip`` and ``name[]`` as prometheus_client does.
  With ``basic_auth_users`` it needs a valid user and password: 401 and ``WWW-Authenticate``
  otherwise.
* ``/healthz`` and ``/readyz``: 200 ``ok``, or 503 and the reason. They need no credentials
  (Kubernetes' HTTP probes cannot send them) and say nothing but ok or the reason.

The TLS handshake happens in the connection's own thread with a timeout, so a client that
connects and stays silent holds one thread, not the server.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import hashlib
import logging
import socket
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Final
from urllib.parse import parse_qs, urlsplit

import bcrypt
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector

from monitor.config.web import WebConfig
from monitor.metrics.health import Probe

log = logging.getLogger("sqm.metrics")

#: seconds a connection may take for its TLS handshake, or stay idle between requests
CONNECTION_TIMEOUT_S: Final = 30.0
#: credential checks remembered (bcrypt takes a fifth of a second per check here)
AUTH_CACHE_SIZE: Final = 256
#: checked against when the user is unknown, so an unknown user takes as long as a wrong password
_DUMMY_HASH: Final = b"$2b$10$RPFCaYTsg6mJoJPs18bKiO/XWxlcO59pjb8qEo7YpsrUVXwkUCFvO"
REALM: Final = "sqm-monitor"


class BasicAuth:
    """Checks ``Authorization: Basic`` against bcrypt hashes. Each result is cached by a SHA-256
    of user, password and hash (never the password itself), as the exporter-toolkit does: a
    scrape every few seconds would otherwise cost a bcrypt each (a fifth of a second at cost
    10), and a scraper with a stale password would keep a core busy. One check runs at a time,
    so a flood of new guesses takes at most one core from the worker."""

    def __init__(self, users: dict[str, bytes]) -> None:
        self._users = users
        self._results: dict[bytes, bool] = {}
        self._lock = threading.Lock()

    def check(self, header: str | None) -> bool:
        parsed = _credentials(header)
        if parsed is None:
            return False
        user, password = parsed
        hashed = self._users.get(user)
        known = hashed is not None
        digest = hashlib.sha256(b"\0".join((user.encode(), password, hashed or b""))).digest()
        cached = self._results.get(digest)
        if cached is not None:
            return cached
        with self._lock:
            try:  # an unknown user costs a bcrypt too: timing does not tell who exists
                ok = bcrypt.checkpw(password, hashed or _DUMMY_HASH) and known
            except ValueError:  # longer than bcrypt's 72 bytes, or a hash it cannot read
                ok = False
            if len(self._results) >= AUTH_CACHE_SIZE:
                self._results.clear()
            self._results[digest] = ok
        return ok


def _credentials(header: str | None) -> tuple[str, bytes] | None:
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        raw = base64.b64decode(token.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    user, sep, password = raw.partition(b":")
    if not sep:
        return None
    try:
        return user.decode("utf-8"), password
    except UnicodeDecodeError:
        return None


def _gzip_accepted(header: str) -> bool:
    return any(part.split(";")[0].strip().lower() == "gzip" for part in header.split(","))


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    registry: CollectorRegistry
    live: Probe
    ready: Probe
    auth: BasicAuth | None
    ssl_context: ssl.SSLContext | None

    def server_bind(self) -> None:
        """Without HTTPServer's reverse DNS look-up of the bind address, which can hang."""
        socket.socket.setsockopt(self.socket, socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind(self.server_address)
        self.server_address = self.socket.getsockname()
        self.server_name = str(self.server_address[0])
        self.server_port = int(self.server_address[1])

    def get_request(self) -> tuple[Any, Any]:
        sock, addr = self.socket.accept()
        if self.ssl_context is not None:  # the handshake happens in the connection's thread
            sock = self.ssl_context.wrap_socket(sock, server_side=True,
                                                do_handshake_on_connect=False)
        return sock, addr

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that fails its TLS handshake or hangs up is its problem, not a traceback."""
        log.debug("metrics connection from %s failed", client_address, exc_info=True)


class _Server6(_Server):
    address_family = socket.AF_INET6


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"  # keep-alive: Prometheus reuses its connection
    timeout = CONNECTION_TIMEOUT_S
    server_version = "sqm-monitor"
    sys_version = ""

    def setup(self) -> None:
        if isinstance(self.request, ssl.SSLSocket):
            self.request.settimeout(CONNECTION_TIMEOUT_S)
            self.request.do_handshake()
        super().setup()

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path == "/healthz":
            self._probe(self.server.live)
        elif url.path == "/readyz":
            self._probe(self.server.ready)
        elif url.path == "/metrics":
            auth = self.server.auth
            if auth is not None and not auth.check(self.headers.get("Authorization")):
                self._send(401, b"Unauthorized\n",
                           [("WWW-Authenticate", f'Basic realm="{REALM}", charset="UTF-8"')])
            else:
                self._metrics(parse_qs(url.query))
        else:
            self._send(404, b"Not found: try /metrics, /healthz or /readyz\n")

    def _probe(self, probe: Probe) -> None:
        try:
            reason = probe()
        except Exception as exc:  # a probe that cannot tell is a failed probe
            reason = f"probe failed: {type(exc).__name__}"
        if reason is None:
            self._send(200, b"ok\n")
        else:
            self._send(503, reason.encode("utf-8", "replace") + b"\n")

    def _metrics(self, params: dict[str, list[str]]) -> None:
        encoder, content_type = choose_encoder(self.headers.get("Accept", ""))
        registry: Collector = self.server.registry
        if "name[]" in params:
            registry = self.server.registry.restricted_registry(params["name[]"])
        try:
            body = encoder(registry)
        except Exception:
            log.exception("collecting the metrics failed")
            self._send(500, b"collecting the metrics failed\n")
            return
        headers = [("Content-Type", content_type)]
        if _gzip_accepted(self.headers.get("Accept-Encoding", "")):
            body = gzip.compress(body)
            headers.append(("Content-Encoding", "gzip"))
        self._send(200, body, headers)

    def _send(self, status: int, body: bytes, headers: list[tuple[str, str]] | None = None) -> None:
        self.send_response(status)
        for name, value in headers or [("Content-Type", "text/plain; charset=utf-8")]:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)


class MetricsServer:
    """Serves from a daemon thread until ``close``."""

    def __init__(self, registry: CollectorRegistry, bind: str, port: int,
                 web: WebConfig | None = None, *, live: Probe, ready: Probe) -> None:
        cls = _Server6 if ":" in bind else _Server
        self._server = server = cls((bind, port), _Handler, bind_and_activate=False)
        server.registry = registry
        server.live = live
        server.ready = ready
        server.auth = BasicAuth(web.users) if web is not None and web.users else None
        server.ssl_context = None if web is None else web.ssl_context
        try:
            server.server_bind()
            server.server_activate()
        except OSError:
            server.server_close()
            raise
        self.bind = bind
        self.port: int = server.server_port
        self.scheme = "http" if server.ssl_context is None else "https"
        self._thread = threading.Thread(target=server.serve_forever, name="sqm-metrics",
                                        daemon=True)
        self._thread.start()

    def url(self, path: str = "/metrics") -> str:
        """Where a local client reaches ``path`` (the loopback address for a wildcard bind)."""
        host = {"0.0.0.0": "127.0.0.1", "::": "[::1]", "": "127.0.0.1"}.get(self.bind, self.bind)
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        return f"{self.scheme}://{host}:{self.port}{path}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def serve(registry: CollectorRegistry, bind: str, port: int, web: WebConfig | None, *,
          live: Probe, ready: Probe) -> MetricsServer:
    """Start serving; raises OSError when the address cannot be bound."""
    return MetricsServer(registry, bind, port, web, live=live, ready=ready)

