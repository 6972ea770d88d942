"""Least-privilege IAM policy documents for the deploy path, scoped to the project's names.

Three documents are rendered from the deployment names (all derived from the project name, see
``DeployNames.for_project``):

* the operator policy, for the human or CI identity that pushes the image, uploads data,
  starts SageMaker jobs and passes the execution role;
* the execution role policy, for the role that SageMaker assumes while running those jobs;
* the execution role trust policy, which lets only SageMaker assume that role.

``deploy/iam/cloudformation.yaml`` grants the same statements, and ``deploy/iam/policies/`` holds the
documents rendered for the example account (``--example``); the tests keep all three in step.

Usage::

    byoc iam --account-id 123456789012 --region us-east-1 --bucket my-bucket [--out-dir DIR]
    byoc iam --example --out-dir deploy/iam/policies
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from lightsage_deploy.cli import arguments as cli
from lightsage_deploy.iam import policies
from lightsage_deploy.iam.policies import (
    DEFAULT_PARTITION,
    EXAMPLE_ACCOUNT_ID,
    EXAMPLE_BUCKET,
    EXAMPLE_REGION,
    DeployNames,
)
from lightsage_deploy.project import project

COMMAND = "iam"


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    parser = cli.new_parser(prog, COMMAND, __doc__)
    parser.add_argument("--account-id", help=f"12 digits (--example: {EXAMPLE_ACCOUNT_ID})")
    parser.add_argument("--region", help=f"e.g. us-east-1 (--example: {EXAMPLE_REGION})")
    parser.add_argument("--bucket", help=f"the project's bucket (--example: {EXAMPLE_BUCKET})")
    parser.add_argument(
        "--example",
        action="store_true",
        help="render for the example account, region and bucket: the documents committed in "
        "deploy/iam/policies/",
    )
    parser.add_argument("--prefix", help="S3 key prefix for data and artifacts (default: the project name)")
    parser.add_argument("--repository", help="ECR repository name (default: the project name)")
    parser.add_argument("--name-prefix", help="prefix of SageMaker names (default: the project name)")
    parser.add_argument(
        "--role-name", help="SageMaker execution role name (default: PROJECT-sagemaker-execution)"
    )
    parser.add_argument("--partition", default=DEFAULT_PARTITION)
    parser.add_argument(
        "--no-source-account-condition",
        dest="restrict_source_account",
        action="store_false",
        help="leave the aws:SourceAccount condition out of the trust policy",
    )
    parser.add_argument(
        "--out-dir",
        type=Path,
        help="write one JSON file per document here instead of printing them",
    )
    return parser


def parse_arguments(argv: Sequence[str] | None, prog: str | None) -> argparse.Namespace:
    """The options, with --example's account, region and bucket filled in where none is given."""
    parser = build_parser(prog)
    arguments = parser.parse_args(argv)
    if arguments.example:
        arguments.account_id = arguments.account_id or EXAMPLE_ACCOUNT_ID
        arguments.region = arguments.region or EXAMPLE_REGION
        arguments.bucket = arguments.bucket or EXAMPLE_BUCKET
    missing = [flag for flag in ("account_id", "region", "bucket") if not getattr(arguments, flag)]
    if missing:
        parser.error(f"missing {', '.join('--' + flag.replace('_', '-') for flag in missing)} (or --example)")
    return arguments


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    args = parse_arguments(argv, prog)
    try:
        defaults = DeployNames.for_project(
            project.load(), args.account_id, args.region, args.bucket, args.partition
        )
        names = DeployNames(
            account_id=args.account_id,
            region=args.region,
            bucket=args.bucket,
            prefix=args.prefix or defaults.prefix,
            repository=args.repository or defaults.repository,
            name_prefix=args.name_prefix or defaults.name_prefix,
            role_name=args.role_name or defaults.role_name,
            partition=args.partition,
        )
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    documents = policies.render_documents(names, restrict_source_account=args.restrict_source_account)
    if args.out_dir is None:
        print(json.dumps(documents, indent=2))
    else:
        for path in policies.write_documents(documents, args.out_dir):
            print(path)
    return 0
