"""`evaluate` and `drift` as SageMaker Processing jobs in SDK local mode, on the offline stand-ins: the
image's processing programs read their inputs from S3 (moto) and their outputs are uploaded back, as on
AWS. The folders and names come from `lightsage.evaluation.contract`, which the host side uses too."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from monitorshapes import MODEL_QUALITY, VIOLATIONS, check
from sagemaker.processing import ProcessingInput, ProcessingOutput, Processor

from lightsage.evaluation import contract
from lightsage.tasks import Task
from lightsage_deploy.jobs import hyperparameters
from lightsage_deploy.project import project as project_settings
from lightsage_deploy.steps import cleanup
from lightsage_deploy.steps import train as train_job
from lightsage_deploy.steps import upload as upload_data
from lightsage_deploy.targets import target as settings

from testsupport import TITANIC_CSV

pytestmark = pytest.mark.e2e

NAME = "processing-e2e"


@pytest.fixture(scope="module")
def repository() -> str:
    return NAME


def _read_json(target: settings.DeployTarget, uri: str) -> Any:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return json.loads(target.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())


def _run(
    target: settings.DeployTarget,
    image: str,
    role: str,
    program: str,
    inputs: dict[contract.Slot, str],
    output: contract.Slot,
    destination: str,
    arguments: list[str],
) -> None:
    processor = Processor(
        image_uri=image,
        role=role,
        instance_count=1,
        instance_type=settings.LOCAL_INSTANCE_TYPE,
        entrypoint=[program],
        sagemaker_session=target.sagemaker_session,
    )
    processor.run(
        inputs=[
            ProcessingInput(source=uri, destination=slot.local_path, input_name=slot.name)
            for slot, uri in inputs.items()
        ],
        outputs=[
            ProcessingOutput(source=output.local_path, destination=destination, output_name=output.name)
        ],
        arguments=arguments,
        logs=False,
    )  # fmt: skip
    assert processor.latest_job.describe()["ProcessingJobStatus"] == "Completed"


def test_evaluate_and_drift_run_as_local_processing_jobs(
    target: settings.DeployTarget,
    local_training: Callable[..., train_job.TrainingOptions],
    pinned_image: str,
) -> None:
    the_project = project_settings.Project(NAME, TITANIC_CSV, "Survived", "titanic")
    layout = settings.S3Layout(NAME, the_project.prefix)
    upload_data.upload_training_data(
        target, layout, the_project.source, the_project.target, create_bucket=True
    )
    options = local_training(the_project, layout, hyperparameters.for_job(the_project, assignments=[]))
    summary = train_job.train(target, options)
    assert summary.status == "Completed" and summary.model_data is not None

    evaluation = layout.uri("evaluation").rstrip("/")
    inputs = {contract.MODEL: summary.model_data, contract.DATA: layout.validation}
    role = the_project.local_role_arn
    _run(
        target,
        pinned_image,
        role,
        contract.EVALUATE_ENTRY,
        inputs,
        contract.EVALUATION,
        evaluation,
        ["--task", "binary"],
    )
    quality = _read_json(target, f"{evaluation}/{contract.EVALUATION_FILE}")
    check(quality, MODEL_QUALITY)
    goal = contract.objective(Task.BINARY)
    auc = quality["binary_classification_metrics"][goal.metric]["value"]
    assert goal.json_path == "binary_classification_metrics.auc.value" and auc > 0.8

    drift = layout.uri("drift").rstrip("/")
    inputs = {contract.MODEL: summary.model_data, contract.TRAFFIC: layout.validation}
    _run(target, pinned_image, role, contract.DRIFT_ENTRY, inputs, contract.DRIFT_RESULTS, drift, [])
    violations = _read_json(target, f"{drift}/constraint_violations.json")
    check(violations, VIOLATIONS)
    assert violations == {"violations": []}
    assert cleanup.delete_bucket(target.client("s3"), layout.bucket) > 0
