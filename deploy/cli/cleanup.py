"""Delete what the deploy commands created.

examples:
  byoc cleanup --dry-run                           # list the project's endpoints, configs and models
  byoc cleanup [--base-name NAME | --name NAME ...]
  byoc cleanup --repository                        # also the ECR repository, images and all
  byoc cleanup --bucket my-bucket --bucket-prefix  # also every object under s3://BUCKET/PREFIX/
  byoc cleanup --local [--registry localhost:5000] # the offline stand-ins' leftovers
  byoc cleanup --local --stop-running              # also stop the project's local containers still running
  byoc cleanup --model-registry                    # also every registered version and the group

Real mode deletes the SageMaker endpoints, endpoint configs and models whose names start with the base name
(default: the project name), or exactly the --name values, the rollback alarms `byoc deploy --update` created
on those endpoints, and the project's pipeline (`byoc pipeline`) with its executions; the model registry's
versions only with --model-registry (they are the record of what was approved).

--local removes the exited local-mode containers of this project's runs by this user (the labels byoc.project
and byoc.owner, set on every container of a `--local` run; other containers on the machine, local-mode or not,
are never touched), the SDK's compose network when nothing uses it, the repository's tags in the local
registry and in docker, and the emulated bucket. The project's containers that still run are listed and left
running unless --stop-running is given. moto cannot delete model packages: offline versions stay on the moto
server until `byoc offline down`.
`python -m lightsage_deploy cleanup` is the same command.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from lightsage_deploy.aws.s3 import delete_prefix
from lightsage_deploy.cli import arguments as cli
from lightsage_deploy.errors import DeployError
from lightsage_deploy.project import project
from lightsage_deploy.steps import cleanup

COMMAND = "cleanup"


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    parser = cli.new_parser(prog, COMMAND, __doc__)
    cli.add_target_arguments(parser)
    cli.add_layout_arguments(parser)
    parser.add_argument("--base-name", help="name prefix to delete (default: the project name)")
    parser.add_argument(
        "--name", action="append", default=[], help="delete exactly this endpoint/config/model (repeatable)"
    )
    parser.add_argument(
        "--repository",
        nargs="?",
        const="",
        help="also delete this ECR repository and its images (given bare: the project's repository)",
    )
    parser.add_argument(
        "--bucket-prefix", action="store_true", help="also delete every object under s3://BUCKET/PREFIX/"
    )
    parser.add_argument(
        "--model-registry",
        action="store_true",
        help="also delete every version of the project's model package group, and the group",
    )
    parser.add_argument("--dry-run", action="store_true", help="list the SageMaker resources, delete nothing")
    parser.add_argument(
        "--stop-running",
        action="store_true",
        help="with --local: also stop and remove the project's local-mode containers that still run",
    )
    return parser


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    arguments = build_parser(prog).parse_args(argv)
    the_project = project.load()
    repository = arguments.repository or the_project.repository
    if arguments.stop_running and not arguments.local:
        raise DeployError("--stop-running stops local-mode containers: it goes with --local")
    with cli.target_from(arguments, the_project) as target:
        if target.is_local:
            layout = cli.layout_from(arguments, the_project)
            lines = cleanup.clean_local(
                target, layout.bucket, repository, the_project.name, stop_running=arguments.stop_running
            )
            print("\n".join(lines))
            return 0
        client = target.client("sagemaker")
        base_name = arguments.base_name or the_project.base_job_name
        resources = cleanup.find_sagemaker_resources(client, base_name, arguments.name)
        cloudwatch = target.client("cloudwatch")
        alarms = cleanup.find_rollback_alarms(cloudwatch, base_name)
        if arguments.dry_run:
            for kind, names in vars(resources).items():
                print(f"{kind}: {', '.join(names) or 'none'}")
            print(f"rollback alarms: {', '.join(alarms) or 'none'}")
            print(f"pipeline: {the_project.pipeline_name} (if it exists)")
            return 0
        deleted = cleanup.delete_sagemaker_resources(client, resources)
        print(
            "\n".join(f"deleted {what}" for what in deleted)
            or "no SageMaker endpoints, configs or models found"
        )
        cleanup.delete_alarms(cloudwatch, alarms)
        print(f"deleted {len(alarms)} rollback alarm(s){': ' + ', '.join(alarms) if alarms else ''}")
        found = cleanup.delete_pipeline(client, the_project.pipeline_name)
        print(f"{'deleted' if found else 'there is no'} pipeline {the_project.pipeline_name}")
        if arguments.model_registry:
            for what in cleanup.delete_model_registry(client, the_project.model_package_group):
                print(f"deleted {what}")
        if arguments.repository is not None:
            found = cleanup.delete_ecr_repository(target.client("ecr"), repository)
            print(f"{'deleted' if found else 'there is no'} ECR repository {repository}")
        if arguments.bucket_prefix:
            layout = cli.layout_from(arguments, the_project)
            count = delete_prefix(target.client("s3"), layout.uri())
            print(f"deleted {count} object(s) under {layout.uri()}")
    return 0
