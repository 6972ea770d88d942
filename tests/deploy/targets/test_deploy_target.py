"""Where a step runs: the region, the S3 layout, and the --local switch that points everything at the offline
stand-ins and undoes itself."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest
import yaml

from lightsage_deploy.targets import target as settings


@pytest.mark.parametrize(
    ("explicit", "environ", "expected"),
    [
        ("eu-west-1", {"AWS_REGION": "us-west-2", "AWS_DEFAULT_REGION": "ap-south-1"}, "eu-west-1"),
        (None, {"AWS_REGION": "us-west-2", "AWS_DEFAULT_REGION": "ap-south-1"}, "us-west-2"),
        (None, {"AWS_DEFAULT_REGION": "ap-south-1"}, "ap-south-1"),
        (None, {}, "us-east-1"),
    ],
)
def test_region_comes_from_the_flag_then_the_environment_then_us_east_1(
    explicit: str | None, environ: dict[str, str], expected: str
) -> None:
    assert settings.resolve_region(explicit, environ) == expected


def test_the_layout_names_every_prefix_under_the_project_prefix() -> None:
    layout = settings.S3Layout("my-bucket", "proj")
    assert layout.train == "s3://my-bucket/proj/train/"
    assert layout.validation == "s3://my-bucket/proj/validation/"
    assert layout.output == "s3://my-bucket/proj/output/"
    assert layout.checkpoints("proj-2026-01-01") == "s3://my-bucket/proj/checkpoints/proj-2026-01-01/"
    assert layout.batch_input == "s3://my-bucket/proj/batch-input/"
    assert layout.batch_output == "s3://my-bucket/proj/batch-output/"
    assert layout.data_capture == "s3://my-bucket/proj/data-capture/"
    assert (layout.async_input, layout.async_output) == (
        "s3://my-bucket/proj/async-input/",
        "s3://my-bucket/proj/async-output/",
    )
    assert layout.key("train", "train.csv") == "proj/train/train.csv"
    assert settings.S3Layout("b", "nested/prefix").uri("output", "job") == "s3://b/nested/prefix/output/job/"


def test_local_target_sets_offline_environment_and_restores_it(offline_aws: None, monkeypatch) -> None:
    monkeypatch.setenv("AWS_PROFILE", "someone-real")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIA-REAL")
    with settings.open_target(local=True, s3_endpoint="http://127.0.0.1:9123", serving_port=18080) as target:
        assert target.local is not None
        assert os.environ["AWS_ENDPOINT_URL"] == "http://127.0.0.1:9123"
        assert os.environ["AWS_ACCESS_KEY_ID"] == settings.DUMMY_ACCESS_KEY
        assert os.environ["AWS_EC2_METADATA_DISABLED"] == "true"
        assert "AWS_PROFILE" not in os.environ
        defaults = Path(os.environ["SAGEMAKER_USER_CONFIG_OVERRIDE"]).read_text()
        assert "TelemetryOptOut: true" in defaults
        credentials = target.boto_session.get_credentials()
        assert (credentials.access_key, credentials.secret_key) == ("testing", "testing")
        assert target.default_instance_type == "local"
        work_dir = target.local.work_dir
        assert target.local.container_root.is_dir()
    assert os.environ["AWS_PROFILE"] == "someone-real"
    assert os.environ["AWS_ACCESS_KEY_ID"] == "AKIA-REAL"
    assert "AWS_ENDPOINT_URL" not in os.environ
    assert not work_dir.exists()


def test_local_session_runs_on_the_stand_ins(offline_aws: None) -> None:
    with settings.open_target(local=True, s3_endpoint="http://127.0.0.1:9123", serving_port=18080) as target:
        from sagemaker.local import LocalSession

        session = target.sagemaker_session
        assert isinstance(session, LocalSession)
        assert session.config["local"]["local_code"] is True
        assert session.config["local"]["container_root"] == str(target.local.container_root)
        assert session.s3_client.meta.endpoint_url == "http://127.0.0.1:9123"
        assert session.boto_region_name == "us-east-1"


def test_the_serving_port_publishes_on_loopback_only() -> None:
    port = settings.LoopbackPort(18080)
    assert "%s:8080" % port == "127.0.0.1:18080:8080"  # noqa: UP031 (how the SDK writes the compose file)
    assert "http://localhost:%d/ping" % port == "http://localhost:18080/ping"  # noqa: UP031 (its URLs)


def test_real_target_keeps_telemetry_unless_asked(offline_aws: None) -> None:
    with settings.open_target(local=False) as target:
        assert target.local is None
        assert target.default_instance_type == "ml.m5.large"
        assert "SAGEMAKER_USER_CONFIG_OVERRIDE" not in os.environ
    with settings.open_target(local=False, sdk_telemetry=False):
        assert "TelemetryOptOut: true" in Path(os.environ["SAGEMAKER_USER_CONFIG_OVERRIDE"]).read_text()


def test_local_mode_labels_its_containers_and_leaves_the_compose_file_out_of_the_log(
    offline_aws: None, caplog: pytest.LogCaptureFixture
) -> None:
    """The SDK's own compose-file writer, as a local job calls it: the labels reach every service, and the
    compose file (tens of lines per job) stays out of the log while the compose command stays in."""
    from sagemaker.local.image import _SageMakerContainer

    with settings.open_target(local=True, project="houses") as target, caplog.at_level(logging.INFO):
        assert target.local is not None
        container = _SageMakerContainer("local", 2, "houses:dev", sagemaker_session=target.sagemaker_session)
        container.container_root = str(target.local.container_root)
        container._generate_compose_file("train")
        container._compose()
        written = yaml.safe_load((target.local.container_root / "docker-compose.yaml").read_text())
        labels = {
            settings.PROJECT_LABEL: "houses",
            settings.OWNER_LABEL: settings.owner(),
            settings.RUN_LABEL: str(target.local.work_dir),
        }
    assert [service["labels"] for service in written["services"].values()] == [labels, labels]
    logged = [record.getMessage() for record in caplog.records if record.name == "sagemaker.local.image"]
    assert not any("docker compose file" in message for message in logged)
    assert any(message.startswith("docker command: ") for message in logged)
    caplog.clear()
    with caplog.at_level(logging.INFO):
        logging.getLogger("sagemaker.local.image").info("docker compose file: \n%s", "after the run")
    assert [record.getMessage() for record in caplog.records] == ["docker compose file: \nafter the run"]
