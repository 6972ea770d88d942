"""The production lifecycle offline, through the `byoc` command itself, as a user runs it in a fresh clone:

offline up -> upload --local -> push --local -> pipeline --local (trains, evaluates, passes the gate,
registers on moto) -> models --local (PendingManualApproval with the metric) -> models approve latest --local
-> deploy --local --approved (deploys, answers, deletes) -> drift --local --data SAME.csv (0 violations) and
SHIFTED.csv (names the shifted columns) -> deploy --update NAME --approved --canary 10 --dry-run
(BlueGreenUpdatePolicy with AutoRollbackConfiguration); a pipeline whose gate fails stops at the FailStep and
registers nothing; and the bad inputs of the issue, each a clear error that leaves nothing half done.

The project is the worked example (byoc.toml) under a name of its own (BYOC_PROJECT_NAME), so that its
containers, registry repository and model package group are this run's alone. The image is BYOC_IMAGE.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from lightsage_deploy.targets.docker import image_references, labelled_containers, remove_containers

from testsupport import REPOSITORY_ROOT, TITANIC_CSV, free_port

pytestmark = pytest.mark.e2e

BYOC = Path(sys.executable).parent / "byoc"
COMMAND_TIMEOUT_SECONDS = 900
SHIFTED_COLUMNS = ("Age", "Fare")


class Byoc:
    """Runs `byoc` in a subprocess with this run's project name, scratch HOME and stand-in addresses."""

    def __init__(self, environment: dict[str, str], local_flags: list[str]) -> None:
        self.environment = environment
        self.local_flags = local_flags

    def __call__(
        self, *arguments: str, local: bool = True, status: int = 0
    ) -> subprocess.CompletedProcess[str]:
        command = [str(BYOC), *arguments, *(self.local_flags if local else [])]
        result = subprocess.run(
            command,
            env=self.environment,
            cwd=REPOSITORY_ROOT,
            capture_output=True,
            text=True,
            timeout=COMMAND_TIMEOUT_SECONDS,
            check=False,
        )
        assert result.returncode == status, (
            f"{' '.join(arguments)} exited {result.returncode}, not {status}\n"
            f"stdout:\n{result.stdout[-4000:]}\nstderr:\n{result.stderr[-4000:]}"
        )
        return result


@pytest.fixture(scope="module")
def project_name() -> str:
    return f"lifecycle-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def byoc(tmp_path_factory: pytest.TempPathFactory, project_name: str, image: str) -> Iterator[Byoc]:
    """`byoc offline up` on free ports for the module, `byoc cleanup --local` and `offline down` after it."""
    home = tmp_path_factory.mktemp("home")
    state = tmp_path_factory.mktemp("offline")
    registry_port, s3_port = free_port(), free_port()
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("AWS_")
        and key not in ("BYOC_PROJECT_FILE", "BYOC_BUCKET", "SAGEMAKER_ROLE_ARN")
    }
    environment.update(HOME=str(home), BYOC_PROJECT_NAME=project_name)
    local = [
        "--local",
        "--registry",
        f"localhost:{registry_port}",
        "--s3-endpoint",
        f"http://127.0.0.1:{s3_port}",
    ]
    run = Byoc(environment, local)
    up = run(
        "offline", "up", "--state-dir", str(state),
        "--registry-port", str(registry_port), "--s3-port", str(s3_port),
        local=False,
    )  # fmt: skip
    assert f"http://127.0.0.1:{s3_port}/" in up.stdout
    try:
        yield run
    finally:
        try:
            run("cleanup", "--stop-running", status=0)
        finally:
            run("offline", "down", "--state-dir", str(state), local=False)
            remove_containers(
                [container.id for container in labelled_containers({"byoc.project": project_name})]
            )
    assert image_references(f"localhost:{registry_port}/{project_name}") == []


