"""The bundled roles' filter plugins (roles/*/filter_plugins/), without running Ansible.

The plugin files are not importable as a package (Ansible loads them by path from the role's
directory), so these tests load them by path the same way.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

ROLES = Path(__file__).resolve().parents[2] / "roles"


def _plugin(role: str) -> ModuleType:
    path = ROLES / role / "filter_plugins" / f"{role}.py"
    spec = importlib.util.spec_from_file_location(f"_filter_{role}", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


docker = _plugin("agentmaint_docker")
model = _plugin("agentmaint_model")


@pytest.mark.parametrize(
    "role", ["agentmaint_docker", "agentmaint_model", "agentmaint_os_packages"]
)
def test_every_filter_a_task_uses_is_exported_under_the_role_prefix(role: str) -> None:
    exported = _plugin(role).FilterModule().filters()
    used = {
        name
        for tasks in (ROLES / role / "tasks").glob("*.yml")
        for name in re.findall(r"\|\s*(agentmaint_\w+)", tasks.read_text())
    }
    assert used, f"no task of {role} uses its filters"
    assert used <= set(exported)
    assert all(name.startswith(f"{role}_") for name in exported)
    assert all(callable(function) for function in exported.values())


# --- agentmaint_docker --------------------------------------------------------------------


def test_running_images_maps_each_service_to_its_container_image() -> None:
    lines = ["c1 web sha256:aaa running", "c2 worker sha256:bbb exited"]
    assert docker.running_images(lines) == {"web": "sha256:aaa", "worker": "sha256:bbb"}


def test_running_images_of_no_container_is_empty() -> None:
    assert docker.running_images([]) == {}
    assert docker.running_images([""]) == {}


def test_running_images_keeps_the_last_container_of_a_service() -> None:
    lines = ["c1 web sha256:old running", "c2 web sha256:new running"]
    assert docker.running_images(lines) == {"web": "sha256:new"}


def test_running_images_keeps_a_container_without_service_label() -> None:
    assert docker.running_images(["c1  sha256:aaa running"]) == {"": "sha256:aaa"}


def test_running_images_rejects_a_short_line() -> None:
    with pytest.raises(ValueError, match="c1 web"):
        docker.running_images(["c1 web"])


IMAGES = {"api": "registry:5000/api:2", "db": "postgres:16", "web": "nginx:1"}


@pytest.mark.parametrize(
    ("policy", "ids_before", "expected"),
    [
        ("always", {"registry:5000/api:2": "sha256:a"}, ["api", "db", "web"]),
        ("missing", {"registry:5000/api:2": "sha256:a", "postgres:16": ""}, ["db", "web"]),
        ("missing", {"registry:5000/api:2": "a", "postgres:16": "b", "nginx:1": "c"}, []),
        ("never", {}, []),
    ],
)
def test_services_to_pull_follow_the_policy(
    policy: str, ids_before: dict[str, str], expected: list[str]
) -> None:
    assert docker.services_to_pull(IMAGES, policy, ids_before) == expected


@pytest.mark.parametrize("policy", ["always", "missing", "never"])
def test_services_to_pull_of_no_image_is_empty(policy: str) -> None:
    assert docker.services_to_pull({}, policy, {}) == []


def test_services_to_pull_rejects_an_unknown_policy() -> None:
    with pytest.raises(ValueError, match="'sometimes'"):
        docker.services_to_pull(IMAGES, "sometimes", {})


def test_outdated_services_are_those_not_running_their_reference() -> None:
    ids_before = {"registry:5000/api:2": "sha256:a", "postgres:16": "sha256:b", "nginx:1": ""}
    running = {"api": "sha256:a", "db": "sha256:old"}
    # db runs another image; web has no container (and its image is not on the host).
    assert docker.outdated_services(IMAGES, running, ids_before) == ["db"]
    assert docker.outdated_services(IMAGES, {}, ids_before) == ["api", "db"]
    assert docker.outdated_services({}, running, ids_before) == []


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        ("nginx:1.27", "nginx:agentmaint-previous-shop-web"),
        ("nginx", "nginx:agentmaint-previous-shop-web"),
        ("registry:5000/team/app:v2", "registry:5000/team/app:agentmaint-previous-shop-web"),
        ("registry:5000/team/app", "registry:5000/team/app:agentmaint-previous-shop-web"),
        ("app:v2@sha256:" + "0" * 64, "app:agentmaint-previous-shop-web"),
    ],
)
def test_previous_tag_keeps_the_repository(image: str, expected: str) -> None:
    assert docker.previous_tag(image, "shop", "web") == expected


def test_previous_tag_is_a_valid_docker_tag() -> None:
    tag = docker.previous_tag("app:1", "shop", "web/" + "x" * 200).split(":", 1)[1]
    assert re.fullmatch(r"[A-Za-z0-9_.-]{1,128}", tag)
    assert tag.startswith("agentmaint-previous-shop-web-x")


def test_replaced_images_lists_only_services_whose_image_changed() -> None:
    images = {"api": "api:2", "db": "db:1", "web": "web:1", "new": "new:1"}
    replaced = docker.replaced_images(
        images,
        running_before={"api": "sha256:run-a", "web": "sha256:w"},
        # api's container ran another image than its reference pointed to: the running one
        # is what a rollback goes back to. db had no container: its reference's image.
        ids_before={"api:2": "sha256:ref-a", "db:1": "sha256:d", "web:1": "sha256:w", "new:1": ""},
        ids_after={"api:2": "sha256:a2", "db:1": "sha256:d2", "web:1": "sha256:w", "new:1": "n"},
        slug="shop",
        keep_previous=True,
    )
    assert replaced == [
        {
            "service": "api",
            "image": "api:2",
            "previous_id": "sha256:run-a",
            "updated_id": "sha256:a2",
            "previous_tag": "api:agentmaint-previous-shop-api",
        },
        {
            "service": "db",
            "image": "db:1",
            "previous_id": "sha256:d",
            "updated_id": "sha256:d2",
            "previous_tag": "db:agentmaint-previous-shop-db",
        },
    ]


def test_replaced_images_without_keep_previous_has_no_tag() -> None:
    (replaced,) = docker.replaced_images(
        {"api": "api:2"},
        running_before={},
        ids_before={"api:2": "sha256:a1"},
        ids_after={"api:2": "sha256:a2"},
        slug="shop",
        keep_previous=False,
    )
    assert replaced["previous_tag"] == ""


def test_replaced_images_needs_both_ids() -> None:
    kwargs: dict[str, Any] = {"running_before": {}, "slug": "s", "keep_previous": True}
    assert docker.replaced_images({}, ids_before={}, ids_after={}, **kwargs) == []
    # Pulled for the first time: nothing to go back to.
    assert (
        docker.replaced_images(
            {"a": "a:1"}, ids_before={"a:1": ""}, ids_after={"a:1": "x"}, **kwargs
        )
        == []
    )
    # The pull failed to produce an image: nothing replaced.
    assert (
        docker.replaced_images({"a": "a:1"}, ids_before={"a:1": "x"}, ids_after={}, **kwargs) == []
    )


def _inspected(service: str, image: str, previous_id: str, stdout: str | None) -> dict[str, Any]:
    result: dict[str, Any] = {
        "item": {"key": service, "value": {"image": image, "previous_id": previous_id}},
        "rc": 0 if stdout else 1,
    }
    if stdout is not None:
        result["stdout"] = stdout
    return result


def test_images_to_retag_are_those_not_pointing_to_the_previous_image() -> None:
    results = [
        _inspected("api", "api:2", "sha256:a1", "sha256:a2"),
        _inspected("db", "db:1", "sha256:d1", "sha256:d1"),
        _inspected("web", "web:1", "sha256:w1", ""),
        _inspected("gone", "gone:1", "sha256:g1", None),
    ]
    assert docker.images_to_retag(results) == [
        {"service": "api", "image": "api:2", "previous_id": "sha256:a1"},
        {"service": "web", "image": "web:1", "previous_id": "sha256:w1"},
        {"service": "gone", "image": "gone:1", "previous_id": "sha256:g1"},
    ]


def test_images_to_retag_of_no_record_is_empty() -> None:
    assert docker.images_to_retag([]) == []


# --- agentmaint_model ---------------------------------------------------------------------


def _found(**mtimes: float) -> list[dict[str, Any]]:
    """find's files for versions/<name> directories, in the order given."""
    return [
        {"path": f"/srv/models/llm/versions/{name}", "mtime": mtime}
        for name, mtime in mtimes.items()
    ]


