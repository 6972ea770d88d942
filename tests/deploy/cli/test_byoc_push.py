"""`byoc push`'s command line: the build options it turns into PushOptions, and the flags that go together."""

from __future__ import annotations

import pytest

from lightsage_deploy.cli import push as push_command
from lightsage_deploy.errors import DeployError
from lightsage_deploy.project import project


def test_build_options_from_the_command_line(example_project: project.Project) -> None:
    arguments = push_command.build_parser().parse_args(
        [
            "--local",
            "--build-arg",
            "BASE_IMAGE=byoc-base:bookworm",
            "--build-network",
            "host",
            "--docker-build-flag=--pull",
            "--immutable-tags",
        ]
    )
    options = push_command.options_from(arguments, example_project)
    assert (options.repository, options.tags) == (
        "titanic-byoc",
        ({"Key": "project", "Value": "titanic-byoc"},),
    )
    assert options.build_args == ("BASE_IMAGE=byoc-base:bookworm",)
    assert options.build_flags == ("--pull", "--network=host")
    assert options.platform == "linux/amd64"
    assert options.immutable_tags and options.source_image is None


@pytest.mark.parametrize("argv", [["--no-build"], ["--source-image", "titanic-byoc:dev"]])
def test_no_build_and_source_image_go_together(argv: list[str], example_project: project.Project) -> None:
    with pytest.raises(DeployError, match="go together"):
        push_command.options_from(push_command.build_parser().parse_args(argv), example_project)
