"""``[[alerts]]`` and ``[[slos]]``: the shipped defaults, "Nx" thresholds, and one clear message
naming the key for each kind of mistake (SPEC sections 5.1, 5.2 and 6)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from monitor.cli import main
from monitor.config import ConfigError, from_mapping, window_rules
from monitor.domain.alerts import Rule

ALL = ("phone", "chat", "email", "web", "app", "store", "social")


def load(**raw: Any) -> Any:
    return from_mapping(raw, env={})


def test_shipped_defaults() -> None:
    cfg = load()
    got = [(a.indicator, a.op, a.warning, a.critical, a.for_windows, a.clear_windows,
            a.min_volume, a.channels) for a in cfg.alerts]
    assert got == [
        ("service_level", "<", 0.8, 0.6, 2, 2, 10, ALL),
        ("abandonment_rate", ">", 0.10, 0.20, 2, 2, 10, ALL),
        ("resolution_rate", "<", 0.90, 0.80, 2, 2, 10, ALL),
        ("oldest_wait_s", ">", "2x", "4x", 2, 2, 10, ALL),
        ("no_data", ">", 0.0, None, 10, 2, 10, ALL),
    ]
    [slo] = cfg.slos
    assert (slo.name, slo.indicator, slo.objective, slo.period_days, slo.min_events,
            slo.channels) == ("answered_in_time", "service_level", 0.8, 30, 10, ALL)


def test_multiples_of_the_first_response_target_per_channel() -> None:
    rules = window_rules(load())
    # phone answers within 20 s, chat within 60 s (SPEC section 6)
    assert Rule("oldest_wait_s", ">", 40.0, 80.0, 2, 2, 10) in rules[("phone", "")]
    assert Rule("oldest_wait_s", ">", 120.0, 240.0, 2, 2, 10) in rules[("chat", "")]
    assert len(rules[("phone", "")]) == 5
    assert rules[("phone", "main")] == ()  # no rule names queues


def test_custom_tables_replace_the_defaults() -> None:
    cfg = load(alerts=[{"indicator": "first_response_p90_s", "op": ">", "critical": "1.5x",
                        "channels": ["chat"], "for_windows": 3, "min_volume": 0}],
               slos=[])
    rules = window_rules(cfg)
    assert rules[("chat", "")] == (Rule("first_response_p90_s", ">", None, 90.0, 3, 2, 0),)
    assert rules[("phone", "")] == ()
    assert cfg.slos == ()
    assert load(alerts=[]).alerts == ()


@pytest.mark.parametrize(("raw", "message"), [
    ({"alerts": [{"indicator": "happiness", "op": "<", "warning": 1}]},
     "alerts[0].indicator: unknown indicator 'happiness'"),
    ({"alerts": [{"indicator": "service_level", "op": "<", "warning": 0.8, "channels": ["fax"]}]},
     "alerts[0].channels: 'fax' is not a configured channel"),
    ({"alerts": [{"indicator": "service_level", "op": "<", "warning": "2x"}]},
     'alerts[0].warning: "Nx" is for *_s indicators, not service_level'),
    ({"alerts": [{"indicator": "service_level", "op": "<", "warning": 0.6, "critical": 0.8}]},
     "alerts[0].warning: 0.6 is above critical 0.8"),
    ({"alerts": [{"indicator": "oldest_wait_s", "op": ">", "warning": "4x", "critical": "2x"}]},
     "alerts[0].warning: '4x' is below critical '2x'"),
    ({"alerts": [{"indicator": "oldest_wait_s", "op": ">", "warning": 30, "critical": "2x"}]},
     "alerts[0].critical: give warning and critical both as numbers or both as \"Nx\""),
    ({"alerts": [{"indicator": "service_level", "op": "<"}]},
     "alerts[0]: needs warning, critical or both"),
    ({"alerts": [{"indicator": "service_level", "op": "<=", "warning": 0.8}]},
     "alerts[0].op: unknown op '<='"),
    ({"alerts": [{"indicator": "service_level", "op": "<", "warning": 0.8, "for_window": 3}]},
     "alerts[0].for_window: unknown key"),
    ({"alerts": [{"indicator": "service_level", "op": "<", "warning": 0.8, "clear_windows": 0}]},
     "alerts[0].clear_windows: expected an integer >= 1, got 0"),
    ({"alerts": [{"indicator": "service_level", "op": "<", "warning": "0.8"}]},
     "alerts[0].warning: expected a number or \"Nx\", got '0.8'"),
    ({"alerts": {"indicator": "service_level"}}, "alerts: expected an array of tables"),
    ({"alerts": [{"indicator": "service_level", "op": "<", "warning": 0.8, "channels": ["chat"]},
                 {"indicator": "service_level", "op": "<", "critical": 0.5}]},
     "alerts[1]: a second service_level alert for chat"),
    ({"slos": [{"name": "Answered", "indicator": "service_level", "objective": 0.8}]},
     "slos[0].name: expected [a-z0-9_]+, got 'Answered'"),
    ({"slos": [{"name": "a", "indicator": "service_level", "objective": 1.5}]},
     "slos[0].objective: expected a number between 0 and 1, got 1.5"),
    ({"slos": [{"name": "a", "indicator": "csat", "objective": 0.5}]},
     "slos[0].indicator: unknown indicator 'csat'"),
    ({"slos": [{"name": "a", "indicator": "resolution", "objective": 0.9},
               {"name": "a", "indicator": "service_level", "objective": 0.8}]},
     "slos[1].name: 'a' is used twice"),
])
def test_a_bad_entry_names_its_key(raw: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as exc:
        from_mapping(raw, env={})
    assert str(exc.value).startswith(message), str(exc.value)


def test_channels_are_checked_against_the_configured_ones(tmp_path: Path) -> None:
    raw = {"channels": {"phone": {}},
           "alerts": [{"indicator": "service_level", "op": "<", "warning": 0.8, "channels": ["chat"]}]}
    with pytest.raises(ConfigError, match="'chat' is not a configured channel"):
        from_mapping(raw, env={})
    assert load(channels={"phone": {}}).alerts[0].channels == ("phone",)


def test_check_config_prints_the_effective_tables(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "sqm.toml"
    path.write_text('[[alerts]]\nindicator = "oldest_wait_s"\nop = ">"\nwarning = "3x"\n'
                    'channels = ["phone", "chat"]\n', encoding="utf-8")
    assert main(["--config", str(path), "check-config"]) == 0
    out = capsys.readouterr().out.splitlines()
    lines = out[out.index("") - 1:]  # from the line before the first blank one (the summary's end)
    assert lines[2].split() == ["alert", "op", "warning", "critical", "for", "clear", "min_volume",
                                "channels", "queues"]
    assert lines[3].split() == ["oldest_wait_s", ">", "3x", "-", "2", "2", "10", "phone,chat", "-"]
    assert lines[5].split() == ["slo", "indicator", "objective", "period_days", "min_events",
                                "channels", "by"]
    assert lines[6].split() == ["answered_in_time", "service_level", "0.8", "30", "10", "all",
                                "channel"]
    assert lines[8].startswith("rules: job sqm-worker, watermark lag > 300 s, dead letters > "
                               "1.00%, consumer lag > 100000 records, runbook https://")
    assert lines[9] == ("note: SLO answered_in_time (objective 0.8): its page alert needs an "
                        "error ratio above 1 and cannot fire; the threshold alerts cover acute "
                        "drops.")
    bad = tmp_path / "bad.toml"
    bad.write_text('[[alerts]]\nindicator = "service_level"\nop = "<"\nwarning = "2x"\n',
                   encoding="utf-8")
    assert main(["--config", str(bad), "check-config"]) == 2
    assert capsys.readouterr().err.strip() == (
        'sqm: bad config: alerts[0].warning: "Nx" is for *_s indicators, not service_level')
