"""Least-privilege IAM policy documents for the deploy path, scoped to the project's names.

Three documents are rendered from the deployment names (all derived from the project name, see
``DeployNames.for_project``):

* the operator policy, for the human or CI identity that pushes the image, uploads data,
  starts SageMaker jobs and passes the execution role;
* the execution role policy, for the role that SageMaker assumes while running those jobs;
* the execution role trust policy, which lets only SageMaker assume that role.

``deploy/iam/cloudformation.yaml`` grants the same statements, and ``deploy/iam/policies/`` holds the
documents rendered for the example account (``byoc iam --example``); the tests keep all three in step.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lightsage_deploy.project.project import Project

PolicyDocument = dict[str, Any]
Statement = dict[str, Any]

POLICY_VERSION = "2012-10-17"
SAGEMAKER_SERVICE_PRINCIPAL = "sagemaker.amazonaws.com"
SAGEMAKER_LOG_GROUP_PATTERN = "/aws/sagemaker/*"
SAGEMAKER_METRIC_NAMESPACE_PATTERN = "/aws/sagemaker/*"

DEFAULT_PARTITION = "aws"
# The placeholders of the committed example documents (deploy/iam/policies/).
EXAMPLE_ACCOUNT_ID = "123456789012"
EXAMPLE_REGION = "us-east-1"
EXAMPLE_BUCKET = "my-bucket"
EXAMPLE_DIR = Path(__file__).resolve().parent / "policies"

# Key prefixes (below the project prefix) that SageMaker writes: model artifacts and tuning output go to
# output/, spot checkpoints to checkpoints/, batch transform results to batch-output/, captured endpoint
# traffic to data-capture/, asynchronous endpoint answers to async-output/.
# The lifecycle adds the evaluation job's folder evaluation/ and the drift job's drift/.
JOB_OUTPUT_SUBPREFIXES = (
    "output",
    "checkpoints",
    "batch-output",
    "data-capture",
    "async-output",
    "evaluation",
    "drift",
)
# What SageMaker Pipelines names the jobs of a pipeline's steps (pipelines-EXECUTION-STEP-...): not the
# project's names, so the execution role, which the pipeline runs as, is scoped by the project tag instead.
PIPELINE_JOB_NAME_PREFIX = "pipelines-"
PROJECT_TAG_KEY = "project"

# SageMaker resource types the operator creates; their ARNs are scoped to the name prefix.
SAGEMAKER_RESOURCE_TYPES = (
    "training-job",
    "hyper-parameter-tuning-job",
    "transform-job",
    "model",
    "endpoint-config",
    "endpoint",
    "processing-job",
    "pipeline",
    "model-package-group",
)

OPERATOR_POLICY_FILENAME = "operator-policy.json"
EXECUTION_ROLE_POLICY_FILENAME = "execution-role-policy.json"
EXECUTION_ROLE_TRUST_POLICY_FILENAME = "execution-role-trust-policy.json"

_ACCOUNT_ID = re.compile(r"\d{12}")
_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d")
_PARTITION = re.compile(r"aws(-[a-z]+)*")
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_KEY_PREFIX = re.compile(r"[A-Za-z0-9!_.()'-]+(/[A-Za-z0-9!_.()'-]+)*")
_REPOSITORY = re.compile(r"[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*")
# SageMaker puts names into ARNs in lower case, so an upper-case prefix would never match.
_SAGEMAKER_NAME_PREFIX = re.compile(r"[a-z0-9](-*[a-z0-9])*")
_ROLE_NAME = re.compile(r"[A-Za-z0-9+=,.@_-]{1,64}")


@dataclass(frozen=True)
class DeployNames:
    """The names every policy document is scoped to."""

    account_id: str
    region: str
    bucket: str
    prefix: str
    repository: str
    name_prefix: str
    role_name: str
    partition: str = DEFAULT_PARTITION

    @classmethod
    def for_project(
        cls, project: Project, account_id: str, region: str, bucket: str, partition: str = DEFAULT_PARTITION
    ) -> DeployNames:
        """The names `byoc` uses for this project: prefix, repository and name prefix are its name."""
        return cls(
            account_id=account_id,
            region=region,
            bucket=bucket,
            prefix=project.prefix,
            repository=project.repository,
            name_prefix=project.base_job_name,
            role_name=project.role_name,
            partition=partition,
        )

    def __post_init__(self) -> None:
        # Validation also keeps wildcards and policy variables out of the rendered ARNs.
        checks = {
            "account_id": (_ACCOUNT_ID, "12 digits"),
            "region": (_REGION, "a region name such as us-east-1"),
            "bucket": (_BUCKET, "an S3 bucket name"),
            "prefix": (_KEY_PREFIX, "an S3 key prefix without leading or trailing '/'"),
            "repository": (_REPOSITORY, "an ECR repository name"),
            "name_prefix": (_SAGEMAKER_NAME_PREFIX, "lower-case letters, digits and '-'"),
            "role_name": (_ROLE_NAME, "an IAM role name"),
            "partition": (_PARTITION, "an AWS partition such as aws"),
        }
        for field_name, (pattern, expected) in checks.items():
            value = getattr(self, field_name)
            if not pattern.fullmatch(value):
                raise ValueError(f"{field_name}={value!r} is not {expected}")


def bucket_arn(names: DeployNames) -> str:
    return f"arn:{names.partition}:s3:::{names.bucket}"


def objects_arn(names: DeployNames, subprefix: str = "") -> str:
    """ARN pattern for every object under the project prefix, or under one of its sub-prefixes."""
    key_prefix = f"{names.prefix}/{subprefix}/" if subprefix else f"{names.prefix}/"
    return f"{bucket_arn(names)}/{key_prefix}*"


def list_prefix_pattern(names: DeployNames) -> str:
    """The s3:prefix value a ListBucket request must match to stay inside the project prefix."""
    return f"{names.prefix}/*"


def repository_arn(names: DeployNames) -> str:
    return f"arn:{names.partition}:ecr:{names.region}:{names.account_id}:repository/{names.repository}"


def execution_role_arn(names: DeployNames) -> str:
    return f"arn:{names.partition}:iam::{names.account_id}:role/{names.role_name}"


def sagemaker_arn(names: DeployNames, resource_type: str) -> str:
    """ARN pattern for SageMaker resources of one type whose names start with the name prefix."""
    return (
        f"arn:{names.partition}:sagemaker:{names.region}:{names.account_id}:"
        f"{resource_type}/{names.name_prefix}*"
    )


def sagemaker_pipeline_job_arn(names: DeployNames, resource_type: str) -> str:
    """ARN pattern for the jobs a SageMaker pipeline starts for its steps."""
    return (
        f"arn:{names.partition}:sagemaker:{names.region}:{names.account_id}:"
        f"{resource_type}/{PIPELINE_JOB_NAME_PREFIX}*"
    )


def alarm_arn(names: DeployNames) -> str:
    """The alarms `byoc deploy --update` creates on the project's endpoints (named ENDPOINT-VARIANT-...)."""
    return f"arn:{names.partition}:cloudwatch:{names.region}:{names.account_id}:alarm:{names.name_prefix}*"


