"""`byoc pipeline`: a SageMaker Pipeline of the project's image: train, evaluate, gate, then register or fail.

    Train (TrainingStep) -> Evaluate (ProcessingStep, the image's `evaluate`) -> ObjectiveGate (ConditionStep:
    the task's objective metric in evaluation.json against the threshold)
        pass: Register (the RegisterModel step: the model package group named after the project, as
              PendingManualApproval, with ModelMetrics, instance and media types)
        fail: GateFailed (FailStep: its message gives the metric and the threshold)

On SageMaker all of it runs as one pipeline. Offline, the SDK's LocalPipelineSession runs Train, Evaluate,
the gate and the FailStep in local mode; it has no register step, so when the gate passes the same
registration (`registry.register`, the SDK's `Model.register`) is sent to moto's model registry afterwards.
Each step's result says where it ran.
"""

from __future__ import annotations

import json
import logging
import re
import shlex
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from botocore.validate import validate_parameters

from lightsage.evaluation import contract
from lightsage_deploy.aws import dry_run
from lightsage_deploy.aws.progress import wait_for
from lightsage_deploy.aws.s3 import read_bytes
from lightsage_deploy.errors import DeployError, PlatformError
from lightsage_deploy.jobs.gate import Gate
from lightsage_deploy.steps import registry
from lightsage_deploy.steps.train import TrainingOptions, build_estimator, training_inputs
from lightsage_deploy.targets import target as settings
from lightsage_deploy.targets.container_log import container_lines, teed_stdout

TRAIN_STEP = "Train"
EVALUATE_STEP = "Evaluate"
GATE_STEP = "ObjectiveGate"
FAIL_STEP = "GateFailed"
REGISTER_STEP = "Register"
THRESHOLD_PARAMETER = "ObjectiveThreshold"
APPROVAL_PARAMETER = "ModelApprovalStatus"
EVALUATION_OUTPUT_NAME = contract.EVALUATION.name
PIPELINE_FINISHED = ("Succeeded", "Failed", "Stopped")
DEFAULT_PROCESSING_SECONDS = 3600
# How local mode reports a container that exited with an error.
LOCAL_EXIT = re.compile(r"Failed to run: \[.docker-compose.*Process exited with code: (\d+)")
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PipelineOptions:
    """The pipeline's training job (`byoc train`'s options, the task settled), its gate, and the evaluation
    job's instance type."""

    training: TrainingOptions
    gate: Gate
    processing_instance_type: str
    max_processing_seconds: int = DEFAULT_PROCESSING_SECONDS

    @property
    def name(self) -> str:
        return self.training.project.pipeline_name


def evaluation_destination(options: PipelineOptions) -> Any:
    """s3://BUCKET/PREFIX/evaluation/EXECUTION_ID: one folder per execution, inside the project's prefix."""
    from sagemaker.workflow.execution_variables import ExecutionVariables
    from sagemaker.workflow.functions import Join

    base = options.training.layout.uri("evaluation").rstrip("/")
    return Join(on="/", values=[base, ExecutionVariables.PIPELINE_EXECUTION_ID])


