"""List the model registry's versions of the project, and approve or reject one.

examples:
  byoc models [--local]                               # version, status, created, objective metric
  byoc models approve latest [--local] [--description TEXT]
  byoc models approve 3
  byoc models reject 2 --description "worse on last week's data"

The versions live in the model package group named after the project; `byoc pipeline` registers each model
that passes its quality gate there as PendingManualApproval. `byoc deploy --approved` deploys the newest
Approved one. --local reads and writes moto's model registry on the offline stand-ins (`byoc offline up`).
The same with the AWS CLI:
  aws sagemaker list-model-packages --model-package-group-name GROUP --sort-by CreationTime \\
      --sort-order Ascending
  aws sagemaker update-model-package --model-package-arn ARN --model-approval-status Approved \\
      --approval-description TEXT
`python -m lightsage_deploy models` is the same command.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from datetime import UTC

from lightsage_deploy.cli import arguments as cli
from lightsage_deploy.errors import DeployError
from lightsage_deploy.project import project
from lightsage_deploy.steps import registry

COMMAND = "models"
ACTIONS = {"list": None, "approve": registry.APPROVED, "reject": registry.REJECTED}


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    parser = cli.new_parser(prog, COMMAND, __doc__)
    parser.add_argument("action", nargs="?", default="list", choices=tuple(ACTIONS), help="default: list")
    parser.add_argument(
        "version", nargs="?", help=f"approve and reject: a version number or {registry.LATEST}"
    )
    parser.add_argument("--description", help="approve and reject: why (the version's ApprovalDescription)")
    cli.add_target_arguments(parser)  # --local: moto's model registry on the offline stand-ins
    return parser


def table(versions: Sequence[registry.Version], objectives: Sequence[tuple[str, float | None]]) -> list[str]:
    metric = next((name for name, _ in objectives if name != "objective"), "objective")
    lines = [f"{'version':>7}  {'status':<21}  {'created (UTC)':<19}  {metric}"]
    for version, (_, value) in zip(versions, objectives, strict=True):
        when = version.created if version.created.tzinfo else version.created.replace(tzinfo=UTC)
        created = when.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")
        shown = f"{value:.4f}" if value is not None else "-"
        lines.append(f"{version.number:>7}  {version.status:<21}  {created:<19}  {shown}")
    return lines


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    parser = build_parser(prog)
    arguments = parser.parse_args(argv)
    status = ACTIONS[arguments.action]
    if status is None and (arguments.version or arguments.description):
        parser.error("listing takes no VERSION or --description: `byoc models approve VERSION`")
    if status is not None and not arguments.version:
        parser.error(f"{arguments.action} needs a VERSION: a version number or {registry.LATEST}")
    the_project = project.load()
    group = the_project.model_package_group
    with cli.target_from(arguments, the_project) as target:
        client = target.client("sagemaker")
        where = f"moto at {target.local.s3_endpoint}" if target.local else f"SageMaker, {target.region}"
        if status is not None:
            version = registry.find_version(client, group, arguments.version)
            description = arguments.description or f"{arguments.action}d with byoc models"
            if version.status == status:
                print(f"version {version.number} of {group} is already {status}")
                return 0
            changed = registry.set_status(client, version, status, description)
            print(f"version {changed.number} of {group}: {version.status} -> {changed.status} ({where})")
            if changed.status != status:
                raise DeployError(f"version {changed.number} is still {changed.status}, not {status}")
            return 0
        versions = registry.versions_of(client, group)
        s3 = target.client("s3")
        objectives = [
            registry.objective_of(s3, registry.describe_package(client, version.arn)) for version in versions
        ]
    print(f"model package group {group} ({where}): {len(versions)} version(s)")
    if versions:
        print("\n".join(table(versions, objectives)))
    return 0