def test_versions_to_prune_keeps_the_newest() -> None:
    found = _found(v1=100.0, v2=200.0, v3=300.0, v4=400.0)
    assert model.versions_to_prune(found, version="v4", keep=2, previous="") == ["v1", "v2"]
    assert model.versions_to_prune(found, version="v4", keep=4, previous="") == []
    assert model.versions_to_prune(found, version="v4", keep=10, previous="") == []


def test_versions_to_prune_counts_the_new_version_as_newest() -> None:
    # v1 was installed first and is switched back to now: it stays, v3 is the next newest.
    found = _found(v1=100.0, v2=200.0, v3=300.0)
    assert model.versions_to_prune(found, version="v1", keep=2, previous="v3") == ["v2"]
    assert model.versions_to_prune(found, version="v1", keep=1, previous="") == ["v2", "v3"]


def test_versions_to_prune_never_prunes_the_previous_version() -> None:
    found = _found(v1=100.0, v2=200.0, v3=300.0)
    assert model.versions_to_prune(found, version="v3", keep=1, previous="v1") == ["v2"]


def test_versions_to_prune_keeps_the_order_of_find() -> None:
    found = _found(v3=300.0, v1=100.0, v4=400.0, v2=200.0)
    assert model.versions_to_prune(found, version="v4", keep=1, previous="") == ["v3", "v1", "v2"]


def test_versions_to_prune_of_nothing_installed_is_empty() -> None:
    assert model.versions_to_prune([], version="v1", keep=3, previous="") == []
    # In check mode the new version is not installed yet: only what is there can go.
    assert model.versions_to_prune(_found(v0=1.0), version="v1", keep=1, previous="") == ["v0"]


def test_versions_to_prune_needs_a_keep_count_of_at_least_one() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        model.versions_to_prune(_found(v1=1.0), version="v1", keep=0, previous="")
