#!/usr/bin/env python3
"""The local run's stand-in for a pager: an Alertmanager webhook receiver that writes one line
per delivered alert to a file (``make run`` starts it on the port the example
``deploy/alertmanager/alertmanager.yml`` sends to). Standard library only."""

from __future__ import annotations

import argparse
import json
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


def lines(receiver: str, body: dict[str, Any]) -> list[str]:
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    out = []
    for a in body.get("alerts", []):
        labels, notes = a.get("labels", {}), a.get("annotations", {})
        out.append(f"{now} {receiver} {a.get('status', '?')} {labels.get('alertname', '?')} "
                   f"{labels.get('severity', '')}: {notes.get('summary', '')}\n")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=9095)
    parser.add_argument("--log", type=Path, required=True)
    args = parser.parse_args()
    log: Path = args.log

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
            with log.open("a", encoding="utf-8") as fh:
                fh.writelines(lines(self.path.strip("/") or "webhook", body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    ThreadingHTTPServer(("127.0.0.1", args.port), Handler).serve_forever()


if __name__ == "__main__":
    main()
