"""The HTML report's pieces without a run: timeline geometry, escaping, the file it writes."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from agentmaint.errors import UsageError
from agentmaint.records import RunRecord, RunStatus, TaskResult, TaskStatus
from agentmaint.report.fleet import Fleet, FleetRow
from agentmaint.report.model import ComponentInfo, GridCell, GridRow, MatrixRow, Report, RunDetail
from agentmaint.report.render import render_report, write_report
from agentmaint.report.timeline import LABEL_WIDTH, MIN_BAR_WIDTH, PLOT_WIDTH, layout
from agentmaint.run.stored import HostTally, RunSummary

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
EVIL = "<script>alert('x')</script>"


def _task(host: str, start: float, end: float, status: TaskStatus = TaskStatus.OK) -> TaskResult:
    return TaskResult(
        host=host,
        play="Maintain app | fleet",
        task=f"Update | app {EVIL}",
        status=status,
        start=T0 + timedelta(seconds=start),
        end=T0 + timedelta(seconds=end),
    )


def test_timeline_places_each_task_by_its_recorded_times() -> None:
    tasks = [
        _task("b", 0, 10),
        _task("a", 2, 4, TaskStatus.FAILED),
        _task("b", 10, 10),  # an instant: still a visible bar
        TaskResult(host="c", play="p", task="t", status=TaskStatus.OK),  # no times: left out
    ]
    timeline = layout(tasks, T0, T0 + timedelta(seconds=20))
    assert [lane.host for lane in timeline.lanes] == ["b", "a"]  # by first start
    assert timeline.span_s == 20
    first, failed, instant = timeline.bars
    scale = PLOT_WIDTH / 20
    assert (first.x, first.width) == (LABEL_WIDTH, 10 * scale)
    assert (failed.x, failed.width, failed.status) == (LABEL_WIDTH + 2 * scale, 2 * scale, "failed")
    assert failed.y > first.y  # host a's lane is below b's
    assert instant.width == MIN_BAR_WIDTH
    labels = [tick.label for tick in timeline.ticks]
    assert labels[0] == "0s" and labels[-1] == "20s"
    assert all(
        LABEL_WIDTH <= bar.x + bar.width <= LABEL_WIDTH + PLOT_WIDTH for bar in timeline.bars
    )


def test_timeline_of_a_long_run_counts_minutes_and_of_no_task_is_empty() -> None:
    timeline = layout([_task("h", 0, 1800)], T0)
    assert timeline.ticks[-1].label == "30m"
    empty = layout([], T0, None)
    assert (empty.bars, empty.lanes) == ((), ())


def _report() -> Report:
    """A report in which every string from the schedule or the history is hostile."""
    row = FleetRow(
        environment="fleet",
        component="app",
        host="web-1",
        last_success=T0,
        last_outcome="rolled_back",
        next_due=None,
        due_now=False,
        reason=f"reason {EVIL}",
        needs_attention=True,
    )
    run = RunRecord(
        id="20260302T010000Z-abcdef",
        trigger="manual",
        started=T0,
        finished=T0 + timedelta(seconds=42),
        status=RunStatus.FAILED,
        message=f"message {EVIL}",
    )
    summary = RunSummary(run, HostTally(failed=1, rolled_back=1))
    return Report(
        source=f"schedule {EVIL}.yaml",
        history="/srv/history.sqlite3",
        fleet=Fleet(at=T0, rows=(row,), recorded=True),
        matrix=(MatrixRow("fleet", "web-1", (row,)),),
        components=(
            ComponentInfo(
                name="app",
                description=f"description {EVIL}",
                role="command",
                frequency="weekly",
                update_command=f"echo '{EVIL}' && false",
                rollback_command=f"echo {EVIL}",
            ),
        ),
        runs=(summary,),
        detail=RunDetail(
            summary=summary,
            columns=(("app", "update"), ("app", "rollback")),
            rows=(
                GridRow(
                    "fleet",
                    "web-1",
                    (
                        GridCell("app", "update", "failed", f"non-zero return code (3): {EVIL}"),
                        GridCell("app", "rollback", "rolled_back", None),
                    ),
                ),
            ),
            timeline=layout([_task("web-1", 0, 40, TaskStatus.FAILED)], T0, run.finished),
            tasks_recorded=1,
        ),
    )


class _Elements(HTMLParser):
    """The tags a browser's parser would make, and every attribute naming a resource."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.resources: list[tuple[str, str | None]] = []
        self.text: list[str] = []
        self.titles: list[str | None] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.resources += [(k, v) for k, v in attrs if k in {"src", "href", "xlink:href"}]
        self.titles += [v for k, v in attrs if k == "title"]

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_every_string_from_the_schedule_and_the_history_is_escaped() -> None:
    html = render_report(_report(), version="0.0.0")
    parsed = _Elements()
    parsed.feed(html)
    assert "script" not in parsed.tags  # not one of the seven hostile strings became a tag
    assert "<script>" not in html
    text = "".join(parsed.text)
    for shown in (
        f"description {EVIL}",
        f"echo '{EVIL}' && false",
        f"non-zero return code (3): {EVIL}",
        f"message {EVIL}",
        f"schedule {EVIL}.yaml",
        f"Update | app {EVIL}",  # the task's name, in the timeline's tooltip
    ):
        assert shown in text, shown
    assert f"reason {EVIL}" in parsed.titles  # an attribute: escaped, whole
    assert "NEEDS ATTENTION" in text


