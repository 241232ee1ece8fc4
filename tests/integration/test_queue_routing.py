"""Queue alerts (SPEC 9) in the committed Alertmanager configuration: amtool routes them to the
team that owns the queue as well as by severity, and a real Alertmanager inhibits a warning
only by the critical of the same channel, or of the same queue of it, never across the two."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from harness import poll
from observability import ALERTMANAGER_YML, Alertmanager, Webhook

from monitor.config import load

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "deploy" / "compose" / "sqm.toml"


def routes(*labels: str) -> list[str]:
    """The receivers amtool says an alert with ``labels`` goes to, in routing order."""
    exe = shutil.which("amtool")
    assert exe, "amtool is missing: `make setup` installs Debian's prometheus-alertmanager"
    r = subprocess.run([exe, "config", "routes", "test", f"--config.file={ALERTMANAGER_YML}",
                        *labels], capture_output=True, text=True, timeout=60, check=False)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout.strip().split(",")


@pytest.mark.parametrize(("labels", "receivers"), [
    # a team's queue: the team, and the severity route as for any alert
    (["alertname=SqmServiceLevelLow", "severity=warning", "channel=chat", "queue=billing",
      "indicator=service_level", "scope=queue"], ["billing-team", "ticket"]),
    (["alertname=SqmServiceLevelLow", "severity=critical", "channel=phone", "queue=billing",
      "indicator=service_level", "scope=queue"], ["billing-team", "page"]),
    (["alertname=SqmServiceLevelLow", "severity=critical", "channel=chat",
      "queue=tech_support", "indicator=service_level", "scope=queue"], ["support-team", "page"]),
    # a per-queue SLO's burn-rate alerts carry the queue too
    (["alertname=SqmErrorBudgetBurn", "severity=ticket", "channel=phone", "queue=tech_support",
      "slo=answered_in_time_by_queue"], ["support-team", "ticket"]),
    (["alertname=SqmErrorBudgetBurn", "severity=page", "channel=chat", "queue=billing",
      "slo=answered_in_time_by_queue"], ["billing-team", "page"]),
    # queues no team owns, and `other`: by severity only
    (["alertname=SqmServiceLevelLow", "severity=critical", "channel=chat", "queue=general",
      "scope=queue"], ["page"]),
    (["alertname=SqmServiceLevelLow", "severity=warning", "channel=email", "queue=complaints",
      "scope=queue"], ["ticket"]),
    (["alertname=SqmServiceLevelLow", "severity=warning", "channel=phone", "queue=other",
      "scope=queue"], ["ticket"]),
    # a channel alert (no queue label) is routed as before, even on a channel with team queues
    (["alertname=SqmServiceLevelLow", "severity=critical", "channel=chat",
      "indicator=service_level"], ["page"]),
    (["alertname=SqmServiceLevelLow", "severity=warning", "channel=phone",
      "indicator=service_level"], ["ticket"]),
])
def test_queue_alerts_go_to_their_team_and_by_severity(labels: list[str],
                                                       receivers: list[str]) -> None:
    assert routes(*labels) == receivers


def test_every_team_route_names_a_queue_of_the_example_config() -> None:
    """A route for a queue no channel declares would never match (its alerts would only go by
    severity): each team route names a queue label of the example config's channels."""
    cfg = yaml.safe_load(ALERTMANAGER_YML.read_text(encoding="utf-8"))
    team_routes = [r for r in cfg["route"]["routes"]
                   if any(m.startswith("queue=") for m in r["matchers"])]
    assert {r["receiver"] for r in team_routes} == {"billing-team", "support-team"}
    labels = {q for qs in load(EXAMPLE, env={}).queue_labels.values() for q in qs}
    for r in team_routes:
        (matcher,) = r["matchers"]
        assert matcher.removeprefix("queue=").strip('"') in labels, matcher
        assert r["continue"] is True  # the severity routes still see it


def _alert(severity: str, channel: str, queue: str | None) -> dict[str, Any]:
    labels = {"alertname": "SqmServiceLevelLow", "severity": severity, "channel": channel,
              "indicator": "service_level"}
    if queue is not None:
        labels |= {"queue": queue, "scope": "queue"}
    return {"labels": labels, "annotations": {"summary": f"{channel}/{queue} {severity}"}}


def _key(labels: dict[str, str]) -> tuple[str, str, str]:
    return labels["channel"], labels.get("queue", ""), labels["severity"]


def test_inhibition_holds_per_queue_and_never_across_channel_and_queue(tmp_path: Path) -> None:
    """chat/billing's critical holds back chat/billing's warning; chat's channel critical does
    not hold back chat/tech_support's warning; phone/general's critical holds back neither
    phone's channel warning nor phone/billing's warning."""
    hook = Webhook()
    am = Alertmanager(tmp_path, hook)
    try:
        am.post([
            _alert("critical", "chat", "billing"),
            _alert("warning", "chat", "billing"),
            _alert("critical", "chat", None),
            _alert("warning", "chat", "tech_support"),
            _alert("critical", "phone", "general"),
            _alert("warning", "phone", None),
            _alert("warning", "phone", "billing"),
        ])
        expected = {
            ("/billing-team", ("chat", "billing", "critical")),
            ("/page", ("chat", "billing", "critical")),
            ("/page", ("chat", "", "critical")),
            ("/support-team", ("chat", "tech_support", "warning")),
            ("/ticket", ("chat", "tech_support", "warning")),
            ("/page", ("phone", "general", "critical")),
            ("/ticket", ("phone", "", "warning")),
            ("/billing-team", ("phone", "billing", "warning")),
            ("/ticket", ("phone", "billing", "warning")),
        }

        def delivered() -> set[tuple[str, tuple[str, str, str]]]:
            return {(path, _key(a["labels"])) for path, a in hook.alerts()}

        poll(lambda: delivered() >= expected, 30, "the notifications of every receiver")
        states = {_key(a["labels"]): a["status"] for a in am.alerts()}
        suppressed = {k for k, s in states.items() if s["state"] == "suppressed"}
        assert suppressed == {("chat", "billing", "warning")}, states
        assert states[("chat", "billing", "warning")]["inhibitedBy"]
        assert delivered() == expected
    finally:
        am.stop()
        hook.close()
