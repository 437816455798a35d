"""The timer units, the crontab, installing and removing them (in a temporary root)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import yaml

from agentmaint.cli import main
from agentmaint.errors import UsageError
from agentmaint.timer import install
from agentmaint.timer.install import UnitState, install_units, remove_units, unit_state
from agentmaint.timer.units import HEADER, exec_argument, render_units, validate_name

EXE = Path("/opt/agentmaint/bin/agentmaint")


def _document(**update_schedule: Any) -> dict[str, Any]:
    rule = update_schedule or {
        "day_of_week": "monday",
        "time": "02:00",
        "timezone": "Europe/Berlin",
        "duration": "2h",
    }
    return {
        "environments": {
            "prod": {"hosts": {"web1": {"ansible_connection": "local"}}, "update_schedule": rule}
        },
        "components": {"os": {"update_command": "true", "frequency": "weekly"}},
    }


@pytest.fixture
def schedule_file(tmp_path: Path) -> Path:
    path = tmp_path / "nightly.yaml"
    path.write_text(yaml.safe_dump(_document()))
    return path


class FakeSystemctl:
    """Records the systemctl calls instead of making them."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def __call__(self, args: Sequence[str]) -> None:
        self.calls.append(list(args))


# --- escaping and names -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/srv/plain/schedule.yaml", "/srv/plain/schedule.yaml"),
        ("/srv/100%/s.yaml", "/srv/100%%/s.yaml"),
        ("/srv/$HOME/s.yaml", "/srv/$$HOME/s.yaml"),
        ("/srv/with space/s.yaml", '"/srv/with space/s.yaml"'),
        ('/srv/"q"/s.yaml', '"/srv/\\"q\\"/s.yaml"'),
        ("/srv/back\\slash", '"/srv/back\\\\slash"'),
        ("/srv/it's", '"/srv/it\'s"'),
        ("/srv/new\nline", '"/srv/new\\nline"'),
        ("/srv/%h 50%", '"/srv/%%h 50%%"'),
        ("", '""'),
    ],
)
def test_exec_arguments_are_escaped(text: str, expected: str) -> None:
    assert exec_argument(text) == expected


def test_the_executable_keeps_dollars_and_refuses_quotes() -> None:
    assert exec_argument("/srv/$x/agentmaint", executable=True) == "/srv/$x/agentmaint"
    assert exec_argument("/srv/a b%/agentmaint", executable=True) == '"/srv/a b%%/agentmaint"'
    with pytest.raises(UsageError, match="executable"):
        exec_argument('/srv/"q"/agentmaint', executable=True)


@pytest.mark.parametrize("name", ["nightly", "prod.eu-1", "a_b:c"])
def test_valid_names(name: str) -> None:
    assert validate_name(name) == name


@pytest.mark.parametrize("name", ["", "with space", "a/b", "tmpl@", "-x", ".x", "é", "x" * 250])
def test_invalid_names(name: str) -> None:
    with pytest.raises(UsageError):
        validate_name(name)


# --- the rendered units ------------------------------------------------------------------


def _render(tmp_path: Path, *extra: str, document: dict[str, Any] | None = None) -> Path:
    source = tmp_path / "nightly.yaml"
    source.write_text(yaml.safe_dump(document or _document()))
    out = tmp_path / "units"
    assert main(["timer", "render", str(source), "--out", str(out), *extra]) == 0
    return out


def test_render_writes_the_service_and_timer(tmp_path: Path) -> None:
    out = _render(tmp_path, "--jitter", "10m", "--poll", "30m")
    service = (out / "agentmaint-nightly.service").read_text()
    timer = (out / "agentmaint-nightly.timer").read_text()
    assert service.splitlines()[0] == HEADER
    assert timer.splitlines()[0] == HEADER
    for line in (
        "Type=oneshot",
        "After=network-online.target",
        "Wants=network-online.target",
    ):
        assert line in service.splitlines()
    exec_line = next(line for line in service.splitlines() if line.startswith("ExecStart="))
    words = exec_line.removeprefix("ExecStart=").split()
    assert os.path.isabs(words[0]) and words[0].endswith("agentmaint")
    assert words[1:] == ["run", str(tmp_path / "nightly.yaml"), "--scheduled"]
    lines = timer.splitlines()
    assert "OnCalendar=Mon *-*-* 02:00:00 Europe/Berlin" in lines
    assert "OnCalendar=Mon *-*-* 02:30:00 Europe/Berlin" in lines  # a poll tick
    assert "OnCalendar=Mon *-*-* 03:00:00 Europe/Berlin" not in lines  # 1h from the end
    assert "AccuracySec=1s" in lines
    assert "RandomizedDelaySec=600s" in lines
    assert "FixedRandomDelay=true" in lines
    assert not any(line.startswith("Persistent=") for line in lines)
    assert any(line.startswith("#") and "Persistent=true" in line for line in lines)
    assert "WantedBy=timers.target" in lines