@pytest.fixture(scope="module")
def traffic(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """SAME.csv: rows of the worked example's table; SHIFTED.csv: the same rows, Age and Fare shifted;
    UNKNOWN.csv: the same rows with a column the model never saw; a capture file of an unknown encoding."""
    folder = tmp_path_factory.mktemp("traffic")
    rows = pd.read_csv(TITANIC_CSV, dtype=str, keep_default_na=False).sample(300, random_state=21)
    same = folder / "SAME.csv"
    rows.to_csv(same, index=False)
    shifted_rows = rows.copy()
    shifted_rows["Age"] = (
        pd.to_numeric(shifted_rows["Age"], errors="coerce").add(40).round(1).astype("string")
    )
    shifted_rows["Fare"] = (
        pd.to_numeric(shifted_rows["Fare"], errors="coerce").mul(20).round(2).astype("string")
    )
    shifted = folder / "SHIFTED.csv"
    shifted_rows.fillna("").to_csv(shifted, index=False)
    unknown = folder / "UNKNOWN.csv"
    rows.assign(Mystery="1").to_csv(unknown, index=False)
    capture = folder / "capture"
    capture.mkdir()
    line = {
        "captureData": {
            "endpointInput": {
                "observedContentType": "text/csv",
                "mode": "INPUT",
                "data": "3,male",
                "encoding": "XML",
            }
        },
        "eventMetadata": {"eventId": "e2e", "inferenceTime": "2024-05-01T10:00:00Z"},
        "eventVersion": "0",
    }
    (capture / "requests.jsonl").write_text(json.dumps(line) + "\n", encoding="utf-8")
    return {"same": same, "shifted": shifted, "unknown": unknown, "capture": capture}


def error_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert lines, f"no error line in:\n{result.stderr[-3000:]}"
    return lines[-1]


def test_the_lifecycle_offline_end_to_end(
    byoc: Byoc, project_name: str, image: str, traffic: dict[str, Path]
) -> None:
    # Before any pipeline: no group to list, approve or deploy from.
    missing = error_line(byoc("models", "approve", "latest", status=1))
    assert f"there is no model package group {project_name}" in missing

    uploaded = byoc("upload", "--create-bucket")
    assert "train:" in uploaded.stdout and "validation:" in uploaded.stdout
    pushed = byoc("push", "--no-build", "--source-image", image)
    assert re.search(r"^pinned: localhost:\d+/" + project_name + "@sha256:", pushed.stdout, re.MULTILINE)

    # 4. trains, evaluates, passes the gate, registers (on moto, outside the local pipeline).
    passed = byoc("pipeline").stdout
    for step in ("Train", "Evaluate", "ObjectiveGate"):
        assert re.search(rf"^  {step} +Succeeded +local mode", passed, re.MULTILINE), passed
    assert re.search(r"^  ObjectiveGate .*passed \(auc >= 0\.8\)", passed, re.MULTILINE)
    assert re.search(
        r"^  Register +Succeeded +outside the pipeline: moto's model registry", passed, re.MULTILINE
    )
    registered = rf"^registered: version 1 of model package group {project_name} as PendingManualApproval"
    assert re.search(registered, passed, re.MULTILINE), passed
    auc = float(re.search(r"Evaluate .*; auc ([0-9.]+)$", passed, re.MULTILINE).group(1))  # type: ignore[union-attr]
    assert 0.8 <= auc <= 1.0

    # Nothing approved yet: --approved refuses, naming what there is.
    unapproved = error_line(byoc("deploy", "--approved", status=1))
    assert f"no version of model package group {project_name} is Approved" in unapproved
    assert "1 PendingManualApproval" in unapproved
    no_such = error_line(byoc("models", "approve", "7", status=1))
    assert f"version 7 does not exist in model package group {project_name}" in no_such

    # 5. the version, its status and its metric.
    listed = byoc("models").stdout
    assert re.search(r"^version +status +created \(UTC\) +auc$", listed, re.MULTILINE), listed
    assert re.search(rf"^ +1 +PendingManualApproval +\S+ \S+ +{auc:.4f}$", listed, re.MULTILINE), listed

    # A failing gate stops at the FailStep and registers nothing.
    failed = byoc("pipeline", "--threshold", "0.999", status=1)
    assert re.search(r"^  GateFailed +Failed +local mode", failed.stdout, re.MULTILINE), failed.stdout
    assert "registered: nothing (the quality gate failed)" in failed.stdout
    assert re.search(r"quality gate failed: auc 0\.\d+ .*auc >= 0\.999", error_line(failed))
    assert len(re.findall(r"^ +\d+ +\w+ ", byoc("models").stdout, re.MULTILINE)) == 1

    # 6. approve; 7. deploy the newest Approved version: it answers, and is deleted.
    approved = byoc("models", "approve", "latest").stdout
    assert "version 1 of " + project_name + ": PendingManualApproval -> Approved" in approved
    assert re.search(r"^ +1 +Approved ", byoc("models").stdout, re.MULTILINE)
    deployed = byoc("deploy", "--approved")
    answers = re.findall(r"^label ([01]) +probability ([0-9.]+) +<- ", deployed.stdout, re.MULTILINE)
    assert len(answers) == 5 and all(0.0 <= float(probability) <= 1.0 for _, probability in answers)
    assert "newest Approved version: 1 of " + project_name in deployed.stderr
    assert re.search(r"^deleted model, endpoint and endpoint config ", deployed.stdout, re.MULTILINE)

    # 8. drift against the model's baseline: held-out rows pass, shifted ones are named.
    same = byoc("drift", "--data", str(traffic["same"])).stdout.strip().splitlines()
    assert same[-1] == "drift: 0 violation(s) in 0 feature(s)", same[-5:]
    shifted = byoc("drift", "--data", str(traffic["shifted"])).stdout.strip().splitlines()
    summary = re.fullmatch(r"drift: (\d+) violation\(s\) in (\d+) feature\(s\): (.*)", shifted[-1])
    assert summary, shifted[-5:]
    assert set(SHIFTED_COLUMNS) <= set(summary.group(3).split(", "))

    # The drift job's bad inputs: each names the problem.
    unknown = error_line(byoc("drift", "--data", str(traffic["unknown"]), status=1))
    assert "Mystery" in unknown
    encoding = error_line(byoc("drift", "--capture", str(traffic["capture"]), status=1))
    assert "XML" in encoding

    # 9. the guarded rollout's requests, checked and printed; nothing is sent (no AWS, nothing listens).
    offline = {"AWS_ENDPOINT_URL": "http://127.0.0.1:9"}
    update = Byoc({**byoc.environment, **offline}, [])
    planned = update(
        "deploy", "--update", f"{project_name}-prod", "--approved", "--canary", "10", "--dry-run", local=False
    )
    requests = re.findall(
        r"^aws (\S+) (\S+) --cli-input-json '(.*?)^\}'$", planned.stdout, re.MULTILINE | re.DOTALL
    )
    operations = [operation for _, operation, _ in requests]
    assert operations == [
        "create-model",
        "create-endpoint-config",
        "put-metric-alarm",
        "put-metric-alarm",
        "update-endpoint",
    ]
    config = json.loads(requests[-1][2] + "}")["DeploymentConfig"]
    routing = config["BlueGreenUpdatePolicy"]["TrafficRoutingConfiguration"]
    assert routing["Type"] == "CANARY" and routing["CanarySize"] == {"Type": "CAPACITY_PERCENT", "Value": 10}
    assert len(config["AutoRollbackConfiguration"]["Alarms"]) == 2
    assert "--sort-order Descending" in planned.stdout
    # ... and its limits: a canary of 80 %, 11 alarms, local mode.
    assert "a canary (--canary 80) is at most 50 %" in error_line(
        update("deploy", "--update", "x", "--approved", "--canary", "80", "--dry-run", local=False, status=1)
    )
    eleven = [argument for index in range(9) for argument in ("--alarm", f"extra-{index}")]
    too_many = update(
        "deploy", "--update", "x", "--approved", "--canary", "10", *eleven, "--dry-run", local=False, status=1
    )
    # Both checks name it: the service model's maximum, and the documented limit of automatic rollback.
    assert "AutoRollbackConfiguration.Alarms has 11 entries; at most 10" in error_line(too_many)
    assert "takes 1 to 10 CloudWatch alarms, not 11" in too_many.stderr
    assert "SageMaker local mode cannot update endpoints" in error_line(
        byoc("deploy", "--update", "x", "--approved", "--canary", "10", status=1)
    )

    # Cleanup says what moto cannot delete.
    cleaned = byoc("cleanup").stdout
    assert (
        f"left model package group {project_name} (1 version(s)) on the moto server: moto cannot delete"
        in cleaned
    )
