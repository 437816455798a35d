"""``agentmaint check`` against ready and broken hosts: real ansible-runner jobs, no host changed.

Broken hosts: an SSH host on a closed loopback port (unreachable), a missing Python
interpreter, privilege escalation that fails (sudo is not installed here) or lands on a
non-root user while os_packages needs root, a docker component whose PATH has no docker,
and backups going to a 1 MiB tmpfs or a read-only one (mounted in a private mount
namespace of the command's own, so nothing outlives the test).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from agentmaint.cli import main
from tests.schedules import always_open, local_hosts

pytestmark = pytest.mark.integration

SHA = "a" * 64


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def fake_docker(directory: Path, *, compose: bool = True) -> Path:
    """A directory holding a `docker` whose ``compose version --short`` answers (or fails)."""
    directory.mkdir()
    script = directory / "docker"
    answer = (
        "echo 2.29.1; exit 0"
        if compose
        else "echo \"'compose' is not a docker command\" >&2; exit 1"
    )
    script.write_text(f'#!/bin/sh\n[ "$1 $2" = "compose version" ] && {{ {answer}; }}\nexit 1\n')
    script.chmod(0o755)
    return directory


def write(tmp_path: Path, document: dict[str, Any]) -> Path:
    path = tmp_path / "schedule.yaml"
    path.write_text(yaml.safe_dump({"state_dir": str(tmp_path / "state"), **document}))
    return path


def checks_of(report: dict[str, Any]) -> dict[str, dict[str, tuple[bool, str]]]:
    return {
        h["host"]: {c["name"]: (c["ok"], c["detail"]) for c in h["checks"]} for h in report["hosts"]
    }


def run_check(path: Path, *args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, Any]:
    code = main(["check", str(path), "--json", *args])
    return code, json.loads(capsys.readouterr().out)


def test_mixed_fleet(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    docker_dir = fake_docker(tmp_path / "bin")
    hosts: dict[str, Any] = {
        **local_hosts("ready"),
        "down": {
            "ansible_connection": "ssh",
            "ansible_host": "127.0.0.1",
            "ansible_port": closed_port(),
            "ansible_ssh_timeout": 5,
        },
        "nopython": {
            "ansible_connection": "local",
            "ansible_python_interpreter": "/nonexistent/python3",
        },
    }
    backups, models = tmp_path / "backups", tmp_path / "models" / "llm"
    path = write(
        tmp_path,
        always_open(
            hosts,
            {
                "app": {"update_command": "true", "frequency": "daily"},
                "llm": {
                    "role": "model",
                    "frequency": "daily",
                    "vars": {
                        "version": "v1",
                        "url": "https://example.com/m",
                        "sha256": SHA,
                        "root": str(models),
                    },
                },
                "web": {
                    "role": "docker",
                    "frequency": "daily",
                    "vars": {
                        "project_directory": "/srv/web",
                        "environment": {"PATH": f"{docker_dir}:/usr/bin:/bin"},
                    },
                },
            },
            backup={"pre_update": True, "paths": ["/etc/hostname"], "directory": str(backups)},
        ),
    )
    code, report = run_check(path, capsys=capsys)
    assert code == 1
    # In file order (the test's YAML writer sorts the host names).
    assert [(h["environment"], h["host"], h["ready"]) for h in report["hosts"]] == [
        ("fleet", "down", False),
        ("fleet", "nopython", False),
        ("fleet", "ready", True),
    ]
    checks = checks_of(report)
    ready = checks["ready"]
    assert list(ready) == ["reachable", "python", "backup", "docker", "model_root"]
    assert all(ok for ok, _ in ready.values()), ready
    assert ready["reachable"][1] == "connected as root"
    assert ready["python"][1].startswith(f"Python {sys.version.split()[0]} at ")
    assert "64.0 MiB needed" in ready["backup"][1]
    assert ready["docker"][1] == f"{docker_dir}/docker with compose 2.29.1"
    assert ready["model_root"][1] == f"{models} writable (at {tmp_path})"

    down = checks["down"]
    assert down["reachable"][0] is False
    assert down["reachable"][1].startswith("unreachable: ")
    assert "Connection refused" in down["reachable"][1]
    assert {name: ok for name, (ok, _) in down.items() if name != "reachable"} == dict.fromkeys(
        ["python", "backup", "docker", "model_root"], False
    )
    assert down["docker"][1] == "not checked: the reachable check failed"

    nopython = checks["nopython"]
    assert nopython["reachable"] == (True, "connected as root")
    assert nopython["python"][0] is False
    assert "/nonexistent/python3" in nopython["python"][1]
    assert nopython["model_root"] == (False, "not checked: the python check failed")

    # Only read: the backup directory and the model root were not created, and the
    # check's job directory is gone.
    assert not backups.exists() and not models.parent.exists()
    assert list((tmp_path / "state" / "checks").iterdir()) == []


def test_all_ready_exits_0_and_names_each_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(
        tmp_path,
        {
            "environments": {
                "staging": {
                    "hosts": local_hosts("s1"),
                    "update_schedule": {"day_of_week": "daily", "time": "00:00", "duration": "1h"},
                },
                "prod": {
                    "hosts": {
                        "p1": {
                            "ansible_connection": "ssh",
                            "ansible_host": "127.0.0.1",
                            "ansible_port": closed_port(),
                            "ansible_ssh_timeout": 5,
                        }
                    },
                    "update_schedule": {"day_of_week": "daily", "time": "00:00", "duration": "1h"},
                },
            },
            "components": {"app": {"update_command": "true", "frequency": "daily"}},
        },
    )
    # prod's host is unreachable: checking staging alone is all ready.
    assert main(["check", str(path), "--environment", "staging"]) == 0
    out = capsys.readouterr().out
    assert "staging/s1: ready" in out
    assert "ok      reachable: connected as root" in out
    assert "prod" not in out
    assert "1 host(s) ready" in out

    assert main(["check", str(path)]) == 1
    out = capsys.readouterr().out
    assert "prod/p1: NOT READY" in out
    assert "PROBLEM reachable: unreachable: " in out
    assert "1 of 2 host(s) not ready, 2 problem(s)" in out


def test_privilege_escalation(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert shutil.which("sudo") is None, "this test needs a host without sudo"
    hosts = {
        **local_hosts("root"),
        # sudo is not installed: escalating to another user fails.
        "nosudo": {
            "ansible_connection": "local",
            "ansible_become": True,
            "ansible_become_user": "nobody",
        },
        # Escalation works, but to a user that is not root, and os_packages needs root.
        "nobody": {
            "ansible_connection": "local",
            "ansible_become": True,
            "ansible_become_method": "su",
            "ansible_become_user": "nobody",
            "ansible_become_flags": "-s /bin/sh",
        },
    }
    path = write(
        tmp_path,
        always_open(hosts, {"os": {"role": "os_packages", "frequency": "weekly"}}),
    )
    code, report = run_check(path, capsys=capsys)
    assert code == 1
    checks = checks_of(report)
    assert checks["root"] == {
        "reachable": (True, "connected as root"),
        "privilege": (True, "the login user is uid 0"),
        "python": checks["root"]["python"],
        "package_manager": (True, f"apt ({shutil.which('apt-get')}, {shutil.which('dpkg-query')})"),
    }
    assert checks["root"]["python"][0] is True
    ok, detail = checks["nosudo"]["privilege"]
    assert not ok
    assert detail.startswith("privilege escalation (become) fails: ")
    assert "sudo: not found" in detail
    assert checks["nosudo"]["package_manager"] == (False, "not checked: the privilege check failed")
    assert checks["nobody"]["privilege"] == (
        False,
        "privilege escalation runs commands as uid 65534, not root: "
        "os need(s) root (role os_packages)",
    )


def test_privilege_escalation_follows_the_become_setting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The probe escalates as the runs will: per environment here, no ansible_become at all."""
    assert shutil.which("sudo") is None, "this test needs a host without sudo"
    window = {"day_of_week": "daily", "time": "00:00", "duration": "24h"}

    def env(host: str, become: Any, **variables: Any) -> dict[str, Any]:
        return {
            "hosts": {host: {"ansible_connection": "local", **variables}},
            "update_schedule": window,
            "become": become,
        }

    path = write(
        tmp_path,
        {
            "environments": {
                # su to a user that is not root, while os_packages needs root.
                "tosu": env(
                    "h-su", {"method": "su", "user": "nobody"}, ansible_become_flags="-s /bin/sh"
                ),
                # sudo to nobody (sudo is not installed here).
                "tosudo": env("h-sudo", {"user": "nobody"}),
                # No escalation: the login user (root) is enough.
                "off": env("h-off", False),
            },
            "components": {"os": {"role": "os_packages", "frequency": "weekly"}},
        },
    )
    code, report = run_check(path, capsys=capsys)
    assert code == 1
    checks = checks_of(report)
    assert checks["h-su"]["privilege"] == (
        False,
        "privilege escalation runs commands as uid 65534, not root: "
        "os need(s) root (role os_packages)",
    )
    ok, detail = checks["h-sudo"]["privilege"]
    assert not ok
    assert detail.startswith("privilege escalation (become) fails: ")
    assert "sudo: not found" in detail
    assert checks["h-off"]["privilege"] == (True, "the login user is uid 0")
    assert checks["h-off"]["package_manager"][0] is True


