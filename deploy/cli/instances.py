"""Pick the cheapest small training instance type this account may actually start, from Service Quotas.

examples:
  byoc instances [--region us-east-1] [--spot]

New accounts often have a quota of 0 for some training instance types, and a job on such a type fails at
once with ResourceLimitExceeded. This reads the quotas "<type> for training job usage" (and, with --spot,
"<type> for spot training job usage") of a short list of small types, prints them, and names the cheapest
type whose quotas are at least 1. `python -m lightsage_deploy instances` is the same command.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from lightsage_deploy.cli import arguments as cli
from lightsage_deploy.steps import instances
from lightsage_deploy.targets import target as settings

COMMAND = "instances"


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    parser = cli.new_parser(prog, COMMAND, __doc__)
    cli.add_region_argument(parser)
    parser.add_argument(
        "--spot", action="store_true", help="also require a spot training quota of at least 1"
    )
    return parser


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    arguments = build_parser(prog).parse_args(argv)
    with settings.open_target(local=False, region=arguments.region) as target:
        quotas = instances.training_quotas(target.client("service-quotas"), instances.TRAINING_PRICE_PER_HOUR)
    options = instances.candidates(quotas)
    print(f"training quotas in {target.region} (prices: approximate us-east-1 on-demand)")
    print("\n".join(instances.format_table(options)))
    choice = instances.choose(options, arguments.spot, target.region)
    print(f"cheapest usable: {choice.instance_type} (use --instance-type {choice.instance_type})")
    return 0