def build_pipeline(
    target: settings.DeployTarget, options: PipelineOptions, session: Any, *, register_step: bool = True
) -> Any:
    """The pipeline, each step defined with the real SDK classes on `session` (a PipelineSession or a
    LocalPipelineSession). Without `register_step` (local mode) a passing gate ends the pipeline."""
    from sagemaker.processing import ProcessingInput, ProcessingOutput, Processor
    from sagemaker.workflow.condition_step import ConditionStep
    from sagemaker.workflow.conditions import ConditionGreaterThanOrEqualTo, ConditionLessThanOrEqualTo
    from sagemaker.workflow.fail_step import FailStep
    from sagemaker.workflow.functions import Join, JsonGet
    from sagemaker.workflow.model_step import ModelStep
    from sagemaker.workflow.parameters import ParameterFloat, ParameterString
    from sagemaker.workflow.pipeline import Pipeline
    from sagemaker.workflow.properties import PropertyFile
    from sagemaker.workflow.steps import ProcessingStep, TrainingStep

    training, gate, project = options.training, options.gate, options.training.project
    threshold = ParameterFloat(name=THRESHOLD_PARAMETER, default_value=gate.threshold)
    approval = ParameterString(name=APPROVAL_PARAMETER, default_value=registry.PENDING)

    estimator = build_estimator(target, training, session=session)
    step_train = TrainingStep(
        name=TRAIN_STEP, step_args=estimator.fit(training_inputs(training.layout, training.content_type))
    )
    model_data = step_train.properties.ModelArtifacts.S3ModelArtifacts

    processor = Processor(
        image_uri=training.image_uri,
        role=training.role,
        instance_count=1,
        instance_type=options.processing_instance_type,
        entrypoint=[contract.EVALUATE_ENTRY],
        base_job_name=f"{project.base_job_name}-evaluate",
        max_runtime_in_seconds=options.max_processing_seconds,
        tags=project.tags,
        sagemaker_session=session,
    )
    destination = evaluation_destination(options)
    evaluation = PropertyFile(
        name="Evaluation", output_name=EVALUATION_OUTPUT_NAME, path=contract.EVALUATION_FILE
    )
    step_evaluate = ProcessingStep(
        name=EVALUATE_STEP,
        property_files=[evaluation],
        step_args=processor.run(
            inputs=[
                ProcessingInput(
                    source=model_data, destination=contract.MODEL_INPUT, input_name=contract.MODEL.name
                ),
                ProcessingInput(
                    source=training.layout.validation,
                    destination=contract.DATA_INPUT,
                    input_name=contract.DATA.name,
                ),
                ProcessingInput(
                    source=training.layout.train,
                    destination=contract.BASELINE_INPUT,
                    input_name=contract.TRAINING_DATA.name,
                ),
            ],
            outputs=[
                ProcessingOutput(
                    output_name=EVALUATION_OUTPUT_NAME,
                    source=contract.EVALUATION_OUTPUT,
                    destination=destination,
                )
            ],
            # the image's evaluate fails, with the reason, when the model's task is not the one the gate reads
            arguments=["--task", gate.task.value],
        ),
    )
    metric = JsonGet(step_name=EVALUATE_STEP, property_file=evaluation, json_path=gate.json_path)
    comparison = ConditionGreaterThanOrEqualTo if gate.direction == "Maximize" else ConditionLessThanOrEqualTo
    step_fail = FailStep(
        name=FAIL_STEP,
        error_message=Join(
            on=" ",
            values=[
                f"quality gate failed: {gate.metric}",
                metric,
                f"on the validation channel; a model is registered when {gate.metric} {gate.comparison}",
                threshold,
            ],
        ),
    )
    if_steps = []
    if register_step:
        registration = registry.Registration(
            project=project,
            image_uri=training.image_uri,
            model_data=model_data,
            evaluation_folder=destination,
            task=gate.task,
            role=training.role,
            approval_status=approval,
        )
        model = registry.registered_model(registration, session)
        if_steps.append(
            ModelStep(
                name=REGISTER_STEP, step_args=model.register(**registry.register_arguments(registration))
            )
        )
    step_gate = ConditionStep(
        name=GATE_STEP,
        conditions=[comparison(left=metric, right=threshold)],
        if_steps=if_steps,
        else_steps=[step_fail],
    )
    return Pipeline(
        name=options.name,
        parameters=[threshold, approval] if register_step else [threshold],
        steps=[step_train, step_evaluate, step_gate],
        sagemaker_session=session,
    )


