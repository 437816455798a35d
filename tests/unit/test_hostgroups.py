"""Host names said in few words: consecutive numbers collapse, anything else stays."""

from __future__ import annotations

from agentmaint.cli.hostgroups import host_ranges, hosts_phrase


def test_consecutive_numbers_collapse_in_natural_order() -> None:
    hosts = [f"web-{n}" for n in (10, 9, 1, 2, 3, 8, 11)] + ["db", "web-2"]
    assert host_ranges(hosts) == ["db", "web-1..web-3", "web-8..web-11"]


def test_short_runs_other_prefixes_and_widths_stay_apart() -> None:
    assert host_ranges(["a-1", "a-2", "b-3", "app-09", "app-010"]) == [
        "a-1",
        "a-2",
        "app-09",
        "app-010",
        "b-3",
    ]


def test_phrase_counts_hosts_once() -> None:
    assert hosts_phrase(["demo-3"]) == "demo-3 (1 host)"
    hosts = [f"app-{n:02d}" for n in range(1, 41) if n != 7]
    assert hosts_phrase([*hosts, "app-01"]) == "app-01..app-06, app-08..app-40 (39 hosts)"