def test_the_page_is_self_contained() -> None:
    html = render_report(_report(), version="0.0.0")
    parsed = _Elements()
    parsed.feed(html)
    assert parsed.resources == []
    for external in ("http:", "https:", "//", "src=", "href=", "url(", "@import"):
        assert external not in html.replace("</", ""), external
    assert {"style", "svg", "rect", "table"} <= set(parsed.tags)
    assert "link" not in parsed.tags and "img" not in parsed.tags


def test_write_report_never_follows_a_symlink(tmp_path: Path) -> None:
    target = tmp_path / "precious"
    target.write_text("keep me")
    link = tmp_path / "report.html"
    link.symlink_to(target)
    with pytest.raises(UsageError, match="is a symlink; agentmaint never follows one"):
        write_report(link, "<html></html>")
    assert target.read_text() == "keep me"
    with pytest.raises(UsageError, match=r"cannot open report file .*missing"):
        write_report(tmp_path / "missing" / "report.html", "<html></html>")
    out = tmp_path / "out.html"
    write_report(out, "<html>one</html>")
    write_report(out, "<html>two</html>")  # a regular file is replaced
    assert out.read_text() == "<html>two</html>"
    assert os.stat(out).st_mode & 0o777 == 0o600


def test_the_templates_are_package_data() -> None:
    """A non-editable install has them: pyproject's package-data globs match every one."""
    import tomllib

    root = Path(__file__).parent.parent.parent
    config = tomllib.loads((root / "pyproject.toml").read_text())
    globs = config["tool"]["setuptools"]["package-data"]["agentmaint"]
    templates = sorted((root / "agentmaint" / "report" / "templates").iterdir())
    assert templates
    for template in templates:
        relative = template.relative_to(root / "agentmaint")
        assert any(relative.match(pattern) for pattern in globs), relative


def test_description_and_notification_report_are_read(tmp_path: Path) -> None:
    import yaml

    from agentmaint.config.parse import load_schedule
    from agentmaint.errors import ScheduleError

    document: dict[str, Any] = {
        "environments": {
            "fleet": {
                "hosts": {"h1": {"ansible_connection": "local"}},
                "update_schedule": {"day_of_week": "daily", "time": "00:00"},
            }
        },
        "components": {
            "app": {"update_command": "true", "frequency": "weekly", "description": EVIL},
            "db": {"update_command": "true", "frequency": "weekly"},
        },
        "notification": {"email": ["ops@example.com"], "report": True},
    }
    path = tmp_path / "schedule.yaml"
    path.write_text(yaml.safe_dump(document))
    schedule = load_schedule(path)
    assert schedule.components["app"].description == EVIL
    assert schedule.components["db"].description == ""
    assert schedule.notification.report is True
    del document["notification"]["report"]
    path.write_text(yaml.safe_dump(document))
    assert load_schedule(path).notification.report is False
    document["notification"]["report"] = "yes"
    path.write_text(yaml.safe_dump(document))
    with pytest.raises(ScheduleError) as raised:
        load_schedule(path)
    assert [p.path for p in raised.value.problems] == ["notification.report"]