def test_docker_missing_from_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    no_compose = fake_docker(tmp_path / "old", compose=False)
    components = {
        "web": {
            "role": "docker",
            "frequency": "daily",
            "vars": {"project_directory": "/srv/web", "environment": {"PATH": str(empty)}},
        },
    }
    path = write(tmp_path, always_open(local_hosts("h1"), components))
    code, report = run_check(path, capsys=capsys)
    assert code == 1
    ok, detail = checks_of(report)["h1"]["docker"]
    assert not ok
    assert detail == f"docker not found on PATH ({empty})"

    components["web"]["vars"]["environment"] = {"PATH": f"{no_compose}:/usr/bin:/bin"}
    path = write(tmp_path, always_open(local_hosts("h1"), components))
    code, report = run_check(path, capsys=capsys)
    assert code == 1
    ok, detail = checks_of(report)["h1"]["docker"]
    assert not ok
    assert detail.startswith(f"{no_compose}/docker has no compose plugin")


def test_docker_standalone_compose(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """With ``compose_command`` the check runs that command, not the docker plugin."""
    tools = fake_docker(tmp_path / "bin", compose=False)
    compose = tools / "docker-compose"
    compose.write_text('#!/bin/sh\n[ "$*" = "--verbose version --short" ] && echo 1.29.2\n')
    compose.chmod(0o755)
    components = {
        "web": {
            "role": "docker",
            "frequency": "daily",
            "vars": {
                "project_directory": "/srv/web",
                "compose_command": ["docker-compose", "--verbose"],
                "environment": {"PATH": f"{tools}:/usr/bin:/bin"},
            },
        },
    }
    path = write(tmp_path, always_open(local_hosts("h1"), components))
    code, report = run_check(path, capsys=capsys)
    assert code == 0
    ok, detail = checks_of(report)["h1"]["docker"]
    assert ok
    assert detail == f"{tools}/docker, {compose} --verbose is compose 1.29.2"

    components["web"]["vars"]["compose_command"] = ["/nonexistent/docker-compose"]
    path = write(tmp_path, always_open(local_hosts("h1"), components))
    code, report = run_check(path, capsys=capsys)
    assert code == 1
    ok, detail = checks_of(report)["h1"]["docker"]
    assert not ok
    assert detail.startswith("compose command /nonexistent/docker-compose not found on PATH")


def in_mount_namespace(tmp_path: Path, mounts: str, path: Path) -> subprocess.CompletedProcess[str]:
    """``agentmaint check --json`` in a private mount namespace after the `mounts` commands."""
    script = f"set -e\n{mounts}\nexec {sys.executable} -m agentmaint check --json {path}\n"
    return subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "/bin/sh", "-c", script],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"},
    )


