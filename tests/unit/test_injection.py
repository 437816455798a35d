"""Injection through every string field of a schedule: it never becomes structure or a template.

For each payload and each string field that reaches the generated files, the rendered
inventory and playbook are loaded back with Ansible's own YAML loader and must equal,
value for value, the data agentmaint meant to write (so no payload added a key, an item
or a document), and every payload that could be a template is written ``!unsafe``.
Names (environments, components, hosts, variables) are validated instead: see
``tests/data/bad/``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from ansible.parsing.yaml.loader import AnsibleLoader

from agentmaint.ansible.naming import Target
from agentmaint.ansible.render import DEFAULT_BECOME, dump_yaml, inventory, playbook
from agentmaint.config.parse import parse_schedule
from agentmaint.errors import ScheduleError

PAYLOADS = [
    "{{ lookup('pipe', 'id') }}",
    "{{lookup('pipe','id')}}",
    "{% for x in range(3) %}{{ x }}{% endfor %}",
    "{# comment #}{{ 7*7 }}",
    "!!python/object/apply:os.system ['id']",
    "!unsafe x",
    "--- \n...\n--- !!python/object:os.system\n",
    "key: value\nother: [1, 2]",
    "- item\n- {{ evil }}",
    "&anchor *alias <<: {a: 1}",
    "line one\r\nline two\x85",
    "' \" ` $(id) ;|&",
    "true",
    "0o777",
    "null",
    "ünïcödé ✓ \t",
]

Document = dict[str, Any]


def _base() -> Document:
    return {
        "environments": {
            "prod": {
                "hosts": {"web1": {"ansible_connection": "local", "app_note": "plain"}},
                "update_schedule": {"day_of_week": "daily", "time": "00:00", "duration": "2h"},
            }
        },
        "components": {
            "app": {
                "update_command": "true",
                "rollback_command": "true",
                "frequency": "weekly",
                "description": "plain",
                "healthcheck": {"command": "true", "contains": "ok"},
            },
            "web": {
                "update_command": "true",
                "frequency": "weekly",
                "healthcheck": {"url": "http://localhost/health", "contains": "ok"},
            },
        },
        "backup": {
            "pre_update": True,
            "backup_command": "true",
            "paths": ["/etc/app"],
            "directory": "/var/backups/app",
            "restore_on_failure": True,
        },
    }


def _set(path: tuple[str | int, ...]) -> Callable[[Document, str], None]:
    def setter(document: Document, payload: str) -> None:
        node: Any = document
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = payload

    return setter


FIELDS: dict[str, Callable[[Document, str], None]] = {
    "update_command": _set(("components", "app", "update_command")),
    "rollback_command": _set(("components", "app", "rollback_command")),
    "healthcheck.command": _set(("components", "app", "healthcheck", "command")),
    "healthcheck.contains": _set(("components", "app", "healthcheck", "contains")),
    "healthcheck.url": lambda d, p: d["components"]["web"]["healthcheck"].update(
        url="http://localhost/" + p
    ),
    "host variable": _set(("environments", "prod", "hosts", "web1", "app_note")),
    "backup_command": _set(("backup", "backup_command")),
    "backup.paths": lambda d, p: d["backup"].update(paths=["/etc/app", "/srv/" + p]),
    "backup.directory": lambda d, p: d["backup"].update(directory="/var/" + p),
}


def _plain(value: Any) -> Any:
    """The data as agentmaint meant it: `Unsafe` strings as plain `str`."""
    if isinstance(value, str):
        return str(value)
    if isinstance(value, dict):
        return {_plain(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _render(document: Document) -> list[tuple[Any, str]]:
    schedule = parse_schedule(document, source="test", base_dir=Path("/nonexistent"))
    targets = (
        Target("prod", "app", ("web1",)),
        Target("prod", "web", ("web1",)),
    )
    generated = [inventory(schedule), playbook(schedule, targets, run_id="r1")]
    return [(data, dump_yaml(data)) for data in generated]


@pytest.mark.parametrize("field", sorted(FIELDS))
@pytest.mark.parametrize("payload", PAYLOADS)
def test_payload_stays_one_literal_string(field: str, payload: str) -> None:
    document = copy.deepcopy(_base())
    FIELDS[field](document, payload)
    try:
        rendered = _render(document)
    except ScheduleError as error:
        # Only paths and URLs may be refused (no newlines, no spaces in a URL), and by path.
        assert field in {"backup.paths", "backup.directory", "healthcheck.url"}, error
        assert all(str(p.path).startswith(("backup.", "components.web")) for p in error.problems)
        return
    found = False
    for data, text in rendered:
        assert list(yaml.load_all(text, Loader=AnsibleLoader)) == [_plain(data)]
        found |= any(payload in leaf for leaf in _leaves(_plain(data)))
        for node in _scalars(yaml.compose(text, Loader=AnsibleLoader)):
            if "{" in node.value and node.value not in OUR_TEMPLATES:
                assert node.tag == "!unsafe", node.value
    assert found, "the payload did not reach the generated files"


OUR_TEMPLATES = {"{{ inventory_hostname }}", DEFAULT_BECOME}


def _leaves(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [leaf for k, v in value.items() for leaf in (*_leaves(k), *_leaves(v))]
    if isinstance(value, list):
        return [leaf for item in value for leaf in _leaves(item)]
    return []


def _scalars(node: yaml.Node | None) -> list[yaml.ScalarNode]:
    if isinstance(node, yaml.ScalarNode):
        return [node]
    if isinstance(node, yaml.SequenceNode):
        return [s for item in node.value for s in _scalars(item)]
    if isinstance(node, yaml.MappingNode):
        return [s for k, v in node.value for s in (*_scalars(k), *_scalars(v))]
    return []


def test_generated_templates_are_only_our_own() -> None:
    """The only templates in generated files are agentmaint's, none from the schedule."""
    _, text = _render(_base())[1]
    templates = {line.strip() for line in text.splitlines() if "{{" in line}
    assert templates == {
        "AGENTMAINT_HOST: '{{ inventory_hostname }}'",
        f"become: '{DEFAULT_BECOME}'",
    }


@pytest.mark.parametrize("payload", ["5\n[evil]\nbecome = true", "x\r\ny"])
def test_ansible_cfg_values_cannot_add_lines(payload: str) -> None:
    document = _base()
    document["ansible_cfg"] = {"defaults": {"timeout": payload}}
    with pytest.raises(ScheduleError) as raised:
        parse_schedule(document, source="test", base_dir=Path("/nonexistent"))
    assert any(str(p.path) == "ansible_cfg.defaults.timeout" for p in raised.value.problems)
