"""The docker role against a real Docker Engine, through real agentmaint runs.

A private dockerd and registry (`tests.docker_engine`), images imported from a busybox
root and pushed to the registry, a compose project run by Debian's ``docker-compose``
(v1, 1.29): the path of the role that runs here for real. The compose v2 plugin is not
available on these machines; its command lines are checked against the fake ``docker``
of the role's molecule scenario.

Each test publishes its own repository: ``v0`` and ``v1`` are pulled before the run (so
``v0`` is left dangling, for the prune), the project runs ``v1``, and ``v2`` is what the
registry's ``stable`` tag points to when the run starts. ``v2``'s health file says
``pass`` or ``fail``: the component's health check reads it in the running container.
"""

from __future__ import annotations

import os
import subprocess
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from agentmaint.history.store import HistoryStore
from agentmaint.maintenance import run_maintenance
from agentmaint.records import Outcome, RunStatus
from tests.docker_engine import COMPOSE, DOCKER, DockerEngine
from tests.schedules import MakeSchedule, always_open, local_hosts

pytestmark = pytest.mark.integration
COMPONENT = "stack"
#: What docker 20.10 pushes: image manifest, schema 2.
MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"


@dataclass(frozen=True)
class Project:
    """A compose project on the test's daemon and the IDs of its image's versions."""

    directory: Path
    name: str
    image: str  # the reference the compose file names: <registry>/<repository>:stable
    ids: dict[str, str]  # version -> image ID

    def compose(self, engine: DockerEngine, *args: str) -> str:
        """Run docker-compose (v1) on the project; its output."""
        done = subprocess.run(
            [
                str(COMPOSE),
                "--project-directory",
                str(self.directory),
                "--project-name",
                self.name,
                *args,
            ],
            cwd=self.directory,
            capture_output=True,
            text=True,
            env={**os.environ, **engine.environment},
            check=False,
            timeout=300,
        )
        assert done.returncode == 0, f"docker-compose {' '.join(args)}: {done.stderr}"
        return done.stdout

    def running_image(self, engine: DockerEngine) -> str:
        """The image ID the web container runs (there is exactly one)."""
        (container,) = self.compose(engine, "ps", "--quiet", "web").split()
        state = engine.docker(
            "container", "inspect", "--format", "{{.Image}} {{.State.Status}}", container
        ).stdout.split()
        assert state[1] == "running", state
        return state[0]

    def tags(self, engine: DockerEngine, version: str) -> list[str] | None:
        """The tags of a version's image, None when it is no longer on the daemon."""
        done = engine.docker(
            "image", "inspect", "--format", '{{join .RepoTags " "}}', self.ids[version], check=False
        )
        if done.returncode != 0:
            assert "No such image" in done.stderr, done.stderr
            return None
        return sorted(done.stdout.split())


def publish(engine: DockerEngine, project: Project, version: str) -> None:
    """Point the registry's ``stable`` tag at a version: its manifest, put under ``stable``."""
    repository = project.image.split("/", 1)[1].removesuffix(":stable")
    base = f"http://{engine.registry}/v2/{repository}/manifests"
    fetch = urllib.request.Request(f"{base}/{version}", headers={"Accept": MANIFEST})
    with urllib.request.urlopen(fetch, timeout=30) as response:
        manifest = response.read()
        assert response.headers["Content-Type"] == MANIFEST
    put = urllib.request.Request(
        f"{base}/stable", data=manifest, method="PUT", headers={"Content-Type": MANIFEST}
    )
    with urllib.request.urlopen(put, timeout=30) as response:
        assert response.status == 201


def make_project(engine: DockerEngine, tmp_path: Path, *, v2_health: str) -> Project:
    """Push v0, v1, v2; pull v0 then v1 and bring the project up on v1; publish v2.

    The daemon has only what the pulls left: v1 under ``stable``, v0 dangling.
    """
    name = f"am{uuid.uuid4().hex[:10]}"
    repository = f"{engine.registry}/agentmaint-test/{name}"
    health = {"v0": "pass", "v1": "pass", "v2": v2_health}
    ids = {}
    for version in ("v0", "v1", "v2"):
        reference = f"{repository}:{version}"
        ids[version] = engine.make_image(
            reference, {"VERSION": f"{version}\n", "health": f"{health[version]}\n"}
        )
        engine.docker("push", reference)
        engine.docker("rmi", reference)
    assert len(set(ids.values())) == 3
    directory = tmp_path / "project"
    directory.mkdir()
    # SIGKILL: busybox sleep as PID 1 ignores SIGTERM, so a recreate would wait 10 s.
    (directory / "docker-compose.yml").write_text(
        "version: '3.7'\n"
        "services:\n"
        "  web:\n"
        f"    image: {repository}:stable\n"
        "    network_mode: none\n"
        "    stop_signal: SIGKILL\n"
    )
    project = Project(directory=directory, name=name, image=f"{repository}:stable", ids=ids)
    for version in ("v0", "v1"):
        publish(engine, project, version)
        project.compose(engine, "pull", "--quiet")
    project.compose(engine, "up", "--detach")
    publish(engine, project, "v2")
    assert project.running_image(engine) == ids["v1"]
    assert project.tags(engine, "v1") == [project.image]
    assert project.tags(engine, "v0") == []  # dangling: the prune's to remove
    assert project.tags(engine, "v2") is None  # only in the registry
    return project


