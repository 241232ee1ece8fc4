"""Configuration: SPEC section 6 defaults, environment overrides, one clear message per bad key."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.config import ConfigError, from_mapping, load

SPEC_TARGETS = {  # SPEC section 6, copied here on purpose
    "phone": (20, 600), "chat": (60, 1800), "email": (14400, 86400), "web": (300, 3600),
    "app": (300, 3600), "store": (300, 1800), "social": (3600, 86400),
}


def test_built_in_defaults_match_the_spec() -> None:
    cfg = load(None, env={})
    assert cfg.broker_url == "kafka://127.0.0.1:9092"
    assert cfg.bootstrap_servers == "127.0.0.1:9092"
    assert cfg.metrics_port == 9310
    assert (cfg.window_s, cfg.grace_s, cfg.idle_timeout_s) == (60, 10, 5)
    assert (cfg.max_future_skew_s, cfg.orphan_timeout_s, cfg.reopen_window_s) == (300, 3600, 604800)
    assert {c.name: (c.first_response_target_s, c.resolution_target_s) for c in cfg.channels} \
        == SPEC_TARGETS
    assert all(c.short_abandon_s == 5 for c in cfg.channels)


def test_environment_overrides_broker_and_port(tmp_path: Path) -> None:
    f = tmp_path / "c.toml"
    f.write_text('broker_url = "kafka://10.0.0.1:9092"\nmetrics_port = 9000\n')
    env = {"SQM_BROKER_URL": "kafka://127.0.0.1:19092", "SQM_METRICS_PORT": "9999"}
    cfg = load(f, env=env)
    assert (cfg.bootstrap_servers, cfg.metrics_port) == ("127.0.0.1:19092", 9999)
    assert load(None, env={"SQM_CONFIG": str(f)}).metrics_port == 9000


def test_a_channel_table_defines_the_channel_set_with_default_targets() -> None:
    cfg = from_mapping({"channels": {"phone": {"first_response_target_s": 30}, "chat": {},
                                     "kiosk": {"first_response_target_s": 120,
                                               "resolution_target_s": 900}}}, env={})
    assert cfg.channel_names == ("phone", "chat", "kiosk")
    assert cfg.channel("phone").first_response_target_s == 30
    assert cfg.channel("phone").resolution_target_s == 600
    assert cfg.channel("kiosk").short_abandon_s == 5


@pytest.mark.parametrize(("raw", "env", "message"), [
    ({"window_s": "60"}, {}, "window_s: expected int, got str '60'"),
    ({"window_s": 7}, {}, "window_s: must divide a day (86400 s) evenly, got 7"),
    ({"grace_s": 0}, {}, "grace_s: must be greater than 0, got 0"),
    ({"reorder_s": 11}, {}, "reorder_s: must be 0..grace_s (10), got 11"),
    ({"windw_s": 60}, {}, "windw_s: unknown key"),
    ({"metrics_port": 70000}, {}, "metrics_port: must be 0..65535, got 70000"),
    ({"broker_url": "kafka://nohost"}, {}, "broker_url: expected host:port, got 'nohost'"),
    ({"channels": {"fax": {}}}, {},
     "channels.fax.first_response_target_s: required for a channel without built-in defaults"),
    ({"channels": {"phone": {"first_response_target_s": -1}}}, {},
     "channels.phone.first_response_target_s: must be greater than 0, got -1"),
    ({"channels": {"phone": {"target": 1}}}, {}, "channels.phone.target: unknown key"),
    ({"channels": {"Phone!": {}}}, {}, "channels.Phone!: a channel name is 1..32 of [a-z0-9_-]"),
    ({}, {"SQM_METRICS_PORT": "abc"}, "SQM_METRICS_PORT: expected an integer, got 'abc'"),
    ({"idle_timeout_s": True}, {}, "idle_timeout_s: expected int or float, got bool True"),
    ({"window_s": 7200}, {}, "quality.period_s: 3600 is not a multiple of window_s (7200)"),
    ({"alerts": [{"indicator": "csat", "op": "<", "warning": 3}]}, {},
     "alerts[0].indicator: unknown indicator 'csat' (one of service_level, abandonment_rate, "
     "resolution_rate, on_time_resolution_rate, reopen_rate, first_response_p90_s, "
     "oldest_wait_s, backlog_waiting, no_data, csat_mean, nps, quality_index)"),
])
def test_a_bad_value_names_its_key(raw: dict[str, object], env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as exc:
        from_mapping(raw, env=env)
    assert str(exc.value) == message


def test_unreadable_files_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load(tmp_path / "missing.toml", env={})
    bad = tmp_path / "bad.toml"
    bad.write_text("window_s = = 1")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load(bad, env={})


def test_an_inconsistent_ahp_matrix_stops_start_up_naming_the_matrix_and_its_ratio() -> None:
    """A = [[1, 9, 1/9], [1/9, 1, 9], [9, 1/9, 1]]: every row sums the same way, so its
    principal eigenvalue is 1 + 9 + 1/9 = 91/9 and CR = (91/9 - 3) / 2 / 0.5799 = 6.131."""
    raw = {"quality": {"method": "ahp", "ahp": {
        "scores": ["service_level", "csat_mean", "nps"],
        "matrix": [[1, 9, "1/9"], ["1/9", 1, 9], [9, "1/9", 1]]}}}
    with pytest.raises(ConfigError) as exc:
        from_mapping(raw, env={})
    assert str(exc.value).startswith("quality.ahp.matrix: consistency ratio 6.131 is 0.1 or more")


def test_check_config_prints_the_weights_in_force(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from monitor.cli import main

    f = tmp_path / "c.toml"
    f.write_text('[quality]\nmethod = "expert"\n[quality.weights]\nservice_level = 3\ncsat_mean = 1\n')
    assert main(["--config", str(f), "check-config"]) == 0
    out = capsys.readouterr().out
    assert "quality: period 3600 s, method expert" in out
    assert "weight service_level            0.7500" in out
    assert "weight csat_mean                0.2500" in out
    assert "weight nps" not in out


@pytest.mark.parametrize("command", ["check-config", "rules", "worker", "topics", "generate",
                                     "replay", "watch", "dashboards", "quality", "report"])
def test_config_is_accepted_after_every_subcommand(command: str) -> None:
    from monitor.cli import build_parser

    extra = {"topics": ["apply"], "replay": ["f.jsonl"], "report": ["--from", "now-1d", "--to", "now"]}
    args = build_parser().parse_args(["--config", "before.toml", command, *extra.get(command, []),
                                      "--config", "after.toml"])
    assert args.config == Path("after.toml")
    args = build_parser().parse_args([command, *extra.get(command, []), "--config", "after.toml", "-v"])
    assert (args.config, args.verbose) == (Path("after.toml"), True)
    args = build_parser().parse_args(["--config", "before.toml", command, *extra.get(command, [])])
    assert (args.config, args.verbose) == (Path("before.toml"), False)


def test_check_config_with_config_after_the_subcommand(tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    from monitor.cli import main

    f = tmp_path / "c.toml"
    f.write_text("window_s = 30\n")
    assert main(["check-config", "--config", str(f)]) == 0
    assert "window 30 s" in capsys.readouterr().out


def test_check_config_prints_the_queues_and_the_bound_on_series(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """SPEC 9: each channel's queues with the targets they override, the alert rules' queues
    and the SLOs' ``by``, and the most series a worker exports. By hand: 2 channels; phone's
    queue labels main, billing, sales and other, chat's main: 5. Per (channel, queue) 45 label
    sets (8 event types, duplicate, late, 9 counts, 2 histograms, 5 survey counters, 2 survey
    summaries, 3 SERVQUAL counters x 5 dimensions, 2 backlog gauges): 225; per queue and per
    channel roll-up 13 (oldest wait, 5 ratios, 2 x 3 quantiles, window end) x 7: 91; unlisted
    per channel: 2; alert states: service_level warning and critical on 2 channels, phone's
    queue warning on 4 queues: 8; without channel 11 reject reasons and 12 worker metrics: 23.
    225 + 91 + 2 + 8 + 23 = 349."""
    from monitor.cli import main

    f = tmp_path / "c.toml"
    f.write_text("""
