"""Filters of the agentmaint_docker role: which services to pull, re-create and roll back.

Role-local (Ansible loads ``filter_plugins/`` of a role it runs), so the filter names carry
the role's prefix: once loaded they are visible to the whole play. The functions take and
return plain data, so ``tests/unit/test_role_filters.py`` checks them without Ansible.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

# Docker allows these characters in a tag, and at most 128 of them.
_TAG_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")
_TAG_MAX = 128
_PULL_POLICIES = ("always", "missing", "never")


def running_images(lines: Iterable[str]) -> dict[str, str]:
    """Service -> ID of the image its container runs, from ``container inspect`` lines.

    Each line is ``<container ID> <service> <image ID> <status>`` (the role's
    ``__agentmaint_docker_container_format``). A service with several containers gets the
    image of the last of them. Blank lines are ignored; a line with fewer fields is an error,
    rather than a service silently treated as having no container.
    """
    running: dict[str, str] = {}
    for line in lines:
        if not line.strip():
            continue
        fields = line.split(" ")
        if len(fields) < 3:
            raise ValueError(f"not a '<container> <service> <image> <status>' line: {line!r}")
        running[fields[1]] = fields[2]
    return running


def services_to_pull(
    images: Mapping[str, str], policy: str, ids_before: Mapping[str, str]
) -> list[str]:
    """The services whose image the update pulls, in the order of ``images``.

    ``images`` maps service -> image reference; ``ids_before`` maps image reference -> local
    image ID, empty (or absent) when the image is not on the host. ``always`` pulls every
    service, ``missing`` those whose image is not on the host, ``never`` none.
    """
    if policy not in _PULL_POLICIES:
        raise ValueError(f"pull policy {policy!r} is not one of {', '.join(_PULL_POLICIES)}")
    if policy == "always":
        return list(images)
    if policy == "missing":
        return [service for service, image in images.items() if not ids_before.get(image)]
    return []


def outdated_services(
    images: Mapping[str, str], running: Mapping[str, str], ids_before: Mapping[str, str]
) -> list[str]:
    """The services that "up" would re-create even without a pull, in the order of ``images``.

    Those with no container, or whose container runs another image than the one their
    reference points to on the host.
    """
    return [
        service
        for service, image in images.items()
        if running.get(service, "") != ids_before.get(image, "")
    ]


def previous_tag(image: str, slug: str, service: str) -> str:
    """The tag that keeps a replaced image from pruning: ``<repository>:agentmaint-previous-...``.

    The repository is ``image`` without its digest and tag (a registry port stays);
    characters docker refuses in a tag become ``-`` and the tag is cut to docker's limit.
    """
    tag = _TAG_UNSAFE.sub("-", f"agentmaint-previous-{slug}-{service}")
    repository = re.sub(r":[^:/]*$", "", re.sub(r"@.*$", "", image))
    return f"{repository}:{tag[:_TAG_MAX]}"


def replaced_images(
    images: Mapping[str, str],
    *,
    running_before: Mapping[str, str],
    ids_before: Mapping[str, str],
    ids_after: Mapping[str, str],
    slug: str,
    keep_previous: bool,
) -> list[dict[str, str]]:
    """The services whose image the update replaces, with what the rollback needs.

    The arguments after ``images`` are keyword-only, named in the task that calls the filter.
    A service's previous image is the one its container ran, or, with no container, the one
    its reference pointed to before the pull. A service is listed only when both the previous
    and the updated image are known and differ. ``previous_tag`` is empty unless
    ``keep_previous``.
    """
    replaced: list[dict[str, str]] = []
    for service, image in images.items():
        previous = (
            running_before[service] if service in running_before else ids_before.get(image, "")
        )
        updated = ids_after.get(image, "")
        if previous and updated and previous != updated:
            replaced.append(
                {
                    "service": service,
                    "image": image,
                    "previous_id": previous,
                    "updated_id": updated,
                    "previous_tag": previous_tag(image, slug, service) if keep_previous else "",
                }
            )
    return replaced


def images_to_retag(results: Iterable[Mapping[str, Any]]) -> list[dict[str, str]]:
    """The recorded services whose image reference no longer points to the previous image.

    ``results`` are the loop results of ``image inspect`` over the rollback record's
    ``dict2items``: each has the current image ID in ``stdout`` and the record in
    ``item.key`` (service) and ``item.value`` (``image``, ``previous_id``).
    """
    retag: list[dict[str, str]] = []
    for result in results:
        service = result["item"]["key"]
        recorded = result["item"]["value"]
        if result.get("stdout", "") != recorded["previous_id"]:
            retag.append(
                {
                    "service": service,
                    "image": recorded["image"],
                    "previous_id": recorded["previous_id"],
                }
            )
    return retag


class FilterModule:
    """The role's filters, by the names the tasks use."""

    def filters(self) -> dict[str, Callable[..., Any]]:
        """Filter name -> function, as Ansible's filter plugin loader expects."""
        return {
            "agentmaint_docker_running_images": running_images,
            "agentmaint_docker_services_to_pull": services_to_pull,
            "agentmaint_docker_outdated_services": outdated_services,
            "agentmaint_docker_replaced_images": replaced_images,
            "agentmaint_docker_images_to_retag": images_to_retag,
        }
