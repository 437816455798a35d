"""Generated YAML: schedule strings survive Ansible's own loader exactly, as strings."""

from __future__ import annotations

import pytest
import yaml
from ansible.parsing.yaml.loader import AnsibleLoader

from agentmaint.ansible.naming import classify, parse_play, parse_task, play_name, task_name
from agentmaint.ansible.render import Unsafe, dump_yaml
from agentmaint.records import Action

TRICKY = [
    "true",
    "no",
    "null",
    "~",
    "12",
    "0x1F",
    "1e3",
    ".inf",
    "2026-12-24",
    "13:30",
    "",
    "{{ lookup('pipe', 'id') }}",
    "{% for x in y %}{% endfor %}",
    "{# c #}",
    "!!python/object/apply:os.system ['id']",
    "--- \n...\n---",
    "a: b",
    "- x",
    "&a *a",
    "line1\nline2",
    "'quoted' \"double\"",
    "# not a comment",
    "ünïcödé ✓",
    "\t tab",
]


@pytest.mark.parametrize("text", TRICKY)
def test_unsafe_strings_round_trip_through_ansible_loader(text: str) -> None:
    document = dump_yaml({"cmd": Unsafe(text), "list": [Unsafe(text)]})
    loaded = yaml.load(document, Loader=AnsibleLoader)
    assert loaded == {"cmd": text, "list": [text]}
    assert isinstance(loaded["cmd"], str)


@pytest.mark.parametrize("text", [t for t in TRICKY if "{" in t])
def test_template_like_strings_are_tagged_unsafe(text: str) -> None:
    assert "!unsafe" in dump_yaml({"cmd": Unsafe(text)})


def test_no_anchors_or_aliases() -> None:
    shared = {"a": Unsafe("x")}
    assert "&" not in dump_yaml([shared, shared])


def test_naming_contract() -> None:
    assert play_name("production", "os") == "Maintain os | production"
    assert task_name("update", "os") == "Update | os"


def test_naming_contract_reads_back_what_it_writes() -> None:
    assert parse_play(play_name("production", "os")) == ("production", "os")
    assert parse_play("Gathering Facts") is None
    for action in Action:
        assert parse_task(task_name(action, "web")) is action
    # A bundled role's step names its component after the separator, like a generated task.
    assert classify(play_name("prod", "app"), "Update: refresh the apt cache | os") == (
        "prod",
        "os",
        Action.UPDATE,
    )
    assert classify(play_name("prod", "app"), "Failed | app") is None