def _pass_execution_role(names: DeployNames) -> Statement:
    return {
        **_allow("PassExecutionRoleToSageMaker", ["iam:PassRole"], execution_role_arn(names)),
        "Condition": {"StringEquals": {"iam:PassedToService": SAGEMAKER_SERVICE_PRINCIPAL}},
    }


def sagemaker_log_group_arn(names: DeployNames) -> str:
    return (
        f"arn:{names.partition}:logs:{names.region}:{names.account_id}:"
        f"log-group:{SAGEMAKER_LOG_GROUP_PATTERN}"
    )


def sagemaker_log_stream_arn(names: DeployNames) -> str:
    return f"{sagemaker_log_group_arn(names)}:log-stream:*"


def _allow(sid: str, actions: Sequence[str], resources: str | Sequence[str]) -> Statement:
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Action": list(actions),
        "Resource": resources if isinstance(resources, str) else list(resources),
    }


def _list_bucket_under_prefix(sid: str, names: DeployNames) -> Statement:
    statement = _allow(sid, ["s3:ListBucket"], bucket_arn(names))
    statement["Condition"] = {"StringLike": {"s3:prefix": [list_prefix_pattern(names)]}}
    return statement


def _ecr_authorization_token() -> Statement:
    # GetAuthorizationToken is not a resource-level action: AWS only accepts "*" for it.
    return _allow("EcrAuthorizationToken", ["ecr:GetAuthorizationToken"], "*")


