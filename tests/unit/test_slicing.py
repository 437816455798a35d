"""Slices of a run: which node runs which hosts, and how rolling batches carry over."""

from __future__ import annotations

from typing import Any

import pytest

from agentmaint.ansible.naming import Target
from agentmaint.ansible.slicing import slice_targets
from agentmaint.config.parse import parse_schedule
from agentmaint.config.schedule import Schedule
from agentmaint.errors import ScheduleError

WINDOW = {"day_of_week": "Sunday", "time": "02:00", "duration": "2h"}


def schedule(envs: dict[str, dict[str, Any]], nodes: list[str], **execution: Any) -> Schedule:
    document = {
        "environments": {
            name: {
                "servers": [f"{name}{i}" for i in range(spec.pop("hosts"))],
                "update_schedule": WINDOW,
                **spec,
            }
            for name, spec in envs.items()
        },
        "components": {
            "a": {"update_command": "true", "frequency": "daily"},
            "b": {"update_command": "true", "frequency": "daily"},
        },
        "execution": {
            "nodes": [{"name": n, "url": f"ssh://root@{n}"} for n in nodes],
            **execution,
        },
    }
    return parse_schedule(document)


def placement(
    sched: Schedule, targets: list[Target]
) -> dict[str, list[tuple[str, str, tuple[str, ...], Any]]]:
    return {
        s.name: [(t.environment, t.component, t.hosts, t.serial) for t in s.targets]
        for s in slice_targets(sched, targets)
    }


def everything(sched: Schedule, components: tuple[str, ...] = ("a",)) -> list[Target]:
    return [
        Target(env.name, c, env.host_names)
        for env in sched.environments.values()
        for c in components
    ]


# (environments, nodes, expected placement)
CASES: list[tuple[str, dict[str, dict[str, Any]], list[str], dict[str, Any]]] = [
    (
        "no nodes: one local slice",
        {"p": {"hosts": 3}},
        [],
        {"local": [("p", "a", ("p0", "p1", "p2"), None)]},
    ),
    (
        "round robin over two nodes",
        {"p": {"hosts": 5}},
        ["n1", "n2"],
        {"n1": [("p", "a", ("p0", "p2", "p4"), None)], "n2": [("p", "a", ("p1", "p3"), None)]},
    ),
    (
        "fewer hosts than nodes",
        {"p": {"hosts": 1}},
        ["n1", "n2", "n3"],
        {"n1": [("p", "a", ("p0",), None)]},
    ),
    (
        "pinned environment",
        {"p": {"hosts": 2, "execution_node": "n2"}, "t": {"hosts": 2}},
        ["n1", "n2"],
        {
            "n1": [("t", "a", ("t0",), None)],
            "n2": [("p", "a", ("p0", "p1"), None), ("t", "a", ("t1",), None)],
        },
    ),
    (
        "pinned to the controller",
        {"p": {"hosts": 2, "execution_node": "local"}},
        ["n1"],
        {"local": [("p", "a", ("p0", "p1"), None)]},
    ),
    (
        "serial 4 over 2 nodes: 2 each",
        {"p": {"hosts": 6, "rollout": {"serial": 4}}},
        ["n1", "n2"],
        {"n1": [("p", "a", ("p0", "p2", "p4"), 2)], "n2": [("p", "a", ("p1", "p3", "p5"), 2)]},
    ),
    (
        "serial 3 over 2 nodes: 1 each, never more than 3 at once",
        {"p": {"hosts": 4, "rollout": {"serial": 3}}},
        ["n1", "n2"],
        {"n1": [("p", "a", ("p0", "p2"), 1)], "n2": [("p", "a", ("p1", "p3"), 1)]},
    ),
    (
        "serial 1: one node only, so one host at a time",
        {"p": {"hosts": 3, "rollout": {"serial": 1}}},
        ["n1", "n2"],
        {"n1": [("p", "a", ("p0", "p1", "p2"), 1)]},
    ),
    (
        "serial 2 over 3 nodes: two nodes of 1",
        {"p": {"hosts": 4, "rollout": {"serial": 2}}},
        ["n1", "n2", "n3"],
        {"n1": [("p", "a", ("p0", "p2"), 1)], "n2": [("p", "a", ("p1", "p3"), 1)]},
    ),
    (
        "a percentage stays a percentage of each slice",
        {"p": {"hosts": 4, "rollout": {"serial": "50%"}}},
        ["n1", "n2"],
        {"n1": [("p", "a", ("p0", "p2"), "50%")], "n2": [("p", "a", ("p1", "p3"), "50%")]},
    ),
]