def test_backup_and_model_root_on_small_and_read_only_mounts(tmp_path: Path) -> None:
    small, readonly = tmp_path / "small", tmp_path / "readonly"
    small.mkdir()
    readonly.mkdir()
    components = {
        "llm": {
            "role": "model",
            "frequency": "daily",
            "vars": {
                "version": "v1",
                "url": "https://example.com/m",
                "sha256": SHA,
                "root": str(readonly / "models" / "llm"),
            },
        },
    }
    mounts = (
        f"mount -t tmpfs -o size=1m agentmaint-test {small}\n"
        f"mount -t tmpfs -o size=16m,ro agentmaint-test {readonly}"
    )
    path = write(
        tmp_path,
        always_open(
            local_hosts("h1"),
            components,
            backup={
                "pre_update": True,
                "paths": ["/etc/hostname"],
                "directory": str(small / "archives"),
            },
        ),
    )
    done = in_mount_namespace(tmp_path, mounts, path)
    assert done.returncode == 1, done.stderr
    checks = checks_of(json.loads(done.stdout))["h1"]
    assert checks["backup"] == (
        False,
        f"{small}/archives (nearest existing: {small}): only 1.0 MiB free, 64.0 MiB needed "
        "(2 x the backed-up paths, at least 64 MiB)",
    )
    assert checks["model_root"] == (
        False,
        f"{readonly}/models/llm not writable: {readonly} is not a writable directory",
    )

    path = write(
        tmp_path,
        always_open(
            local_hosts("h1"),
            {"app": {"update_command": "true", "frequency": "daily"}},
            backup={"pre_update": True, "paths": ["/etc/hostname"], "directory": str(readonly)},
        ),
    )
    done = in_mount_namespace(tmp_path, mounts, path)
    assert done.returncode == 1, done.stderr
    assert checks_of(json.loads(done.stdout))["h1"]["backup"] == (
        False,
        f"{readonly} is not writable",
    )
    # The mounts lived in the namespace only.
    assert not os.path.ismount(small) and not os.path.ismount(readonly)


def test_bad_input_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(
        tmp_path,
        always_open(local_hosts("h1"), {"app": {"update_command": "true", "frequency": "daily"}}),
    )
    assert main(["check", str(path), "--environment", "nope"]) == 2
    assert "no environment 'nope' (known: fleet)" in capsys.readouterr().err
    assert main(["check", str(tmp_path / "missing.yaml")]) == 2
    bad = tmp_path / "bad.yaml"
    bad.write_text("environments: 3\n")
    assert main(["check", str(bad)]) == 2