[channels.phone.queues.billing]
first_response_target_s = 30
short_abandon_s = 3
[channels.phone.queues.sales]
[channels.chat]

[[alerts]]
indicator = "service_level"
op = "<"
warning = 0.8
critical = 0.6

[[alerts]]
indicator = "service_level"
channels = ["phone"]
queues = ["*"]
op = "<"
warning = 0.5

[[slos]]
name = "answered_in_time"
indicator = "service_level"
objective = 0.8
by = ["queue"]
""")
    assert main(["--config", str(f), "check-config"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert ("metrics: at most 349 series per worker (channels x queues: 2 channels, 5 queue "
            "labels; 45 per queue, 13 per queue and per channel roll-up, 1 per channel, 8 alert "
            "states, 23 without channel; a histogram or summary counted once per label set)"
            ) in lines
    queues = lines.index("queues (at most 50 per channel; an undeclared queue is measured under "
                         "other):")
    assert lines[queues + 1:queues + 3] == [
        "  phone  main (default), billing (first_response_target_s 30, short_abandon_s 3), "
        "sales, other",
        "  one queue each (no queues declared): chat (main)",
    ]
    alerts = next(i for i, ln in enumerate(lines) if ln.startswith("alert "))
    assert lines[alerts].split() == ["alert", "op", "warning", "critical", "for", "clear",
                                     "min_volume", "channels", "queues"]
    assert lines[alerts + 1].split()[-2:] == ["all", "-"]
    assert lines[alerts + 2].split()[-2:] == ["phone", "*"]
    slo = next(i for i, ln in enumerate(lines) if ln.startswith("slo "))
    assert lines[slo].split()[-1] == "by"
    assert lines[slo + 1].split()[-1] == "queue"


def test_check_config_of_the_defaults_bounds_the_series() -> None:
    """The shipped config: 7 channels, one queue label each (main); per queue 45 + 13, per
    channel 13 + 1, the shipped alerts 9 states per channel (4 rules with warning and critical,
    no_data with warning), 23 without channel: 7 x 58 + 7 x 14 + 63 + 23 = 590."""
    from monitor.config.summary import series_bound

    assert series_bound(load(None, env={})).startswith(
        "metrics: at most 590 series per worker (channels x queues: 7 channels, 7 queue labels;")
