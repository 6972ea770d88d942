"""`byoc cleanup --local` on a shared Docker engine, with real containers: it removes the exited local-mode
containers of this project's runs by this user, names the running ones and stops them only when asked, and
never touches anybody else's, local-mode or not."""

from __future__ import annotations

import secrets
import string
import uuid
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest

from lightsage_deploy.cli import cleanup as cleanup_command
from lightsage_deploy.errors import DeployError
from lightsage_deploy.project import project
from lightsage_deploy.targets import target as settings
from lightsage_deploy.targets.docker import docker
from lightsage_deploy.targets.offline import OfflineServices

from testsupport import free_port


def sdk_style_name() -> str:
    """What the SDK names a local-mode container: <10 random chars>-algo-<n>-<5 random chars>."""
    alphabet = string.ascii_lowercase + string.digits
    prefix = "".join(secrets.choice(alphabet) for _ in range(10))
    return f"{prefix}-algo-1-{''.join(secrets.choice(alphabet) for _ in range(5))}"


def state(name: str) -> str | None:
    """The container's state, or None when it no longer exists."""
    inspected = docker("inspect", "--format", "{{.State.Status}}", name, check=False)
    return inspected.stdout.strip() if inspected.returncode == 0 else None


@pytest.fixture
def start_container(image: str) -> Iterator[Callable[..., str]]:
    """Starts an SDK-named container of the image (running `sleep`, or exited); removes them all after."""
    started: list[str] = []

    def start(labels: Mapping[str, str], *, running: bool) -> str:
        name = sdk_style_name()
        flags = [f"--label={key}={value}" for key, value in labels.items()]
        command = ["sleep", "600"] if running else ["true"]
        docker("run", "--detach", "--network", "none", "--name", name, *flags, image, *command)
        started.append(name)
        if not running:
            docker("wait", name)
        return name

    yield start
    docker("rm", "--force", *started, check=False)


@pytest.fixture
def offline_project(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, project_file: Callable[..., Path]
) -> Iterator[tuple[str, list[str]]]:
    """A project of its own (a unique name) on its own registry and S3 emulator: (name, --local flags)."""
    name = f"cleanup-{uuid.uuid4().hex[:10]}"
    (tmp_path / "table.csv").write_text("x,y\n1,0\n2,1\n", encoding="utf-8")
    monkeypatch.setenv(project.FILE_VARIABLE, str(project_file(name, "table.csv", "y")))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    services = OfflineServices(tmp_path / "offline", registry_port=free_port(), s3_port=free_port())
    with services:
        yield name, ["--local", "--registry", services.registry, "--s3-endpoint", services.s3_endpoint]


@pytest.mark.container
def test_only_this_projects_exited_containers_go_and_running_ones_stop_only_when_asked(
    start_container: Callable[..., str],
    offline_project: tuple[str, list[str]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    name, local_flags = offline_project
    ours = settings.project_labels(name)
    another_users_job = start_container({}, running=True)  # e.g. someone's own SageMaker local-mode job
    another_users_leftover = start_container({}, running=False)
    same_project_other_user = start_container({**ours, settings.OWNER_LABEL: "someone-else"}, running=False)
    other_project = start_container(settings.project_labels(f"{name}-other"), running=False)
    our_leftover = start_container(ours, running=False)
    our_running = start_container(ours, running=True)

    assert cleanup_command.main(local_flags) == 0

    printed = capsys.readouterr().out
    assert state(our_leftover) is None
    assert state(our_running) == "running"
    assert f"removed 1 exited local-mode container(s) of project {name}" in printed
    assert f"left 1 running container(s) of project {name}: {our_running} (" in printed
    assert "--stop-running" in printed
    untouched = (another_users_job, another_users_leftover, same_project_other_user, other_project)
    assert [state(container) for container in untouched] == ["running", "exited", "exited", "exited"]

    assert cleanup_command.main([*local_flags, "--stop-running"]) == 0

    printed = capsys.readouterr().out
    assert state(our_running) is None
    assert f"stopped and removed 1 running container(s): {our_running} (" in printed
    assert [state(container) for container in untouched] == ["running", "exited", "exited", "exited"]


def test_stop_running_goes_with_local(offline_aws: None, example_project: project.Project) -> None:
    with pytest.raises(DeployError, match=r"--stop-running .* goes with --local"):
        cleanup_command.main(["--stop-running"])
