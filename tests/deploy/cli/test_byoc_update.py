"""`byoc deploy --update ... --dry-run`: the rollout's requests as a shell script of AWS CLI commands that
sends exactly the checked requests, with what only AWS knows taken from the lookups; and the refusals."""

from __future__ import annotations

import json
import shlex
import subprocess
from pathlib import Path

import pytest

from lightsage_deploy.cli import deploy as deploy_command
from lightsage_deploy.errors import DeployError

# Stands in for the AWS CLI: prints each call's service, operation and --cli-input-json as one JSON line, and
# answers the lookups with a fixed value.
FAKE_AWS = """
aws() {
  case "$2" in
    list-model-packages) echo "arn:aws:sagemaker:us-east-1:123456789012:model-package/titanic-byoc/3"; return ;;
    describe-training-job) echo "s3://bucket/job/output/model.tar.gz"; return ;;
  esac
  python3 -c 'import json, sys; print(json.dumps({"call": sys.argv[1:3], "input": json.loads(sys.argv[4])}))' "$@"
}
"""  # noqa: E501


def dry_run(capsys: pytest.CaptureFixture[str], *arguments: str) -> str:
    assert deploy_command.main(["--update", "titanic-byoc-prod", *arguments, "--dry-run"]) == 0
    return capsys.readouterr().out


def run_as_shell(script: str, tmp_path: Path) -> list[dict]:
    path = tmp_path / "rollout.sh"
    path.write_text(FAKE_AWS + script, encoding="utf-8")
    result = subprocess.run(
        ["bash", "-eu", str(path)], capture_output=True, text=True, timeout=60, check=True
    )
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_the_dry_run_is_a_script_that_sends_the_newest_approved_version(
    nothing_listens: None, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    script = dry_run(capsys, "--approved", "--canary", "10")
    assert "--sort-order Descending" in script
    calls = run_as_shell(script, tmp_path)
    assert [call["call"] for call in calls] == [
        ["sagemaker", "create-model"],
        ["sagemaker", "create-endpoint-config"],
        ["cloudwatch", "put-metric-alarm"],
        ["cloudwatch", "put-metric-alarm"],
        ["sagemaker", "update-endpoint"],
    ]
    model, config, errors, latency, update = (call["input"] for call in calls)
    assert model["PrimaryContainer"] == {
        "ModelPackageName": "arn:aws:sagemaker:us-east-1:123456789012:model-package/titanic-byoc/3"
    }
    assert config["ProductionVariants"][0]["ModelName"] == model["ModelName"] == update["EndpointConfigName"]
    deployment = update["DeploymentConfig"]
    routing = deployment["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]
    assert routing == {
        "Type": "CANARY",
        "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 10},
        "WaitIntervalInSeconds": 600,
    }
    assert deployment["AutoRollbackConfiguration"]["Alarms"] == [
        {"AlarmName": errors["AlarmName"]},
        {"AlarmName": latency["AlarmName"]},
    ]


def test_a_training_jobs_model_is_looked_up_by_the_script(
    nothing_listens: None, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    calls = run_as_shell(
        dry_run(capsys, "--training-job", "job-1", "--linear", "20", "--bake", "300"), tmp_path
    )
    assert calls[0]["input"]["PrimaryContainer"]["ModelDataUrl"] == "s3://bucket/job/output/model.tar.gz"
    routing = calls[-1]["input"]["DeploymentConfig"]["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]
    assert routing["LinearStepSize"] == {"Type": "CAPACITY_PERCENT", "Value": 20}


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--approved", "--canary", "80"], "a canary (--canary 80) is at most 50 % of the fleet"),
        (["--approved", "--linear", "5"], "a linear step (--linear 5) is 10 to 50 %"),
        (
            [f"--alarm=mine-{index}" for index in range(9)] + ["--approved"],
            "takes 1 to 10 CloudWatch alarms, not 11",
        ),
        (["--approved", "--bake", "4000"], "WaitIntervalInSeconds is 4000; at most 3600"),
        (["--approved", "--local"], "SageMaker local mode cannot update endpoints"),
        (["--approved", "--keep"], "--update changes a live endpoint"),
        (
            ["--approved", "--image-uri", "x:1"],
            "--approved rolls out the image the version was registered with",
        ),
    ],
)
def test_refused_rollouts_say_why_and_print_nothing(
    nothing_listens: None, capsys: pytest.CaptureFixture[str], arguments: list[str], message: str
) -> None:
    with pytest.raises(DeployError) as raised:
        deploy_command.main(["--update", "titanic-byoc-prod", *arguments, "--dry-run"])
    assert message in str(raised.value)
    assert capsys.readouterr().out == ""


def test_shaping_a_rollout_without_update_is_refused(nothing_listens: None) -> None:
    with pytest.raises(DeployError, match="they go with --update ENDPOINT"):
        deploy_command.main(["--model-data", "s3://b/m.tar.gz", "--canary", "10", "--dry-run"])


def test_the_lookups_are_quoted_for_the_shell(
    nothing_listens: None, capsys: pytest.CaptureFixture[str]
) -> None:
    script = dry_run(capsys, "--approved")
    lookup = next(line for line in script.splitlines() if line.startswith("MODEL_PACKAGE_ARN="))
    inner = lookup.removeprefix("MODEL_PACKAGE_ARN=$(").removesuffix(")")
    assert shlex.split(inner)[:3] == ["aws", "sagemaker", "list-model-packages"]