@pytest.mark.parametrize(
    ("envs", "nodes", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_placement(
    envs: dict[str, dict[str, Any]], nodes: list[str], expected: dict[str, Any]
) -> None:
    sched = schedule(envs, nodes)
    assert placement(sched, everything(sched)) == expected


def test_a_host_goes_to_the_same_node_for_every_component_and_subset() -> None:
    sched = schedule({"p": {"hosts": 6}}, ["n1", "n2", "n3"])
    full = placement(sched, everything(sched, ("a", "b")))
    # Only some hosts due (p4 and p1): each still goes where it always goes.
    partial = placement(sched, [Target("p", "b", ("p4", "p1"))])
    where = {h: node for node, plays in full.items() for _, _, hosts, _ in plays for h in hosts}
    assert {h: n for n, plays in partial.items() for *_, hosts, _ in plays for h in hosts} == {
        "p4": where["p4"],
        "p1": where["p1"],
    }
    for plays in full.values():
        assert [c for _, c, _, _ in plays] == ["a", "b"]  # play order kept


def test_slices_are_numbered_in_node_order_controller_last() -> None:
    sched = schedule(
        {"p": {"hosts": 2, "execution_node": "local"}, "t": {"hosts": 2}}, ["n1", "n2"]
    )
    slices = slice_targets(sched, everything(sched))
    assert [(s.index, s.name, s.directory) for s in slices] == [
        (1, "n1", "1-n1"),
        (2, "n2", "2-n2"),
        (3, "local", "3-local"),
    ]
    assert slices[2].node is None and slices[0].node is not None
    assert slices[0].hosts == ("t0",)


def test_nothing_due_no_slices() -> None:
    assert slice_targets(schedule({"p": {"hosts": 1}}, ["n1"]), []) == ()


@pytest.mark.parametrize(
    ("nodes", "env_extra", "message"),
    [
        (
            [{"name": "n1", "url": "http://x"}],
            {},
            "execution.nodes[0].url: 'http://x' is not an ssh://",
        ),
        (
            [{"name": "local", "url": "ssh://x"}],
            {},
            "execution.nodes[0].name: 'local' is not a valid node name",
        ),
        (
            [{"name": "n1", "url": "ssh://x"}, {"name": "n1", "url": "ssh://y"}],
            {},
            "execution.nodes[1].name: 'n1' is used twice",
        ),
        (
            [{"name": "n1", "url": "ssh://x:70000"}],
            {},
            "execution.nodes[0].url: 'ssh://x:70000' has an invalid port",
        ),
        (
            [{"name": "n1", "url": "ssh://x"}],
            {"execution_node": "n9"},
            "environments.p.execution_node: 'n9' is not an execution node (known: n1, local)",
        ),
        (
            [{"name": "n1", "url": "ssh://x", "ansible_runner": "a b"}],
            {},
            "execution.nodes[0].ansible_runner: 'a b' is not a command path",
        ),
    ],
)
def test_bad_nodes_are_explained(
    nodes: list[dict[str, Any]], env_extra: dict[str, Any], message: str
) -> None:
    document = {
        "environments": {"p": {"servers": ["a"], "update_schedule": WINDOW, **env_extra}},
        "components": {"a": {"update_command": "true", "frequency": "daily"}},
        "execution": {"nodes": nodes},
    }
    with pytest.raises(ScheduleError) as caught:
        parse_schedule(document)
    assert message in str(caught.value)


def test_node_settings_are_parsed(tmp_path: Any) -> None:
    document = {
        "environments": {"p": {"servers": ["a"], "update_schedule": WINDOW}},
        "components": {"a": {"update_command": "true", "frequency": "daily"}},
        "execution": {
            "nodes": [
                {
                    "name": "zone-a",
                    "url": "ssh://runner@10.0.0.5:2222",
                    "key": "keys/node",
                    "ansible_runner": "/opt/runner/bin/ansible-runner",
                    "ssh_options": {"StrictHostKeyChecking": "yes", "ConnectTimeout": 3},
                    "work_dir": "/var/tmp",
                }
            ]
        },
    }
    node = parse_schedule(document, base_dir=tmp_path).execution.nodes[0]
    assert (node.name, node.user, node.host, node.port) == ("zone-a", "runner", "10.0.0.5", 2222)
    assert node.key == tmp_path / "keys" / "node"
    assert node.url == "ssh://runner@10.0.0.5:2222"
    assert dict(node.ssh_options) == {"StrictHostKeyChecking": "yes", "ConnectTimeout": "3"}
    assert (node.ansible_runner, node.work_dir) == ("/opt/runner/bin/ansible-runner", "/var/tmp")


AUTO = {"local_slices": "auto"}


@pytest.mark.parametrize(
    ("hosts", "cpus", "execution", "rollout", "expected"),
    [
        (25, 2, {}, {}, [25]),  # the default: one
        (25, 2, AUTO, {}, [13, 12]),  # auto: one per core, at most one per 10 hosts
        (15, 2, AUTO, {}, [15]),
        (95, 4, AUTO, {}, [24, 24, 24, 23]),
        (95, 1, AUTO, {}, [95]),
        (4, 1, {"local_slices": 3}, {}, [2, 1, 1]),  # set: used as given
        (40, 2, AUTO, {"max_fail_percentage": 10}, [40]),  # auto keeps a stoppable rollout whole
        (40, 2, {"local_slices": 2}, {"max_fail_percentage": 10}, [20, 20]),
    ],
)
def test_local_slices(
    hosts: int, cpus: int, execution: dict[str, Any], rollout: dict[str, Any], expected: list[int]
) -> None:
    env: dict[str, Any] = {"hosts": hosts}
    if rollout:
        env["rollout"] = rollout
    sched = schedule({"p": env}, [], **execution)
    slices = slice_targets(sched, everything(sched), cpus=cpus)
    assert [len(s.hosts) for s in slices] == expected
    assert all(s.node is None and s.name == "local" for s in slices)
    assert [s.directory for s in slices] == [f"{i}-local" for i in range(1, len(expected) + 1)]
    dealt = [h for s in slices for h in s.hosts]
    assert sorted(dealt) == sorted(sched.environments["p"].host_names)  # each host once
