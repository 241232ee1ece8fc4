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
