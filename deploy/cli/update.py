"""`byoc deploy --update ENDPOINT`: the guarded rollout part of `byoc deploy` (see its help)."""

from __future__ import annotations

import argparse

from lightsage_deploy.aws import dry_run
from lightsage_deploy.cli import arguments as cli
from lightsage_deploy.errors import DeployError
from lightsage_deploy.project import project
from lightsage_deploy.steps import registry, rollout
from lightsage_deploy.steps.endpoint import model_data_of_job
from lightsage_deploy.targets import target as settings

# Stand-ins for what a dry run does not look up; its AWS CLI takes them from shell variables.
PACKAGE_VARIABLE = "MODEL_PACKAGE_ARN"
MODEL_DATA_VARIABLE = "MODEL_DATA"
LOCAL_MODE_CANNOT = (
    "SageMaker local mode cannot update endpoints: it has no UpdateEndpoint, deployment guardrails or "
    "CloudWatch alarms. Leave out --local: with --dry-run the requests are built, checked and printed as AWS "
    "CLI commands, and nothing is sent"
)


def placeholder_package(region: str, group: str) -> str:
    return f"arn:aws:sagemaker:{region}:{dry_run.PLACEHOLDER_ACCOUNT}:model-package/{group}/99999"


def traffic_of(arguments: argparse.Namespace) -> tuple[rollout.Traffic, int | None]:
    if arguments.canary is not None:
        return rollout.Traffic.CANARY, arguments.canary
    if arguments.linear is not None:
        return rollout.Traffic.LINEAR, arguments.linear
    return rollout.Traffic.ALL_AT_ONCE, None


def options_from(arguments: argparse.Namespace, the_project: project.Project) -> rollout.RolloutOptions:
    traffic, percent = traffic_of(arguments)
    return rollout.RolloutOptions(
        project=the_project,
        endpoint_name=arguments.update,
        traffic=traffic,
        percent=percent,
        bake_seconds=arguments.bake,
        termination_wait_seconds=arguments.termination_wait,
        max_execution_seconds=arguments.max_execution_timeout,
        max_error_rate=arguments.max_error_rate,
        max_latency_ms=arguments.max_latency_ms,
        extra_alarms=tuple(arguments.alarm),
    )


def dry_run_model(
    arguments: argparse.Namespace, target: settings.DeployTarget, the_project: project.Project
) -> tuple[rollout.NewModel, dict[str, str], list[str]]:
    """The new model with placeholders for what only AWS knows, the variables that replace them in the AWS
    CLI, and the lookups that set those variables."""
    image_uri, role = cli.image_and_role_from(arguments, target, the_project, placeholders=True)
    group = the_project.model_package_group
    if arguments.approved:
        placeholder = placeholder_package(target.region, group)
        lookup = [
            f"# the newest Approved version of {group} (SortOrder Descending: the API lists oldest first)",
            f"{PACKAGE_VARIABLE}=$(aws sagemaker list-model-packages --model-package-group-name {group} "
            "--model-approval-status Approved --sort-by CreationTime --sort-order Descending --max-items 1 "
            "--query 'ModelPackageSummaryList[0].ModelPackageArn' --output text)",
        ]
        model = rollout.NewModel(
            {"ModelPackageName": placeholder}, role, f"the newest Approved version of {group}"
        )
        return model, {placeholder: PACKAGE_VARIABLE}, lookup
    if arguments.training_job:
        placeholder = f"s3://{dry_run.PLACEHOLDER_ACCOUNT}-placeholder/{arguments.training_job}/model.tar.gz"
        lookup = [
            f"{MODEL_DATA_VARIABLE}=$(aws sagemaker describe-training-job --training-job-name "
            f"{arguments.training_job} --query ModelArtifacts.S3ModelArtifacts --output text)"
        ]
        model = rollout.NewModel(
            {"Image": image_uri, "ModelDataUrl": placeholder}, role, arguments.training_job
        )
        return model, {placeholder: MODEL_DATA_VARIABLE}, lookup
    model = rollout.NewModel(
        {"Image": image_uri, "ModelDataUrl": arguments.model_data}, role, arguments.model_data
    )
    return model, {}, []


def live_model(
    arguments: argparse.Namespace, target: settings.DeployTarget, the_project: project.Project
) -> rollout.NewModel:
    role = cli.role_for(target, arguments.role, the_project)
    if arguments.approved:
        client = target.client("sagemaker")
        version = registry.newest_approved(client, the_project.model_package_group)
        description = f"version {version.number} of {the_project.model_package_group}"
        return rollout.NewModel({"ModelPackageName": version.arn}, role, description)
    image_uri, role = cli.image_and_role_from(arguments, target, the_project)
    model_data = arguments.model_data or model_data_of_job(target, arguments.training_job)
    return rollout.NewModel({"Image": image_uri, "ModelDataUrl": model_data}, role, model_data)


def main(arguments: argparse.Namespace) -> int:
    if arguments.local:
        raise DeployError(LOCAL_MODE_CANNOT)
    if arguments.keep or arguments.kind != "realtime" or arguments.endpoint_name:
        raise DeployError(
            "--update changes a live endpoint: --keep, --serverless, --async, --endpoint-name do not apply"
        )
    if arguments.approved and arguments.image_uri:
        raise DeployError(
            "--approved rolls out the image the version was registered with: leave out --image-uri"
        )
    the_project = project.load()
    options = options_from(arguments, the_project)
    rollout.check_options(options)
    with cli.target_from(arguments, the_project, sdk_telemetry=not arguments.dry_run) as target:
        if arguments.dry_run:
            model, variables, lookups = dry_run_model(arguments, target, the_project)
            fleet = rollout.Fleet(
                variant_name=arguments.variant_name,
                instance_type=arguments.instance_type or settings.DEFAULT_INSTANCE_TYPE,
                instance_count=arguments.instance_count,
            )
            plan = rollout.plan_rollout(target, options, fleet, model, variables=variables, lookups=lookups)
            print(
                f"# rollout of {model.description} to endpoint {options.endpoint_name}, assumed to serve "
                f"variant {fleet.variant_name} on {fleet.instance_count} x {fleet.instance_type} "
                "(--variant-name, --instance-type, --instance-count; a real run reads them from the "
                "endpoint); every request below was checked, none was sent"
            )
            print("\n".join(plan.cli_lines()))
            return 0
        fleet = rollout.current_fleet(target.client("sagemaker"), options.endpoint_name)
        model = live_model(arguments, target, the_project)
        plan = rollout.plan_rollout(target, options, fleet, model)
        result = rollout.roll_out(target, plan)
    if not result.rolled_out:
        raise DeployError(
            f"endpoint {result.endpoint_name} was rolled back ({result.status}, config "
            f"{result.config_name}): {result.failure or 'a rollback alarm fired'}; "
            "the new model and config were deleted"
        )
    print(f"endpoint {result.endpoint_name} now serves {model.description} (config {result.config_name})")
    print(f"rollback alarms: {', '.join(plan.alarm_names)} (`byoc cleanup` deletes them)")
    return 0