def test_render_without_jitter_has_no_randomized_delay(tmp_path: Path) -> None:
    timer = (_render(tmp_path) / "agentmaint-nightly.timer").read_text()
    assert "RandomizedDelaySec" not in timer
    assert "FixedRandomDelay" not in timer


def test_render_name_option(tmp_path: Path) -> None:
    out = _render(tmp_path, "--name", "fleet-eu")
    assert sorted(p.name for p in out.iterdir()) == [
        "agentmaint-fleet-eu.service",
        "agentmaint-fleet-eu.timer",
    ]


def _exit(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    return code, capsys.readouterr().err


def test_render_refuses_a_bad_name(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "my schedule.yaml"
    source.write_text(yaml.safe_dump(_document()))
    code, err = _exit(capsys, "timer", "render", str(source), "--out", str(tmp_path / "o"))
    assert code == 2
    assert "cannot name a unit" in err and "--name" in err
    assert not (tmp_path / "o").exists()
    code, err = _exit(
        capsys, "timer", "render", str(source), "--out", str(tmp_path / "o"), "--name", "a/b"
    )
    assert code == 2 and "'a/b'" in err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--jitter", "2h"], "--jitter 2h is not shorter"),
        (["--jitter", "soon"], "--jitter"),
        (["--poll", "90s"], "whole number of minutes"),
    ],
)
def test_render_refuses_bad_options(
    tmp_path: Path,
    schedule_file: Path,
    capsys: pytest.CaptureFixture[str],
    extra: list[str],
    message: str,
) -> None:
    code, err = _exit(
        capsys, "timer", "render", str(schedule_file), "--out", str(tmp_path / "o"), *extra
    )
    assert code == 2
    assert message in err
    assert "Traceback" not in err


