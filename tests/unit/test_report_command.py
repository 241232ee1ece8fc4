"""``sqm report``'s options: the time forms of ``--from``/``--to``, their errors (each naming its
option, exit 2), the default file name, and the command's flow with a stand-in reader."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from stream_harness import at

from monitor import cli
from monitor.config import Config
from monitor.kafka.reader import ReadError
from monitor.report import command
from monitor.report.command import UsageError, check_channels, default_out, parse_range, parse_time
from monitor.report.model import Inputs, Report
from monitor.report.read import TopicProgress

NOW = at("10:30:15")  # 2026-11-21T10:30:15Z
DAY = 86_400_000


@pytest.mark.parametrize(("text", "expected"), [
    ("2026-12-01T00:00:00Z", at("00:00:00", day=10)),
    ("2026-12-01T09:00:00+01:00", at("08:00:00", day=10)),
    ("2026-12-01T00:00:00.250Z", at("00:00:00.250", day=10)),
    ("2026-12-01", at("00:00:00", day=10)),
    ("now", NOW),
    (" now ", NOW),
    ("-7d", NOW - 7 * DAY),
    ("now-7d", NOW - 7 * DAY),
    ("-12h", NOW - 12 * 3_600_000),
    ("-30m", NOW - 30 * 60_000),
    ("-45s", NOW - 45_000),
    ("-2w", NOW - 14 * DAY),
])
def test_time_forms(text: str, expected: int) -> None:
    assert parse_time(text, NOW, "--from") == expected


@pytest.mark.parametrize("text", [
    "2026-12-01T00:00:00",  # no offset: ambiguous
    "2026-13-01",  # no such month
    "2026-02-30",
    "yesterday",
    "-7y",
    "7d",
    "",
])
def test_bad_times_name_the_option(text: str) -> None:
    with pytest.raises(UsageError, match=r"^--to: "):
        parse_time(text, NOW, "--to")


def test_range_must_run_forward() -> None:
    assert parse_range("-1d", "now", NOW) == (NOW - DAY, NOW)
    with pytest.raises(UsageError, match=r"^--from: .* is not before --to"):
        parse_range("now", "-1d", NOW)
    with pytest.raises(UsageError, match=r"^--from: "):
        parse_range("2026-12-01", "2026-12-01", NOW)


def test_channels_must_be_configured() -> None:
    cfg = Config()
    assert check_channels(cfg, ["phone", "chat"]) == ("phone", "chat")
    assert check_channels(cfg, []) == ()
    with pytest.raises(UsageError, match=r"^--channel: 'fax' is not configured"):
        check_channels(cfg, ["phone", "fax"])


def test_default_file_name() -> None:
    assert default_out(at("00:00:00", day=10), at("00:00:00", day=17), "html") == Path(
        "sqm-report-20261201T000000Z-20261208T000000Z.html")


class _Reader:
    """Stands in for ``read_inputs``: no records, reports a little progress, remembers the call."""

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.calls: list[tuple[int, int]] = []

    def __call__(self, cfg: Config, from_ms: int, to_ms: int, progress: TopicProgress | None
                 ) -> Inputs:
        self.calls.append((from_ms, to_ms))
        if self.fail:
            raise ReadError("topic sqm.indicators.v1 does not exist")
        assert progress is not None
        progress("sqm.indicators.v1", 0, 2)
        progress("sqm.indicators.v1", 2, 2)
        progress("sqm.alerts.v1", 0, 0)
        return Inputs([], [], [])


def _fake_render(report: Report, fmt: str) -> str:
    return f"{fmt} {report.channels} {report.from_ms} {report.to_ms}\n"


def test_writes_the_default_file_and_prints_its_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(command, "render", _fake_render)
    reader = _Reader()
    code = command.report_main(Config(), "2026-11-20", "now", ["chat"], "md", None, now_ms=NOW,
                               read=reader)
    assert code == 0
    name = "sqm-report-20261120T000000Z-20261121T103015Z.md"
    assert capsys.readouterr().out.strip() == name
    assert (tmp_path / name).read_text() == f"md ('chat',) {at('00:00:00', day=-1)} {NOW}\n"
    assert reader.calls == [(at("00:00:00", day=-1), NOW)]


@pytest.mark.parametrize(("args", "message"), [
    (("yesterday", "now", [], "html"), "sqm report: --from: 'yesterday' is not a time"),
    (("now", "-1d", [], "html"), "sqm report: --from: 'now' is not before --to '-1d'"),
    (("-1d", "now", ["fax"], "html"), "sqm report: --channel: 'fax' is not configured"),
    (("-1d", "now", [], "pdf"), "sqm report: --format: 'pdf' is not one of html, md"),
])
def test_bad_options_exit_2_with_one_line(args: tuple[str, str, list[str], str], message: str,
                                          tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    reader = _Reader()
    assert command.report_main(Config(), *args, tmp_path / "r.html", now_ms=NOW, read=reader) == 2
    err = capsys.readouterr().err
    assert err.startswith(message) and err.count("\n") == 1
    assert reader.calls == [] and not (tmp_path / "r.html").exists()


def test_a_broker_error_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = command.report_main(Config(), "-1d", "now", [], "html", tmp_path / "r.html", now_ms=NOW,
                               read=_Reader(fail=True))
    assert code == 1
    assert "does not exist" in capsys.readouterr().err
    assert not (tmp_path / "r.html").exists()


def test_cli_wiring(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    seen: dict[str, Any] = {}

    def fake(cfg: Config, from_text: str, to_text: str, channels: Any, fmt: str, out: Any) -> int:
        seen.update(frm=from_text, to=to_text, channels=tuple(channels), fmt=fmt, out=out)
        return 0

    monkeypatch.setattr(command, "report_main", fake)
    config = tmp_path / "sqm.toml"
    config.write_text('broker_url = "kafka://127.0.0.1:1"\n')
    assert cli.main(["report", "--from=-7d", "--to", "now", "--channel", "phone", "--channel",
                     "chat", "--format", "md", "--out", "x.md", "--config", str(config)]) == 0
    assert seen == {"frm": "-7d", "to": "now", "channels": ("phone", "chat"), "fmt": "md",
                    "out": "x.md"}
    assert cli.main(["--config", str(config), "report", "--from", "now-7d", "--to", "now"]) == 0
    assert (seen["channels"], seen["fmt"], seen["out"]) == ((), "html", None)