def operator_policy(names: DeployNames) -> PolicyDocument:
    """Identity policy for whoever pushes the image, uploads data, starts jobs and passes the role."""

    def sagemaker(type_name: str, actions: Sequence[str], *resource_types: str) -> Statement:
        return _allow(
            f"SageMaker{type_name}",
            [f"sagemaker:{action}" for action in actions],
            [sagemaker_arn(names, resource_type) for resource_type in resource_types],
        )

    statements = [
        _ecr_authorization_token(),
        _allow(
            "EcrPushAndPullProjectRepository",
            [
                "ecr:CreateRepository",
                "ecr:DescribeRepositories",
                "ecr:DescribeImages",
                "ecr:BatchCheckLayerAvailability",
                "ecr:InitiateLayerUpload",
                "ecr:UploadLayerPart",
                "ecr:CompleteLayerUpload",
                "ecr:PutImage",
                "ecr:BatchGetImage",
                "ecr:GetDownloadUrlForLayer",
            ],
            repository_arn(names),
        ),
        _allow(
            "S3CreateAndInspectBucket",
            [
                "s3:CreateBucket",
                "s3:PutEncryptionConfiguration",
                "s3:PutBucketPublicAccessBlock",
                "s3:GetBucketLocation",
            ],
            bucket_arn(names),
        ),
        _list_bucket_under_prefix("S3ListProjectPrefix", names),
        _allow(
            "S3ReadWriteProjectObjects",
            ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
            objects_arn(names),
        ),
        sagemaker(
            "TrainingJobs",
            ["CreateTrainingJob", "DescribeTrainingJob", "StopTrainingJob"],
            "training-job",
        ),
        sagemaker(
            "TuningJobs",
            [
                "CreateHyperParameterTuningJob",
                "DescribeHyperParameterTuningJob",
                "StopHyperParameterTuningJob",
                "ListTrainingJobsForHyperParameterTuningJob",
            ],
            "hyper-parameter-tuning-job",
        ),
        sagemaker(
            "TransformJobs",
            ["CreateTransformJob", "DescribeTransformJob", "StopTransformJob"],
            "transform-job",
        ),
        sagemaker("Models", ["CreateModel", "DescribeModel", "DeleteModel"], "model"),
        sagemaker(
            "EndpointConfigs",
            ["CreateEndpointConfig", "DescribeEndpointConfig", "DeleteEndpointConfig"],
            "endpoint-config",
        ),
        # CreateEndpoint and UpdateEndpoint are authorised against both the endpoint and the endpoint config.
        sagemaker(
            "Endpoints",
            [
                "CreateEndpoint",
                "UpdateEndpoint",
                "DescribeEndpoint",
                "DeleteEndpoint",
                "InvokeEndpoint",
                "InvokeEndpointAsync",
            ],
            "endpoint",
            "endpoint-config",
        ),
        # byoc drift's jobs (the pipeline's evaluation job runs as the execution role).
        sagemaker(
            "ProcessingJobs",
            ["CreateProcessingJob", "DescribeProcessingJob", "StopProcessingJob"],
            "processing-job",
        ),
        # byoc pipeline: the pipeline and its executions (pipeline/NAME/execution/ID).
        sagemaker(
            "Pipelines",
            [
                "CreatePipeline",
                "UpdatePipeline",
                "DescribePipeline",
                "DeletePipeline",
                "StartPipelineExecution",
                "StopPipelineExecution",
                "DescribePipelineExecution",
                "ListPipelineExecutionSteps",
            ],
            "pipeline",
        ),
        # byoc models, byoc deploy --approved: the project's group and its versions (model-package/GROUP/N).
        sagemaker(
            "ModelRegistry",
            [
                "CreateModelPackageGroup",
                "DescribeModelPackageGroup",
                "DeleteModelPackageGroup",
                "DescribeModelPackage",
                "UpdateModelPackage",
                "DeleteModelPackage",
            ],
            "model-package-group",
            "model-package",
        ),
        # Create* calls that carry Tags also need AddTags on the resource being created.
        sagemaker("TagProjectResources", ["AddTags"], *SAGEMAKER_RESOURCE_TYPES),
        # List* actions are not resource-level actions: AWS only accepts "*" for them.
        _allow(
            "SageMakerList",
            [
                "sagemaker:ListTrainingJobs",
                "sagemaker:ListHyperParameterTuningJobs",
                "sagemaker:ListTransformJobs",
                "sagemaker:ListModels",
                "sagemaker:ListEndpointConfigs",
                "sagemaker:ListEndpoints",
                "sagemaker:ListModelPackages",
            ],
            "*",
        ),
        # byoc deploy --update's rollback alarms; SageMaker reads them with the caller's DescribeAlarms.
        _allow(
            "CloudWatchRollbackAlarms",
            [
                "cloudwatch:PutMetricAlarm",
                "cloudwatch:DescribeAlarms",
                "cloudwatch:DeleteAlarms",
                "cloudwatch:TagResource",
            ],
            alarm_arn(names),
        ),
        _allow(
            "ReadSageMakerLogGroups",
            ["logs:DescribeLogStreams", "logs:FilterLogEvents"],
            sagemaker_log_group_arn(names),
        ),
        _allow("ReadSageMakerLogStreams", ["logs:GetLogEvents"], sagemaker_log_stream_arn(names)),
        # Neither action is resource-level: AWS only accepts "*" for them.
        _allow(
            "ReadServiceQuotas",
            ["servicequotas:GetServiceQuota", "servicequotas:ListServiceQuotas"],
            "*",
        ),
        _allow("WhoAmI", ["sts:GetCallerIdentity"], "*"),
        _pass_execution_role(names),
    ]
    return {"Version": POLICY_VERSION, "Statement": statements}


