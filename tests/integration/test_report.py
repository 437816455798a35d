"""``agentmaint report`` on a real run, loaded in headless Chromium.

One run of local hosts: web-1 succeeds, web-2 fails its update of app (the error says
``<script>``) and is rolled back, web-3 fails cache, which has no rollback, ``dead`` is
unreachable; a second environment never ran. The report is written by the
CLI, loaded in Chromium (`tests.browser`), and its DOM is checked for every host and
every state; the screenshot stays in the test's directory.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from agentmaint.cli import main
from tests.browser import dump_dom, parse_dom, screenshot
from tests.schedules import always_open, local_hosts

pytestmark = pytest.mark.integration

EVIL = "<script>document.title='owned'</script>"


def _schedule(tmp_path: Path) -> Path:
    hosts = local_hosts("web-1", "web-2", "web-3")
    hosts["dead"] = {
        "ansible_host": "127.0.0.1",
        "ansible_port": 1,
        "ansible_ssh_common_args": "-o ConnectTimeout=3",
    }

    def failing(host: str) -> str:
        return f'test "$AGENTMAINT_HOST" != {host} || {{ echo "{EVIL}" >&2; exit 3; }}'

    document: dict[str, Any] = always_open(
        hosts,
        {
            "app": {
                "description": f"The agents' API {EVIL} & more",
                "update_command": failing("web-2"),
                "rollback_command": f"echo '{EVIL}'",
                "frequency": "weekly",
            },
            # No rollback: web-3 stays failed. (web-2 and dead, out after app, skip it.)
            "cache": {"update_command": failing("web-3"), "frequency": "daily"},
        },
        state_dir=str(tmp_path / "state"),
    )
    staging = dict(document["environments"]["fleet"], hosts=local_hosts("stage-1"))
    document["environments"]["staging"] = staging
    path = tmp_path / "schedule.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def test_report_in_a_browser(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _schedule(tmp_path)
    assert main(["run", str(path), "-e", "fleet", "--json"]) == 1
    run = json.loads(capsys.readouterr().out)["run"]
    page = tmp_path / "report.html"
    assert main(["report", str(path), "--out", str(page)]) == 0
    assert f"wrote {page} (run {run['id']})" in capsys.readouterr().out

    html = page.read_text()
    for external in ("http:", "https:", "src=", "href=", "url(", "@import", "<link"):
        assert external not in html, external
    assert EVIL not in html  # every copy escaped

    dom = parse_dom(dump_dom(page, tmp_path / "profile"))
    assert dom.find_all("script") == []  # not one became an element
    assert dom.find_all("title")[0].text == "agentmaint report: schedule.yaml"
    text = dom.by_id("components").text
    assert f"The agents' API {EVIL} & more" in text  # shown as text, whole
    assert f"echo '{EVIL}'" in text

    # The fleet matrix: a row per host, a cell per component, coloured by its state.
    fleet = dom.by_id("fleet-matrix")
    states = {
        (row.attrs["data-host"], cell.attrs["data-component"]): cell.attrs["data-state"]
        for row in fleet.find_all("tr")
        if "data-host" in row.attrs
        for cell in row.find_all("td")
        if "data-state" in cell.attrs
    }
    assert states == {
        ("web-1", "app"): "success",
        ("web-1", "cache"): "success",
        ("web-2", "app"): "rolled_back",
        ("web-2", "cache"): "never",  # skipped: not an attempt
        ("web-3", "app"): "success",
        ("web-3", "cache"): "failed",
        ("dead", "app"): "unreachable",
        ("dead", "cache"): "never",
        ("stage-1", "app"): "never",
        ("stage-1", "cache"): "never",
    }
    for (host, component), state in states.items():
        (cell,) = [
            c
            for r in fleet.find_all("tr", data_host=host)
            for c in r.find_all("td", data_component=component)
        ]
        assert f"state-{state}" in (cell.attrs["class"] or "").split()

    # The run list: the run with its duration and host counts.
    (listed,) = dom.by_id("run-list").find_all("tr", data_run=run["id"])
    assert listed.find_all("td", data_state="failed")
    assert "s" in listed.find_all("td")[4].text  # took ...s

    # The run: hosts by actions, with each record's state and error.
    assert dom.by_id("run").attrs["data-run"] == run["id"]
    grid = dom.by_id("run-grid")
    cells = {
        (row.attrs["data-host"], c.attrs["data-component"], c.attrs["data-action"]): c
        for row in grid.find_all("tr")
        if "data-host" in row.attrs
        for c in row.find_all("td")
        if "data-action" in c.attrs
    }
    assert {key: c.attrs["data-state"] for key, c in cells.items()} == {
        ("web-1", "app", "update"): "success",
        ("web-1", "cache", "update"): "success",
        ("web-2", "app", "update"): "failed",
        ("web-2", "app", "rollback"): "rolled_back",
        ("web-2", "cache", "update"): "skipped",
        ("web-3", "app", "update"): "success",
        ("web-3", "cache", "update"): "failed",
        ("dead", "app", "update"): "unreachable",
        ("dead", "cache", "update"): "skipped",
    }
    assert f"non-zero return code (3): {EVIL}" in cells[("web-2", "app", "update")].text
    assert "127.0.0.1" in cells[("dead", "app", "update")].text

    # The timeline: a lane per host that ran tasks, bars coloured by the task's status.
    timeline = dom.by_id("timeline")
    assert {lane.attrs["data-host"] for lane in timeline.find_all("g")} == {
        "web-1",
        "web-2",
        "web-3",
        "dead",
    }
    bars = timeline.find_all("rect")
    by_host = {b.attrs["data-host"]: set() for b in bars if "data-host" in b.attrs}
    for bar in bars:
        if "data-host" in bar.attrs:
            by_host[bar.attrs["data-host"]].add(bar.attrs["data-state"])
    assert "failed" in by_host["web-2"] or "rescued" in by_host["web-2"]
    assert "unreachable" in by_host["dead"]
    assert by_host["web-1"] <= {"ok", "changed", "skipped"}
    assert all(float(b.attrs["width"] or 0) > 0 for b in bars)

    png = screenshot(page, tmp_path / "profile", tmp_path / "report.png")
    assert png.stat().st_size > 10_000  # a drawn page, not a blank one


def test_report_refuses_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _schedule(tmp_path)
    page = tmp_path / "report.html"
    # No history yet: a report all the same (every host never maintained, no run).
    assert main(["report", str(path), "--out", str(page)]) == 0
    assert "(run no run yet)" in capsys.readouterr().out
    assert "No history yet" in page.read_text()

    assert main(["report", str(path), "--run", "20990101T000000Z-000000", "--out", str(page)]) == 2
    assert "no such run in the history: 20990101T000000Z-000000" in capsys.readouterr().err

    precious = tmp_path / "precious"
    precious.write_text("keep")
    link = tmp_path / "link.html"
    link.symlink_to(precious)
    assert main(["report", str(path), "--out", str(link)]) == 2
    assert "is a symlink; agentmaint never follows one" in capsys.readouterr().err
    assert precious.read_text() == "keep"

    assert main(["report", str(path), "--out", str(tmp_path / "no" / "r.html")]) == 2
    assert "cannot open report file" in capsys.readouterr().err
    assert main(["report", str(path), "--out", str(tmp_path)]) == 2
    assert "is a directory" in capsys.readouterr().err

    with pytest.raises(SystemExit) as done:
        main(["report", "--help"])
    assert done.value.code == 0
    usage = capsys.readouterr().out
    assert "agentmaint report schedule.yaml --out report.html" in usage
    assert "Exit codes:" in usage and "--run RUN_ID|last" in usage


def test_report_attached_to_the_email_of_a_finished_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.integration.test_notify import start_smtp

    box, controller = start_smtp(login=False)
    try:
        document = always_open(
            local_hosts("h1", "h2"),
            {
                "app": {
                    "description": f"app {EVIL}",
                    "update_command": f'test "$AGENTMAINT_HOST" != h2 || {{ echo "{EVIL}" >&2; '
                    "exit 3; }",
                    "rollback_command": "true",
                    "frequency": "weekly",
                }
            },
            state_dir=str(tmp_path / "state"),
            notification={
                "report": True,
                "smtp": {"host": "127.0.0.1", "port": box.port},
                "channels": [
                    {"type": "email", "to": "ops@example.com", "when": ["start", "partial"]}
                ],
            },
        )
        path = tmp_path / "schedule.yaml"
        path.write_text(yaml.safe_dump(document))
        assert main(["run", str(path), "-q"]) == 1
    finally:
        controller.stop()
    (_, started), (_, finished) = box.messages
    assert list(started.iter_attachments()) == []  # the start tells nothing a report would
    assert finished.get_content_type() == "multipart/mixed"
    assert finished.get_body(("plain",)) is not None  # the summary stays the message
    (attached,) = finished.iter_attachments()
    assert attached.get_content_type() == "text/html"
    capsys.readouterr()
    assert main(["runs", str(path), "--json"]) == 0
    run_id = json.loads(capsys.readouterr().out)[0]["id"]
    assert attached.get_filename() == f"agentmaint-report-{run_id}.html"
    page = attached.get_content()
    assert EVIL not in page
    dom = parse_dom(page)
    assert dom.by_id("run").attrs["data-run"] == run_id
    assert {
        r.attrs["data-host"] for r in dom.by_id("run-grid").find_all("tr") if "data-host" in r.attrs
    } == {"h1", "h2"}
    for external in ("http:", "https:", "src=", "href="):
        assert external not in page