@contextmanager
def sdk_definition_notes_quiet() -> Iterator[None]:
    """The SDK warns, for every pipeline it defines, that a PipelineSession starts no job and that it leaves
    the job names out of the definition: both as intended here."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Running within a PipelineSession")
        with (
            settings.quiet_logger("sagemaker.workflow.utilities", logging.ERROR),
            settings.quiet_logger("sagemaker.workflow._utils", logging.ERROR),
        ):
            yield


# --- dry run -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PipelinePlan:
    """What a dry run shows: the definition and the AWS CLI that creates the group and the pipeline and
    starts it, each request checked against the service model."""

    definition: dict[str, Any]
    commands: list[str]


def definition_file(options: PipelineOptions) -> str:
    return f"{options.name}-pipeline.json"


def plan(target: settings.DeployTarget, options: PipelineOptions) -> PipelinePlan:
    """The pipeline SageMaker would run, built by the SDK with nothing sent."""
    with dry_run.capture(target.boto_session), sdk_definition_notes_quiet():
        session = target.pipeline_session(options.training.layout.bucket, options.training.layout.prefix)
        pipeline = build_pipeline(target, options, session)
        definition = json.loads(pipeline.definition())
    project = options.training.project
    group = registry.group_request(project)
    create = {
        "PipelineName": options.name,
        "PipelineDefinition": json.dumps(definition),
        "PipelineDescription": f"{project.name}: train, evaluate, gate on {options.gate}, register",
        "RoleArn": options.training.role,
        "Tags": project.tags,
    }
    start = {
        "PipelineName": options.name,
        "PipelineParameters": [{"Name": THRESHOLD_PARAMETER, "Value": f"{options.gate.threshold:g}"}],
    }
    service = target.boto_session._session.get_service_model("sagemaker")
    for operation, request in (
        ("CreateModelPackageGroup", group),
        ("CreatePipeline", create),
        ("StartPipelineExecution", start),
    ):
        # The AWS CLI fills in the idempotency token of the two pipeline requests itself.
        token = {"ClientRequestToken": "x" * 32} if operation != "CreateModelPackageGroup" else {}
        validate_parameters({**request, **token}, service.operation_model(operation).input_shape)
    tags = " ".join(f"Key={tag['Key']},Value={tag['Value']}" for tag in project.tags)
    commands = [
        dry_run.Request("CreateModelPackageGroup", group).cli_command(),
        "aws sagemaker create-pipeline "
        + " ".join(
            [
                f"--pipeline-name {shlex.quote(options.name)}",
                f"--pipeline-definition file://{definition_file(options)}",
                f"--pipeline-description {shlex.quote(create['PipelineDescription'])}",
                f"--role-arn {shlex.quote(options.training.role)}",
                f"--tags {tags}",
            ]
        ),
        f"aws sagemaker start-pipeline-execution --pipeline-name {shlex.quote(options.name)} "
        f"--pipeline-parameters Name={THRESHOLD_PARAMETER},Value={options.gate.threshold:g}",
    ]
    return PipelinePlan(definition, commands)


# --- results -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StepResult:
    name: str
    status: str
    where: str
    detail: str = ""


@dataclass
class PipelineRun:
    """What an execution did, the same for local mode and SageMaker."""

    name: str
    status: str
    steps: list[StepResult]
    gate: Gate
    metric_value: float | None = None
    gate_passed: bool | None = None
    failure: str | None = None
    model_data: str | None = None
    evaluation_folder: str | None = None
    registered: registry.Version | None = None
    execution: str = ""
    gate_group: str = ""
    notes: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        lines = [
            f"pipeline {self.name}: {self.status}"
            + (f" (execution {self.execution})" if self.execution else "")
        ]
        width = max(len(step.name) for step in self.steps) if self.steps else 0
        for step in self.steps:
            detail = f"  {step.detail}" if step.detail else ""
            lines.append(f"  {step.name:<{width}}  {step.status:<9}  {step.where}{detail}")
        if self.model_data:
            lines.append(f"model:      {self.model_data}")
        if self.evaluation_folder:
            lines.append(f"evaluation: {self.evaluation_folder}/{contract.EVALUATION_FILE}")
        if self.registered is not None:
            lines.append(
                f"registered: version {self.registered.number} of model package group "
                f"{self.gate_group} as {self.registered.status} ({self.registered.arn})"
            )
        elif self.gate_passed is False:
            lines.append("registered: nothing (the quality gate failed)")
        lines.extend(self.notes)
        return lines


def _status_of(outcome: Any) -> bool | None:
    """The condition outcome: a bool in local mode, "True"/"False" on SageMaker."""
    if isinstance(outcome, bool):
        return outcome
    if isinstance(outcome, str) and outcome.lower() in ("true", "false"):
        return outcome.lower() == "true"
    return None


def normalised_steps(listed: Any) -> list[dict[str, Any]]:
    """list_steps() as a list by start time: local mode answers a dict in DAG order, SageMaker a list."""
    steps = listed.get("PipelineExecutionSteps", []) if isinstance(listed, Mapping) else list(listed)

    def started(step: Mapping[str, Any]) -> float:
        value = step.get("StartTime")
        if isinstance(value, datetime):
            return value.timestamp()
        return float(value) if isinstance(value, int | float) else 0.0

    return sorted(steps, key=started)


def read_metric(s3: Any, evaluation_folder: str, gate: Gate) -> float | None:
    try:
        evaluation = json.loads(read_bytes(s3, f"{evaluation_folder.rstrip('/')}/{contract.EVALUATION_FILE}"))
    except (ValueError, DeployError) as error:
        logger.warning("could not read the evaluation in %s: %s", evaluation_folder, error)
        return None
    value = contract.read_json_path(evaluation, gate.json_path)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def summarise(
    name: str,
    status: str,
    steps: Sequence[Mapping[str, Any]],
    gate: Gate,
    where: Mapping[str, str],
) -> PipelineRun:
    run = PipelineRun(name=name, status=status, steps=[], gate=gate)
    for step in steps:
        step_name = str(step.get("StepName", ""))
        metadata = step.get("Metadata") or {}
        detail = ""
        if "TrainingJob" in metadata:
            detail = f"training job {str(metadata['TrainingJob'].get('Arn', '')).rsplit('/', 1)[-1]}"
        elif "ProcessingJob" in metadata:
            detail = f"processing job {str(metadata['ProcessingJob'].get('Arn', '')).rsplit('/', 1)[-1]}"
        elif "Condition" in metadata:
            run.gate_passed = _status_of(metadata["Condition"].get("Outcome"))
            detail = {True: f"passed ({gate})", False: f"failed ({gate})", None: ""}[run.gate_passed]
        elif "Fail" in metadata:
            run.failure = str(metadata["Fail"].get("ErrorMessage", ""))
            detail = run.failure
        elif "RegisterModel" in metadata:
            detail = f"model package {metadata['RegisterModel'].get('Arn', '')}"
        if step.get("FailureReason") and "Fail" not in metadata:
            detail = f"{detail}; {step['FailureReason']}" if detail else str(step["FailureReason"])
        run.steps.append(
            StepResult(step_name, str(step.get("StepStatus", "")), where.get(step_name, ""), detail)
        )
    return run


# --- local mode ----------------------------------------------------------------------------------------


def where_local(target: settings.DeployTarget) -> dict[str, str]:
    assert target.local is not None
    return {
        TRAIN_STEP: "local mode: a container on this machine",
        EVALUATE_STEP: "local mode: a container on this machine",
        GATE_STEP: "local mode: in this process",
        FAIL_STEP: "local mode: in this process",
    }


def run_local(target: settings.DeployTarget, options: PipelineOptions) -> PipelineRun:
    """Run the pipeline with LocalPipelineSession; when the gate passed, register the model on moto."""
    if target.local is None:
        raise DeployError("run_local needs a --local target")
    layout = options.training.layout
    session = target.pipeline_session(layout.bucket, layout.prefix)
    with sdk_definition_notes_quiet():
        pipeline = build_pipeline(target, options, session, register_step=False)
        pipeline.create(role_arn=options.training.role)
    logger.info("running pipeline %s in SageMaker local mode (LocalPipelineSession)", options.name)
    with teed_stdout() as log, sdk_definition_notes_quiet():
        execution = pipeline.start()
    described = execution.describe()
    steps = normalised_steps(execution.list_steps())
    run = summarise(
        options.name, str(described.get("PipelineExecutionStatus")), steps, options.gate, where_local(target)
    )
    run.gate_group = options.training.project.model_package_group
    run.execution = str(described.get("PipelineExecutionArn", ""))
    if run.failure is None and described.get("FailureReason"):
        run.failure = str(described["FailureReason"])
    said = container_lines(log.text)
    for index, step in enumerate(run.steps):
        exited = LOCAL_EXIT.search(step.detail)
        if step.status == "Failed" and exited:
            reason = f"its container exited with code {exited.group(1)}" + (f": {said[-1]}" if said else "")
            run.steps[index] = replace(step, detail=reason)
            run.failure = f"step {step.name} failed: {reason}"
    properties = {name: step.properties for name, step in execution.step_execution.items()}
    train = properties.get(TRAIN_STEP) or {}
    run.model_data = (train.get("ModelArtifacts") or {}).get("S3ModelArtifacts")
    evaluate = properties.get(EVALUATE_STEP) or {}
    outputs = (evaluate.get("ProcessingOutputConfig") or {}).get("Outputs") or {}
    folder = (outputs.get(EVALUATION_OUTPUT_NAME) or {}).get("S3Output", {}).get("S3Uri")
    run.evaluation_folder = str(folder).rstrip("/") if folder else None
    if run.evaluation_folder:
        run.metric_value = read_metric(target.client("s3"), run.evaluation_folder, options.gate)
        run.steps = [
            replace(step, detail=f"{step.detail}; {options.gate.metric} {run.metric_value:.4f}")
            if step.name == EVALUATE_STEP and run.metric_value is not None
            else step
            for step in run.steps
        ]
    if run.gate_passed and run.status == "Succeeded":
        run.registered = register_local(target, options, run)
        run.steps.append(
            StepResult(
                REGISTER_STEP,
                "Succeeded",
                f"outside the pipeline: moto's model registry at {target.local.s3_endpoint} (local mode has "
                "no register step)",
                f"version {run.registered.number}, {run.registered.status}",
            )
        )
    return run


def register_local(
    target: settings.DeployTarget, options: PipelineOptions, run: PipelineRun
) -> registry.Version:
    if not run.model_data or not run.evaluation_folder:
        raise PlatformError("the local pipeline passed its gate but left no model or evaluation to register")
    project = options.training.project
    client = target.client("sagemaker")
    registry.ensure_group(client, project)
    registration = registry.Registration(
        project=project,
        image_uri=options.training.image_uri,
        model_data=run.model_data,
        evaluation_folder=run.evaluation_folder,
        task=options.gate.task,
        role=options.training.role,
    )
    return registry.register(registration, target.registry_session(options.training.layout.bucket))


# --- SageMaker -----------------------------------------------------------------------------------------


def where_sagemaker(target: settings.DeployTarget) -> dict[str, str]:
    where = f"SageMaker Pipelines ({target.region})"
    # A ModelStep's step is named NAME-RegisterModel.
    return {
        name: where
        for name in (TRAIN_STEP, EVALUATE_STEP, GATE_STEP, FAIL_STEP, f"{REGISTER_STEP}-RegisterModel")
    }


def run_on_sagemaker(
    target: settings.DeployTarget, options: PipelineOptions, *, wait: bool = True
) -> PipelineRun:
    """Create or update the pipeline, start it, and (with `wait`) follow it to the end."""
    project = options.training.project
    client = target.client("sagemaker")
    registry.ensure_group(client, project)
    layout = options.training.layout
    session = target.pipeline_session(layout.bucket, layout.prefix)
    with sdk_definition_notes_quiet():
        pipeline = build_pipeline(target, options, session)
        pipeline.upsert(role_arn=options.training.role, tags=project.tags)
    execution = pipeline.start(parameters={THRESHOLD_PARAMETER: options.gate.threshold})
    arn = str(execution.arn)
    if not wait:
        run = PipelineRun(options.name, "Executing", [], options.gate, execution=arn)
        run.notes.append(
            f"follow it with: aws sagemaker describe-pipeline-execution --pipeline-execution-arn {arn}"
        )
        return run
    described = wait_for(
        lambda: client.describe_pipeline_execution(PipelineExecutionArn=arn),
        "PipelineExecutionStatus",
        PIPELINE_FINISHED,
        f"pipeline {options.name}",
        poll_seconds=30,
    )
    steps = normalised_steps(
        step
        for page in client.get_paginator("list_pipeline_execution_steps").paginate(PipelineExecutionArn=arn)
        for step in page["PipelineExecutionSteps"]
    )
    run = summarise(
        options.name, str(described["PipelineExecutionStatus"]), steps, options.gate, where_sagemaker(target)
    )
    run.gate_group = project.model_package_group
    run.execution = arn
    if run.failure is None and described.get("FailureReason"):
        run.failure = str(described["FailureReason"])
    for step in steps:
        metadata = step.get("Metadata") or {}
        if "TrainingJob" in metadata:
            job = client.describe_training_job(
                TrainingJobName=metadata["TrainingJob"]["Arn"].rsplit("/", 1)[-1]
            )
            run.model_data = (job.get("ModelArtifacts") or {}).get("S3ModelArtifacts")
        if "ProcessingJob" in metadata:
            job = client.describe_processing_job(
                ProcessingJobName=metadata["ProcessingJob"]["Arn"].rsplit("/", 1)[-1]
            )
            for output in job.get("ProcessingOutputConfig", {}).get("Outputs", []):
                if output["OutputName"] == EVALUATION_OUTPUT_NAME:
                    run.evaluation_folder = output["S3Output"]["S3Uri"].rstrip("/")
        if "RegisterModel" in metadata:
            arn_of_package = metadata["RegisterModel"]["Arn"]
            package = client.describe_model_package(ModelPackageName=arn_of_package)
            run.registered = registry.Version(
                number=int(package["ModelPackageVersion"]),
                arn=arn_of_package,
                status=str(package["ModelApprovalStatus"]),
                created=package["CreationTime"],
            )
    if run.evaluation_folder:
        run.metric_value = read_metric(target.client("s3"), run.evaluation_folder, options.gate)
    return run