def execution_role_policy(names: DeployNames) -> PolicyDocument:
    """Identity policy for the role SageMaker assumes to run training, tuning, transform and hosting, and as
    which `byoc pipeline`'s pipeline runs: it starts the steps' jobs (tagged with the project), passes itself
    to them, and registers the model in the project's group."""
    tagged = {"StringEquals": {f"aws:RequestTag/{PROJECT_TAG_KEY}": names.name_prefix}}
    statements = [
        _list_bucket_under_prefix("S3ListProjectPrefix", names),
        _allow("S3ReadProjectObjects", ["s3:GetObject"], objects_arn(names)),
        _allow(
            "S3WriteJobOutput",
            ["s3:PutObject"],
            [objects_arn(names, subprefix) for subprefix in JOB_OUTPUT_SUBPREFIXES],
        ),
        _ecr_authorization_token(),
        _allow(
            "EcrPullProjectRepository",
            ["ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"],
            repository_arn(names),
        ),
        _allow(
            "WriteSageMakerLogGroups",
            ["logs:CreateLogGroup", "logs:DescribeLogStreams"],
            sagemaker_log_group_arn(names),
        ),
        _allow(
            "WriteSageMakerLogStreams",
            ["logs:CreateLogStream", "logs:PutLogEvents"],
            sagemaker_log_stream_arn(names),
        ),
        # PutMetricData is not a resource-level action; the namespace condition narrows it instead.
        {
            **_allow("PutSageMakerMetrics", ["cloudwatch:PutMetricData"], "*"),
            "Condition": {"StringLike": {"cloudwatch:namespace": SAGEMAKER_METRIC_NAMESPACE_PATTERN}},
        },
        {
            **_allow(
                "PipelineStartsProjectJobs",
                ["sagemaker:CreateTrainingJob", "sagemaker:CreateProcessingJob", "sagemaker:AddTags"],
                [
                    sagemaker_pipeline_job_arn(names, "training-job"),
                    sagemaker_pipeline_job_arn(names, "processing-job"),
                ],
            ),
            "Condition": tagged,
        },
        _allow(
            "PipelineFollowsJobs",
            [
                "sagemaker:DescribeTrainingJob",
                "sagemaker:StopTrainingJob",
                "sagemaker:DescribeProcessingJob",
                "sagemaker:StopProcessingJob",
            ],
            [
                sagemaker_pipeline_job_arn(names, "training-job"),
                sagemaker_pipeline_job_arn(names, "processing-job"),
            ],
        ),
        _allow(
            "PipelineRegistersModels",
            ["sagemaker:CreateModelPackage", "sagemaker:DescribeModelPackageGroup"],
            [sagemaker_arn(names, "model-package-group"), sagemaker_arn(names, "model-package")],
        ),
        _pass_execution_role(names),
    ]
    return {"Version": POLICY_VERSION, "Statement": statements}


def execution_role_trust_policy(
    names: DeployNames, *, restrict_source_account: bool = True
) -> PolicyDocument:
    """Trust policy letting only SageMaker assume the execution role, by default only for this account."""
    statement: Statement = {
        "Sid": "SageMakerAssumesRole",
        "Effect": "Allow",
        "Principal": {"Service": SAGEMAKER_SERVICE_PRINCIPAL},
        "Action": "sts:AssumeRole",
    }
    if restrict_source_account:
        statement["Condition"] = {"StringEquals": {"aws:SourceAccount": names.account_id}}
    return {"Version": POLICY_VERSION, "Statement": [statement]}


def render_documents(
    names: DeployNames, *, restrict_source_account: bool = True
) -> dict[str, PolicyDocument]:
    """All documents keyed by the file name the CLI writes them to."""
    return {
        OPERATOR_POLICY_FILENAME: operator_policy(names),
        EXECUTION_ROLE_POLICY_FILENAME: execution_role_policy(names),
        EXECUTION_ROLE_TRUST_POLICY_FILENAME: execution_role_trust_policy(
            names, restrict_source_account=restrict_source_account
        ),
    }


def write_documents(documents: dict[str, PolicyDocument], out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for filename, document in documents.items():
        path = out_dir / filename
        path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
        written.append(path)
    return written


def example_names(project: Project) -> DeployNames:
    """The names of the committed example documents in deploy/iam/policies/."""
    return DeployNames.for_project(project, EXAMPLE_ACCOUNT_ID, EXAMPLE_REGION, EXAMPLE_BUCKET)
