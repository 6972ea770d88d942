"""The option groups' readers: the bucket and the prefix, and a training job's options that need no AWS."""

from __future__ import annotations

import argparse

import pytest

from lightsage_deploy.cli import arguments as cli
from lightsage_deploy.cli import train as train_command
from lightsage_deploy.errors import DeployError
from lightsage_deploy.project import project
from lightsage_deploy.targets import target as settings


def _parsed(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    cli.add_target_arguments(parser, serving=True)
    cli.add_layout_arguments(parser)
    return parser.parse_args(argv)


def test_real_mode_needs_a_bucket(monkeypatch: pytest.MonkeyPatch, example_project: project.Project) -> None:
    monkeypatch.delenv(settings.BUCKET_VARIABLE, raising=False)
    with pytest.raises(DeployError, match=f"pass --bucket or set {settings.BUCKET_VARIABLE}"):
        cli.layout_from(_parsed(), example_project)
    assert cli.optional_layout(_parsed(), example_project) is None
    monkeypatch.setenv(settings.BUCKET_VARIABLE, "from-env")
    assert cli.layout_from(_parsed(), example_project) == settings.S3Layout("from-env", "titanic-byoc")
    flags = _parsed("--bucket", "flag", "--prefix", "/p/")
    assert cli.layout_from(flags, example_project) == settings.S3Layout("flag", "p")


def test_local_mode_has_a_default_bucket(
    monkeypatch: pytest.MonkeyPatch, example_project: project.Project
) -> None:
    monkeypatch.delenv(settings.BUCKET_VARIABLE, raising=False)
    assert cli.layout_from(_parsed("--local"), example_project).bucket == "titanic-byoc-local"


def test_local_defaults_need_no_aws(offline_aws: None, example_project: project.Project) -> None:
    arguments = train_command.build_parser().parse_args(
        ["--local", "--registry", "localhost:5001", "--instance-count", "2"]
    )
    with settings.open_target(local=True, registry="localhost:5001") as target:
        options = cli.training_options_from(arguments, target, example_project)
    assert options.image_uri == "localhost:5001/titanic-byoc:latest"
    assert options.role == example_project.local_role_arn
    assert options.instance_type == "local"
    assert options.instance_count == 2
    assert options.layout == settings.S3Layout(example_project.local_bucket, "titanic-byoc")
    assert options.content_type == "text/csv"
