"""Open a local HTML file in real headless Chromium and report what the browser made of it.

``open_page`` starts ``chromium --headless`` on a DevTools port it chooses itself (read back from
``<user-data-dir>/DevToolsActivePort``), drives the page over the DevTools protocol with aiohttp's
websocket client, and returns a ``PageCheck``: every image's load state, the number of elements
with an id, the console errors, warnings and uncaught exceptions, and the screenshot's size. The
browser is closed with ``Browser.close`` and killed if it does not exit in time.

``CHROMIUM`` is the executable found on PATH (None when there is none: the tests skip;
``deploy/local/packages.sh`` installs Debian's ``chromium`` for ``make setup``).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import shutil
import signal
import struct
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

CHROMIUM = shutil.which("chromium")

#: seconds for the browser to start, the page to load and each protocol call
STARTUP_S = 20.0
LOAD_S = 10.0
CALL_S = 10.0

_IMAGES = "Array.from(document.images).map(i => [i.complete, i.naturalWidth])"
_IDS = "document.querySelectorAll('[id]').length"
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@dataclass
class PageCheck:
    """What the browser saw: ``images`` is ``[(complete, naturalWidth), ...]`` in page order;
    ``console`` holds the console errors/warnings, exceptions and error/warning log entries."""

    images: list[tuple[bool, int]] = field(default_factory=list)
    ids: int = 0
    console: list[str] = field(default_factory=list)
    screenshot_bytes: int = 0
    screenshot_size: tuple[int, int] = (0, 0)


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR chunk; ValueError when ``data`` is not a PNG."""
    if len(data) < 24 or not data.startswith(_PNG_SIGNATURE) or data[12:16] != b"IHDR":
        raise ValueError("not a PNG")
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)


def console_message(event: dict[str, Any]) -> str | None:
    """The text of a console error/warning, an uncaught exception or an error/warning log entry;
    None for any other event."""
    method, params = event.get("method"), event.get("params", {})
    if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "warning", "assert"):
        args = " ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", []))
        return f"console.{params['type']}: {args}"
    if method == "Runtime.exceptionThrown":
        details = params.get("exceptionDetails", {})
        text = details.get("exception", {}).get("description") or details.get("text", "")
        return f"exception: {text}"
    if method == "Log.entryAdded" and params.get("entry", {}).get("level") in ("error", "warning"):
        entry = params["entry"]
        return f"log.{entry['level']} ({entry.get('source', '')}): {entry.get('text', '')}"
    return None