def docker_component(engine: DockerEngine, project: Project, state: Path) -> dict[str, object]:
    """The schedule's docker component: the role run through docker-compose v1."""
    return {
        "role": "docker",
        "frequency": "daily",
        "vars": {
            "project_directory": str(project.directory),
            "project_name": project.name,
            "binary": str(DOCKER),
            "compose_command": [str(COMPOSE)],
            "environment": engine.environment,
            "state_dir": str(state),
        },
        "healthcheck": {
            # The health file of the image the web container runs.
            "command": (
                f"DOCKER_HOST={engine.environment['DOCKER_HOST']} "
                f"DOCKER_CONFIG={engine.environment['DOCKER_CONFIG']} {COMPOSE} "
                f"--project-directory {project.directory} --project-name {project.name} "
                "exec -T web cat /health"
            ),
            "contains": "pass",
            "retries": 1,
            "delay": "0s",
        },
    }


def records_of(schedule_dir: Path, run_id: str) -> dict[str, tuple[str, str | None]]:
    with HistoryStore.open(schedule_dir) as store:
        return {r.action.value: (r.status.value, r.error) for r in store.records(run_id=run_id)}


def test_update_pulls_recreates_and_prunes(
    docker_engine: DockerEngine, make_schedule: MakeSchedule, tmp_path: Path
) -> None:
    project = make_project(docker_engine, tmp_path, v2_health="pass")
    state = tmp_path / "role-state"
    schedule = make_schedule(
        always_open(local_hosts("h1"), {COMPONENT: docker_component(docker_engine, project, state)})
    )
    result = run_maintenance(schedule)
    assert result.run is not None
    assert result.run.status is RunStatus.SUCCESSFUL, result
    assert records_of(schedule.state_dir, result.run.id) == {
        "update": ("success", None),
        "healthcheck": ("success", None),
    }
    # Pulled and recreated: web runs v2 from the stable tag.
    assert project.running_image(docker_engine) == project.ids["v2"]
    assert project.tags(docker_engine, "v2") == [project.image]
    # v1 kept under the previous-image tag (the prune leaves it), v0 pruned.
    previous = project.image.replace(":stable", f":agentmaint-previous-{COMPONENT}-web")
    assert project.tags(docker_engine, "v1") == [previous]
    assert project.tags(docker_engine, "v0") is None
    record = (state / f"{COMPONENT}.json").read_text()
    assert project.ids["v1"] in record and project.ids["v2"] in record

    # Nothing new in the registry: a second run pulls the same image and changes nothing.
    container = project.compose(docker_engine, "ps", "-q", "web")
    again = run_maintenance(schedule, force=True)
    assert again.run is not None and again.run.status is RunStatus.SUCCESSFUL
    with HistoryStore.open(schedule.state_dir) as store:
        assert store.host_counts(again.run.id)["h1"].changed == 0
    assert project.compose(docker_engine, "ps", "-q", "web") == (container)


def test_failed_healthcheck_rolls_back_to_previous_image(
    docker_engine: DockerEngine, make_schedule: MakeSchedule, tmp_path: Path
) -> None:
    project = make_project(docker_engine, tmp_path, v2_health="fail")
    state = tmp_path / "role-state"
    schedule = make_schedule(
        always_open(local_hosts("h1"), {COMPONENT: docker_component(docker_engine, project, state)})
    )
    result = run_maintenance(schedule)
    assert result.run is not None and result.run.status is RunStatus.FAILED
    records = records_of(schedule.state_dir, result.run.id)
    assert records["update"] == ("success", None)
    assert records["healthcheck"][0] == "failed"
    assert records["rollback"] == ("success", None)
    (outcome,) = result.outcomes
    assert outcome.status is Outcome.FAILED and outcome.rolled_back
    # Back on v1, under the stable tag again; v2 pulled but no longer tagged.
    assert project.running_image(docker_engine) == project.ids["v1"]
    previous = project.image.replace(":stable", f":agentmaint-previous-{COMPONENT}-web")
    assert project.tags(docker_engine, "v1") == sorted([project.image, previous])
    assert project.tags(docker_engine, "v2") == []
    # The update's prune ran before the health check: v0 is gone, v1 stayed for the rollback.
    assert project.tags(docker_engine, "v0") is None
    health = project.compose(docker_engine, "exec", "-T", "web", "cat", "/VERSION")
    assert health.strip() == "v1"
