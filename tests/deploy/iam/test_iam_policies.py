"""The deploy-path IAM documents: parliament-clean, least privilege, in step with CloudFormation and with the
committed example documents in deploy/iam/policies/."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cfnlint.api import lint_file
from cfnlint.config import ManualArgs
from cfnlint.decode.decode import decode
from parliament import analyze_policy_string

from lightsage_deploy.cli import iam as iam_command
from lightsage_deploy.iam import policies as iam
from lightsage_deploy.project import project

from testsupport import EXAMPLE_PROJECT_FILE, REPOSITORY_ROOT

TEMPLATE_PATH = REPOSITORY_ROOT / "deploy" / "iam" / "cloudformation.yaml"
ACCOUNT_ID = "123456789012"
REGION = "eu-west-1"
BUCKET = "example-ml-bucket"
EXAMPLE = project.load(EXAMPLE_PROJECT_FILE, environ={})
DEFAULT_NAMES = iam.DeployNames.for_project(EXAMPLE, ACCOUNT_ID, REGION, BUCKET)
CUSTOM_NAMES = iam.DeployNames(
    account_id=ACCOUNT_ID,
    region=REGION,
    bucket=BUCKET,
    prefix="teams/ml/titanic",
    repository="ml/titanic",
    name_prefix="tt-exp",
    role_name="tt-exp-execution",
)
IDENTITY_POLICIES = {
    "operator": iam.operator_policy,
    "execution-role": iam.execution_role_policy,
}


def statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    return document["Statement"]


def as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value


def all_actions(document: dict[str, Any]) -> list[str]:
    return [action for statement in statements(document) for action in as_list(statement["Action"])]


def all_resources(document: dict[str, Any]) -> list[str]:
    return [resource for statement in statements(document) for resource in as_list(statement["Resource"])]


def parliament_findings(document: dict[str, Any]) -> list[tuple[str, Any]]:
    policy = analyze_policy_string(json.dumps(document))
    return [(finding.issue, finding.detail) for finding in policy.findings]


@pytest.mark.parametrize("names", [DEFAULT_NAMES, CUSTOM_NAMES], ids=["default-names", "custom-names"])
@pytest.mark.parametrize("render", IDENTITY_POLICIES.values(), ids=IDENTITY_POLICIES.keys())
def test_identity_policies_have_no_parliament_findings(render, names: iam.DeployNames) -> None:
    assert parliament_findings(render(names)) == []


def test_trust_policy_passes_parliament_principal_checks() -> None:
    # parliament audits identity policies and stops at any statement without a Resource element,
    # which a trust policy never has. Its Principal checks run before that stop, so the only
    # finding allowed is that single structural one.
    findings = parliament_findings(iam.execution_role_trust_policy(DEFAULT_NAMES))
    assert findings == [("MALFORMED", "Statement contains neither Resource nor NotResource")]


def test_only_the_execution_role_can_be_passed_and_only_to_sagemaker() -> None:
    document = iam.operator_policy(DEFAULT_NAMES)
    pass_role_statements = [
        statement for statement in statements(document) if "iam:PassRole" in as_list(statement["Action"])
    ]

    assert len(pass_role_statements) == 1
    (pass_role,) = pass_role_statements
    assert as_list(pass_role["Action"]) == ["iam:PassRole"]
    assert as_list(pass_role["Resource"]) == [f"arn:aws:iam::{ACCOUNT_ID}:role/{EXAMPLE.role_name}"]
    assert pass_role["Condition"] == {"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}}
    # The pipeline runs as the execution role and passes it on to its steps' jobs: itself, to SageMaker only.
    (own_pass,) = [
        statement
        for statement in statements(iam.execution_role_policy(DEFAULT_NAMES))
        if any(action.startswith("iam:") for action in as_list(statement["Action"]))
    ]
    assert own_pass == pass_role


@pytest.mark.parametrize("render", IDENTITY_POLICIES.values(), ids=IDENTITY_POLICIES.keys())
def test_no_service_or_global_wildcard_actions(render) -> None:
    for action in all_actions(render(DEFAULT_NAMES)):
        assert "*" not in action, action


@pytest.mark.parametrize("render", IDENTITY_POLICIES.values(), ids=IDENTITY_POLICIES.keys())
def test_only_allow_statements_without_not_elements(render) -> None:
    for statement in statements(render(DEFAULT_NAMES)):
        assert statement["Effect"] == "Allow"
        assert not {"NotAction", "NotResource", "NotPrincipal"} & statement.keys()


@pytest.mark.parametrize("names", [DEFAULT_NAMES, CUSTOM_NAMES], ids=["default-names", "custom-names"])
@pytest.mark.parametrize("render", IDENTITY_POLICIES.values(), ids=IDENTITY_POLICIES.keys())
def test_every_s3_object_resource_is_under_the_project_prefix(render, names: iam.DeployNames) -> None:
    bucket_arn = f"arn:aws:s3:::{names.bucket}"
    for resource in all_resources(render(names)):
        if resource.startswith(f"{bucket_arn}/"):
            assert resource.startswith(f"{bucket_arn}/{names.prefix}/"), resource
        elif resource.startswith("arn:aws:s3:"):
            assert resource == bucket_arn, resource


@pytest.mark.parametrize("render", IDENTITY_POLICIES.values(), ids=IDENTITY_POLICIES.keys())
def test_bucket_listing_is_limited_to_the_project_prefix(render) -> None:
    for statement in statements(render(CUSTOM_NAMES)):
        if "s3:ListBucket" in as_list(statement["Action"]):
            assert statement["Condition"] == {"StringLike": {"s3:prefix": ["teams/ml/titanic/*"]}}


# Actions AWS only authorises against "*"; everything else must name its resources.
RESOURCE_STAR_ACTIONS = {
    "ecr:GetAuthorizationToken",
    "sagemaker:ListTrainingJobs",
    "sagemaker:ListHyperParameterTuningJobs",
    "sagemaker:ListTransformJobs",
    "sagemaker:ListModels",
    "sagemaker:ListEndpointConfigs",
    "sagemaker:ListEndpoints",
    "sagemaker:ListModelPackages",
    "servicequotas:GetServiceQuota",
    "servicequotas:ListServiceQuotas",
    "sts:GetCallerIdentity",
    "cloudwatch:PutMetricData",
}


@pytest.mark.parametrize("render", IDENTITY_POLICIES.values(), ids=IDENTITY_POLICIES.keys())
def test_resource_star_only_for_actions_without_resource_level_permissions(render) -> None:
    for statement in statements(render(DEFAULT_NAMES)):
        if "*" in as_list(statement["Resource"]):
            assert as_list(statement["Resource"]) == ["*"]
            assert set(as_list(statement["Action"])) <= RESOURCE_STAR_ACTIONS, statement["Sid"]


def test_metric_publishing_is_limited_to_sagemaker_namespaces() -> None:
    (put_metrics,) = [
        statement
        for statement in statements(iam.execution_role_policy(DEFAULT_NAMES))
        if "cloudwatch:PutMetricData" in as_list(statement["Action"])
    ]
    assert put_metrics["Condition"] == {"StringLike": {"cloudwatch:namespace": "/aws/sagemaker/*"}}


def test_sagemaker_resources_are_scoped_to_the_name_prefix() -> None:
    sagemaker_arn_start = f"arn:aws:sagemaker:{REGION}:{ACCOUNT_ID}:"
    sagemaker_resources = [
        resource
        for statement in statements(iam.operator_policy(CUSTOM_NAMES))
        if any(action.startswith("sagemaker:") for action in as_list(statement["Action"]))
        for resource in as_list(statement["Resource"])
        if resource != "*"
    ]
    assert sagemaker_resources
    for resource in sagemaker_resources:
        assert re.fullmatch(rf"{re.escape(sagemaker_arn_start)}[a-z-]+/tt-exp\*", resource), resource


def test_execution_role_writes_only_job_output_prefixes() -> None:
    write_resources = [
        resource
        for statement in statements(iam.execution_role_policy(DEFAULT_NAMES))
        if {"s3:PutObject", "s3:DeleteObject"} & set(as_list(statement["Action"]))
        for resource in as_list(statement["Resource"])
    ]
    assert sorted(write_resources) == [
        f"arn:aws:s3:::{BUCKET}/{EXAMPLE.prefix}/{subprefix}/*"
        for subprefix in sorted(
            ("output", "checkpoints", "batch-output", "data-capture", "async-output", "evaluation", "drift")
        )
    ]


def test_trust_policy_admits_only_sagemaker_from_this_account() -> None:
    (statement,) = statements(iam.execution_role_trust_policy(DEFAULT_NAMES))
    assert statement["Principal"] == {"Service": "sagemaker.amazonaws.com"}
    assert statement["Action"] == "sts:AssumeRole"
    assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT_ID}}

    (unconditioned,) = statements(
        iam.execution_role_trust_policy(DEFAULT_NAMES, restrict_source_account=False)
    )
    assert "Condition" not in unconditioned


def test_partition_is_a_parameter() -> None:
    names = iam.DeployNames.for_project(EXAMPLE, ACCOUNT_ID, "cn-north-1", BUCKET, partition="aws-cn")
    resources = [r for r in all_resources(iam.operator_policy(names)) if r != "*"]
    assert resources
    assert all(resource.startswith("arn:aws-cn:") for resource in resources)


@pytest.mark.parametrize(
    "overrides",
    [
        {"account_id": "12345"},
        {"bucket": "Not_A_Bucket"},
        {"prefix": "/titanic-byoc/"},
        {"prefix": "titanic-*"},
        {"name_prefix": "Titanic"},
        {"name_prefix": "titanic*"},
        {"repository": "titanic/*"},
        {"role_name": "role/with/path"},
    ],
)
def test_names_that_would_widen_or_break_the_arns_are_rejected(overrides: dict[str, str]) -> None:
    arguments = vars(DEFAULT_NAMES) | overrides
    with pytest.raises(ValueError):
        iam.DeployNames(**arguments)


def test_cloudformation_template_lints_clean() -> None:
    matches = lint_file(TEMPLATE_PATH, config=ManualArgs(include_checks=["I"]))
    assert [f"{match.rule.id} line {match.linenumber}: {match.message}" for match in matches] == []


def resolve_intrinsics(value: Any, symbols: dict[str, str]) -> Any:
    """Evaluate Ref, Fn::GetAtt and Fn::Sub from the given values; Refs without one are left as they are."""
    if isinstance(value, list):
        return [resolve_intrinsics(item, symbols) for item in value]
    if not isinstance(value, dict):
        return value
    if value.keys() == {"Ref"}:
        return symbols.get(value["Ref"], value)
    if value.keys() == {"Fn::GetAtt"}:
        attribute = value["Fn::GetAtt"]
        return symbols[attribute if isinstance(attribute, str) else ".".join(attribute)]
    if value.keys() == {"Fn::Sub"}:
        assert isinstance(value["Fn::Sub"], str), "only the one-argument form of Fn::Sub is supported"
        return re.sub(r"\$\{([^}]+)\}", lambda match: symbols[match.group(1)], value["Fn::Sub"])
    return {key: resolve_intrinsics(item, symbols) for key, item in value.items()}


@pytest.fixture(scope="module")
def template_resources() -> dict[str, Any]:
    template, errors = decode(str(TEMPLATE_PATH))
    assert not errors
    # Values CloudFormation would substitute for a stack deployed with DEFAULT_NAMES.
    symbols = {
        "AWS::Partition": "aws",
        "AWS::Region": REGION,
        "AWS::AccountId": ACCOUNT_ID,
        "BucketName": BUCKET,
        "ProjectName": EXAMPLE.name,
        "Bucket": BUCKET,
        "Bucket.Arn": f"arn:aws:s3:::{BUCKET}",
        "Repository.Arn": f"arn:aws:ecr:{REGION}:{ACCOUNT_ID}:repository/{EXAMPLE.repository}",
        "ExecutionRole.Arn": f"arn:aws:iam::{ACCOUNT_ID}:role/{EXAMPLE.role_name}",
    }
    return resolve_intrinsics(template["Resources"], symbols)


def test_the_template_takes_the_project_name_and_checks_it_as_the_project_file_does() -> None:
    template, _ = decode(str(TEMPLATE_PATH))
    parameters = template["Parameters"]
    assert set(parameters) == {"ProjectName", "BucketName", "ImageTagMutability", "BucketVersioning"}
    assert "Default" not in parameters["BucketName"] and "Default" not in parameters["ProjectName"]
    assert parameters["ProjectName"]["MaxLength"] == project.MAX_NAME_LENGTH
    assert parameters["ProjectName"]["AllowedPattern"] == f"^{project._NAME.pattern}$"


def test_template_execution_role_matches_rendered_policies(template_resources: dict[str, Any]) -> None:
    role = template_resources["ExecutionRole"]["Properties"]
    (inline_policy,) = role["Policies"]

    assert role["RoleName"] == DEFAULT_NAMES.role_name
    assert inline_policy["PolicyDocument"] == iam.execution_role_policy(DEFAULT_NAMES)
    assert role["AssumeRolePolicyDocument"] == iam.execution_role_trust_policy(DEFAULT_NAMES)


def test_template_operator_policy_matches_rendered_policy(template_resources: dict[str, Any]) -> None:
    operator = template_resources["OperatorPolicy"]
    assert operator["Type"] == "AWS::IAM::ManagedPolicy"
    assert operator["Properties"]["ManagedPolicyName"] == EXAMPLE.operator_policy_name
    assert operator["Properties"]["PolicyDocument"] == iam.operator_policy(DEFAULT_NAMES)


def test_template_bucket_is_encrypted_private_and_retained(template_resources: dict[str, Any]) -> None:
    bucket = template_resources["Bucket"]
    assert bucket["DeletionPolicy"] == "Retain"
    properties = bucket["Properties"]
    (encryption,) = properties["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert encryption["ServerSideEncryptionByDefault"]["SSEAlgorithm"] in {"AES256", "aws:kms"}
    assert properties["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }


def test_template_repository_scans_on_push(template_resources: dict[str, Any]) -> None:
    repository = template_resources["Repository"]["Properties"]
    assert repository["ImageScanningConfiguration"] == {"ScanOnPush": True}
    assert repository["RepositoryName"] == EXAMPLE.repository
    assert repository["ImageTagMutability"] == {"Ref": "ImageTagMutability"}


def test_template_outputs() -> None:
    template, _ = decode(str(TEMPLATE_PATH))
    expected_outputs = {"BucketName", "RepositoryUri", "ExecutionRoleArn", "OperatorPolicyArn"}
    assert set(template["Outputs"]) == expected_outputs


def test_the_committed_policies_are_what_deploy_iam_renders(tmp_path: Path) -> None:
    """deploy/iam/policies/ is `byoc iam --example --out-dir deploy/iam/policies`: regenerate it after any
    change."""
    rendered = iam.render_documents(iam.example_names(EXAMPLE))
    committed = {
        path.name: path.read_text(encoding="utf-8") for path in sorted(iam.EXAMPLE_DIR.glob("*.json"))
    }
    assert sorted(committed) == sorted(rendered)
    iam.write_documents(rendered, tmp_path)
    for name, text in committed.items():
        assert text == (tmp_path / name).read_text(encoding="utf-8"), (
            f"deploy/iam/policies/{name} is out of date: "
            "run `byoc iam --example --out-dir deploy/iam/policies`"
        )
    assert iam_command.main(["--example", "--out-dir", str(tmp_path / "cli")]) == 0
    assert {path.name: path.read_text() for path in (tmp_path / "cli").iterdir()} == committed


# --- CLI ---------------------------------------------------------------------------------------


def test_cli_writes_the_documents(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    exit_code = iam_command.main(
        ["--account-id", ACCOUNT_ID, "--region", REGION, "--bucket", BUCKET, "--out-dir", str(tmp_path)]
    )

    assert exit_code == 0
    written = {path.name: json.loads(path.read_text(encoding="utf-8")) for path in tmp_path.iterdir()}
    assert written == {
        iam.OPERATOR_POLICY_FILENAME: iam.operator_policy(DEFAULT_NAMES),
        iam.EXECUTION_ROLE_POLICY_FILENAME: iam.execution_role_policy(DEFAULT_NAMES),
        iam.EXECUTION_ROLE_TRUST_POLICY_FILENAME: iam.execution_role_trust_policy(DEFAULT_NAMES),
    }
    assert sorted(capsys.readouterr().out.split()) == sorted(str(tmp_path / name) for name in written)


def test_cli_runs_as_a_module(tmp_path: Path) -> None:
    completed = subprocess.run(
        [
            *(sys.executable, "-m", "lightsage_deploy", "iam"),
            *("--account-id", ACCOUNT_ID, "--region", REGION, "--bucket", BUCKET),
            *("--out-dir", str(tmp_path)),
        ],
        cwd=REPOSITORY_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )

    assert completed.returncode == 0, completed.stderr
    assert {path.name for path in tmp_path.iterdir()} == set(iam.render_documents(DEFAULT_NAMES))


def test_cli_prints_the_documents_with_custom_names(capsys: pytest.CaptureFixture[str]) -> None:
    exit_code = iam_command.main(
        [
            *("--account-id", ACCOUNT_ID, "--region", REGION, "--bucket", BUCKET),
            *("--prefix", "teams/ml/titanic", "--repository", "ml/titanic"),
            *("--name-prefix", "tt-exp", "--role-name", "tt-exp-execution"),
        ]
    )

    assert exit_code == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed[iam.OPERATOR_POLICY_FILENAME] == iam.operator_policy(CUSTOM_NAMES)
    assert printed[iam.EXECUTION_ROLE_POLICY_FILENAME] == iam.execution_role_policy(CUSTOM_NAMES)


def test_cli_rejects_an_invalid_account_id(capsys: pytest.CaptureFixture[str]) -> None:
    exit_code = iam_command.main(["--account-id", "not-an-account", "--region", REGION, "--bucket", BUCKET])

    assert exit_code == 2
    assert "account_id" in capsys.readouterr().err