class _Session:
    """One DevTools websocket: numbered calls, and the events that arrive meanwhile."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self._ws = ws
        self._last_id = 0
        self.events: list[dict[str, Any]] = []

    async def _receive(self, deadline: float) -> dict[str, Any]:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("DevTools: deadline passed")
        message: dict[str, Any] = await self._ws.receive_json(timeout=remaining)
        return message

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        self._last_id += 1
        call_id = self._last_id
        await self._ws.send_json({"id": call_id, "method": method, "params": params})
        deadline = time.monotonic() + CALL_S
        while True:
            message = await self._receive(deadline)
            if message.get("id") != call_id:
                self.events.append(message)
            elif "error" in message:
                raise RuntimeError(f"DevTools {method}: {message['error']}")
            else:
                result: dict[str, Any] = message.get("result", {})
                return result

    async def wait_event(self, method: str, within_s: float) -> None:
        deadline = time.monotonic() + within_s
        while not any(e.get("method") == method for e in self.events):
            message = await self._receive(deadline)
            if "id" not in message:
                self.events.append(message)

    async def evaluate(self, expression: str) -> Any:
        result = await self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"evaluating {expression!r}: {result['exceptionDetails']}")
        return result["result"].get("value")


def _launch(user_data: Path, log: Path, width: int, height: int) -> subprocess.Popen[bytes]:
    """Start Chromium; its stderr goes to ``log`` (a pipe nobody reads could fill and block it)."""
    assert CHROMIUM is not None, "chromium is not on PATH"
    args = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-port=0",
            f"--user-data-dir={user_data}", f"--window-size={width},{height}",
            "--no-first-run", "--no-default-browser-check", "--hide-scrollbars", "about:blank"]
    with log.open("wb") as err:
        return subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=err, start_new_session=True)


def _active_port(user_data: Path, log: Path, proc: subprocess.Popen[bytes]) -> tuple[int, str] | None:
    """(port, browser websocket path) once Chromium has written DevToolsActivePort, else None."""
    if proc.poll() is not None:
        stderr = log.read_text(errors="replace")[-2000:]
        raise RuntimeError(f"chromium exited with {proc.returncode}: {stderr}")
    active = user_data / "DevToolsActivePort"
    lines = active.read_text().split("\n") if active.exists() else []
    if len(lines) >= 2 and lines[0].strip().isdigit() and lines[1].strip():
        return int(lines[0]), lines[1].strip()
    return None


async def _devtools_port(user_data: Path, log: Path,
                         proc: subprocess.Popen[bytes]) -> tuple[int, str]:
    deadline = time.monotonic() + STARTUP_S
    while time.monotonic() < deadline:
        found = _active_port(user_data, log, proc)
        if found is not None:
            return found
        await asyncio.sleep(0.05)
    raise TimeoutError(f"chromium did not write DevToolsActivePort within {STARTUP_S} s")


async def _page_ws_url(http: aiohttp.ClientSession, port: int) -> str:
    async with http.get(f"http://127.0.0.1:{port}/json") as resp:
        targets: list[dict[str, Any]] = await resp.json(content_type=None)
    pages = [t["webSocketDebuggerUrl"] for t in targets if t.get("type") == "page"]
    if not pages:
        raise RuntimeError(f"no page target among {targets}")
    return str(pages[0])


async def _inspect(page: _Session, url: str, width: int, height: int) -> tuple[PageCheck, bytes]:
    """What the page at ``url`` showed, and its screenshot's PNG bytes."""
    for domain in ("Runtime", "Log", "Page"):
        await page.call(f"{domain}.enable")
    await page.call("Emulation.setDeviceMetricsOverride", width=width, height=height,
                    deviceScaleFactor=1, mobile=False)
    page.events.clear()  # what about:blank may have logged is not the page's
    navigated = await page.call("Page.navigate", url=url)
    if navigated.get("errorText"):
        raise RuntimeError(f"navigating to {url}: {navigated['errorText']}")
    await page.wait_event("Page.loadEventFired", LOAD_S)
    images = [(bool(c), int(w)) for c, w in await page.evaluate(_IMAGES)]
    ids = int(await page.evaluate(_IDS))
    shot = await page.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
    data = base64.b64decode(shot["data"])
    console = [m for m in map(console_message, page.events) if m is not None]
    return PageCheck(images, ids, console, len(data), png_size(data)), data


async def _drive(user_data: Path, log: Path, proc: subprocess.Popen[bytes], url: str,
                 width: int, height: int) -> tuple[PageCheck, bytes]:
    port, browser_path = await _devtools_port(user_data, log, proc)
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=CALL_S)
    async with aiohttp.ClientSession(timeout=timeout) as http:
        page_url = await _page_ws_url(http, port)
        async with http.ws_connect(page_url, max_msg_size=0) as ws:
            seen = await _inspect(_Session(ws), url, width, height)
        async with http.ws_connect(f"ws://127.0.0.1:{port}{browser_path}") as ws:
            with contextlib.suppress(Exception):  # the browser may drop the socket as it exits
                await _Session(ws).call("Browser.close")
    return seen


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Wait for the browser to exit after Browser.close (kill it if it lingers), then kill what is
    left of its own process group (helper processes; the group is the browser's, its own session)."""
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=5)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


def open_page(html_path: Path, screenshot: Path, width: int = 1200, height: int = 2600) -> PageCheck:
    """Load ``html_path`` in headless Chromium at ``width`` x ``height`` CSS pixels, write a PNG
    screenshot to ``screenshot`` and return what the page showed (see ``PageCheck``)."""
    with tempfile.TemporaryDirectory(prefix="sqm-chromium-") as tmp:
        user_data, log = Path(tmp) / "profile", Path(tmp) / "chromium.log"
        proc = _launch(user_data, log, width, height)
        try:
            check, png = asyncio.run(_drive(user_data, log, proc, html_path.resolve().as_uri(),
                                            width, height))
        finally:
            _stop(proc)
    screenshot.write_bytes(png)
    return check