def test_render_needs_out(schedule_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, err = _exit(capsys, "timer", "render", str(schedule_file))
    assert code == 2 and "--out" in err


def test_render_does_not_overwrite_foreign_files(
    tmp_path: Path, schedule_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "o"
    out.mkdir()
    (out / "agentmaint-nightly.timer").write_text("[Timer]\nOnCalendar=daily\n")
    code, err = _exit(capsys, "timer", "render", str(schedule_file), "--out", str(out))
    assert code == 2 and "not written by agentmaint" in err
    assert (out / "agentmaint-nightly.timer").read_text() == "[Timer]\nOnCalendar=daily\n"
    assert not (out / "agentmaint-nightly.service").exists()


def test_cron_lines(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    document = _document()
    document["environments"]["eu"] = {
        "hosts": {"web2": {"ansible_connection": "local"}},
        "update_schedule": {
            "cron": "*/30 1 1 * MON",
            "timezone": "Europe/Berlin",
            "duration": "2h",
        },
    }
    document["environments"]["us"] = {
        "hosts": {"web3": {"ansible_connection": "local"}},
        "update_schedule": {
            "day_of_week": ["sunday", "saturday"],
            "time": "23:05",
            "timezone": "America/New_York",
            "duration": "1h",
        },
    }
    source = tmp_path / "100% fleet.yaml"
    source.write_text(yaml.safe_dump(document))
    assert main(["timer", "render", str(source), "--cron", "--name", "fleet"]) == 0
    lines = capsys.readouterr().out.splitlines()
    command = lines[-1].split("  ", 1)[1]
    assert command.endswith(" run '" + str(source).replace("%", "\\%") + "' --scheduled")
    entries = [line for line in lines if line and not line.startswith("#")]
    assert [line.split("  ")[0] for line in entries] == [
        "CRON_TZ=Europe/Berlin",
        "*/30 1 1 * MON",  # environments in file order (safe_dump sorts them)
        "0 2 * * 1",
        "CRON_TZ=America/New_York",
        "5 23 * * 0,6",
    ]
    assert any("no jitter" in line for line in lines)


def test_cron_refuses_jitter(schedule_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, err = _exit(capsys, "timer", "render", str(schedule_file), "--cron", "--jitter", "5m")
    assert code == 2 and "cron has no jitter" in err


def test_cron_written_to_out(tmp_path: Path, schedule_file: Path) -> None:
    out = tmp_path / "o"
    assert main(["timer", "render", str(schedule_file), "--cron", "--out", str(out)]) == 0
    text = (out / "agentmaint-nightly.cron").read_text()
    assert "CRON_TZ=Europe/Berlin\n" in text


# --- install and remove, in a temporary unit directory ------------------------------------


def _units(name: str = "nightly") -> Any:
    return render_units(
        name, executable=EXE, schedule_file=Path("/etc/agentmaint/nightly.yaml"), environments=[]
    )


def test_install_writes_both_units_and_enables_the_timer(tmp_path: Path) -> None:
    systemctl = FakeSystemctl()
    units = _units()
    paths = install_units(units, unit_dir=tmp_path, systemctl=systemctl)
    assert [p.name for p in paths] == ["agentmaint-nightly.service", "agentmaint-nightly.timer"]
    assert (tmp_path / "agentmaint-nightly.service").read_text() == units.service
    assert (tmp_path / "agentmaint-nightly.timer").read_text() == units.timer
    assert systemctl.calls == [["daemon-reload"], ["enable", "--now", "agentmaint-nightly.timer"]]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "agentmaint-nightly.service",
        "agentmaint-nightly.timer",
    ]
    # Installing again replaces agentmaint's own files.
    install_units(units, unit_dir=tmp_path, systemctl=systemctl)
    assert unit_state(tmp_path / "agentmaint-nightly.timer") is UnitState.AGENTMAINT


def test_install_refuses_to_overwrite_a_foreign_unit(tmp_path: Path) -> None:
    foreign = tmp_path / "agentmaint-nightly.service"
    foreign.write_text("[Service]\nExecStart=/bin/true\n")
    systemctl = FakeSystemctl()
    with pytest.raises(UsageError, match="not written by agentmaint"):
        install_units(_units(), unit_dir=tmp_path, systemctl=systemctl)
    assert foreign.read_text() == "[Service]\nExecStart=/bin/true\n"
    assert not (tmp_path / "agentmaint-nightly.timer").exists()
    assert systemctl.calls == []


def test_install_never_writes_through_a_symlink(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    target.write_text(HEADER + "\n")  # even one that looks like ours
    units_dir = tmp_path / "units"
    units_dir.mkdir()
    (units_dir / "agentmaint-nightly.timer").symlink_to(target)
    with pytest.raises(UsageError, match="not written by agentmaint"):
        install_units(_units(), unit_dir=units_dir, systemctl=FakeSystemctl())
    assert target.read_text() == HEADER + "\n"


def test_remove_deletes_only_agentmaints_units(tmp_path: Path) -> None:
    systemctl = FakeSystemctl()
    install_units(_units(), unit_dir=tmp_path, systemctl=systemctl)
    other = tmp_path / "other.timer"
    other.write_text("[Timer]\n")
    systemctl.calls.clear()
    removed = remove_units("nightly", unit_dir=tmp_path, systemctl=systemctl)
    assert [p.name for p in removed] == ["agentmaint-nightly.service", "agentmaint-nightly.timer"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other.timer"]
    assert systemctl.calls == [["disable", "--now", "agentmaint-nightly.timer"], ["daemon-reload"]]


def test_remove_refuses_a_unit_agentmaint_did_not_write(tmp_path: Path) -> None:
    systemctl = FakeSystemctl()
    install_units(_units(), unit_dir=tmp_path, systemctl=systemctl)
    # Someone replaced the service with their own.
    (tmp_path / "agentmaint-nightly.service").write_text("[Service]\nExecStart=/bin/true\n")
    systemctl.calls.clear()
    with pytest.raises(UsageError, match=r"will not remove .*agentmaint-nightly\.service"):
        remove_units("nightly", unit_dir=tmp_path, systemctl=systemctl)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "agentmaint-nightly.service",
        "agentmaint-nightly.timer",
    ]
    assert systemctl.calls == []


def test_remove_of_nothing_installed_says_so(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="not installed"):
        remove_units("nightly", unit_dir=tmp_path, systemctl=FakeSystemctl())


def test_systemd_booted_checks_the_run_directory(tmp_path: Path) -> None:
    assert not install.systemd_booted(tmp_path / "missing")
    (tmp_path / "system").mkdir()
    assert install.systemd_booted(tmp_path / "system")


# --- on this machine: no systemd as PID 1 -------------------------------------------------


def _listing(directory: Path) -> list[str]:
    return sorted(os.listdir(directory)) if directory.is_dir() else []


def test_install_without_systemd_writes_nothing(
    schedule_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert not install.systemd_booted()  # these machines: PID 1 is not systemd
    before = _listing(install.UNIT_DIR)
    code, err = _exit(capsys, "timer", "install", str(schedule_file))
    assert code == 2
    assert "systemd is not running" in err and "nothing written" in err
    assert _listing(install.UNIT_DIR) == before


def test_remove_without_systemd_exits_2(
    schedule_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = _listing(install.UNIT_DIR)
    code, err = _exit(capsys, "timer", "remove", str(schedule_file))
    assert code == 2 and "systemd is not running" in err
    assert _listing(install.UNIT_DIR) == before


def test_install_cli_through_a_temporary_root(
    schedule_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The CLI's install/remove with systemd "running": the unit directory and systemctl swapped."""
    run_dir = tmp_path / "run-systemd"
    run_dir.mkdir()
    unit_dir = tmp_path / "etc-systemd-system"
    unit_dir.mkdir()
    systemctl = FakeSystemctl()
    monkeypatch.setattr(install, "SYSTEMD_RUN_DIR", run_dir)
    monkeypatch.setattr(install, "UNIT_DIR", unit_dir)
    monkeypatch.setattr(install, "run_systemctl", systemctl)
    monkeypatch.setattr(install, "systemd_booted", lambda run_dir=run_dir: True)
    assert main(["timer", "install", str(schedule_file), "--jitter", "1m"]) == 0
    assert "enabled and started agentmaint-nightly.timer" in capsys.readouterr().out
    assert "RandomizedDelaySec=60s" in (unit_dir / "agentmaint-nightly.timer").read_text()
    assert main(["timer", "remove", str(schedule_file)]) == 0
    assert _listing(unit_dir) == []
    assert systemctl.calls[-2:] == [
        ["disable", "--now", "agentmaint-nightly.timer"],
        ["daemon-reload"],
    ]


def test_timedelta_jitter_boundary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A jitter just shorter than the window (minus its cutoff) is accepted."""
    doc = _document(day_of_week="monday", time="02:00", duration="1h", cutoff="15m")
    source = tmp_path / "s.yaml"
    source.write_text(yaml.safe_dump(doc))
    out = tmp_path / "o"
    assert main(["timer", "render", str(source), "--out", str(out), "--jitter", "44m"]) == 0
    code, err = _exit(capsys, "timer", "render", str(source), "--out", str(out), "--jitter", "45m")
    assert code == 2 and "45m" in err


def test_parse_elapses_reads_only_utc_lines() -> None:
    from datetime import UTC, datetime

    from agentmaint.timer.analyze import parse_elapses

    output = """  Original form: Sun *-03-25..31 03:30:00 Europe/Berlin
Normalized form: Sun *-03-25..31 03:30:00 Europe/Berlin
    Next elapse: Sun 2027-03-28 01:30:00 UTC
       From now: 3 months 21 days left
       Iter. #2: Sun 2028-03-26 01:30:00 UTC
       From now: 1 year 3 months left
       Iter. #3: Sun 2029-03-25 03:30:00 CEST
"""
    assert parse_elapses(output) == (
        datetime(2027, 3, 28, 1, 30, tzinfo=UTC),
        datetime(2028, 3, 26, 1, 30, tzinfo=UTC),
    )
    assert parse_elapses("Normalized form: 2020-01-01\n    Next elapse: never\n") == ()


def test_calendar_elapses_reports_a_rejected_spec() -> None:
    import subprocess

    from agentmaint.timer.analyze import calendar_elapses

    def runner(argv: Sequence[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
        assert env["TZ"] == "UTC"
        assert argv[1:3] == ["calendar", "--iterations=3"]
        return subprocess.CompletedProcess(
            argv, 1, "", "Failed to parse calendar specification 'x'\n"
        )

    with pytest.raises(UsageError, match="rejects 'x'"):
        calendar_elapses("x", 3, runner=runner)
