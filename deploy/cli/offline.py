"""Offline stand-ins for ECR and S3: Debian's docker-registry and moto_server, both on 127.0.0.1.

examples:
  byoc offline up     [--state-dir .offline] [--registry-port 5000] [--s3-port 9000]
  byoc offline status [--state-dir .offline]
  byoc offline down   [--state-dir .offline]

`up` starts both in the background, waits until each answers, and records their PIDs and ports in the state
folder (which also holds the registry's storage and both logs); `down` stops them. Nothing listens beyond
127.0.0.1. Then pass --local to the other commands. Tests use `OfflineServices` as a context manager.
`python -m lightsage_deploy offline` is the same command.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from lightsage_deploy.cli import arguments as cli
from lightsage_deploy.targets.offline import (
    DEFAULT_REGISTRY_PORT,
    DEFAULT_S3_PORT,
    DEFAULT_STATE_DIR,
    OfflineServices,
    usage_hint,
)

COMMAND = "offline"


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    parser = cli.new_parser(prog, COMMAND, __doc__)
    parser.add_argument("action", choices=("up", "down", "status"))
    parser.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR, help="default: %(default)s")
    parser.add_argument(
        "--registry-port", type=int, default=DEFAULT_REGISTRY_PORT, help="default: %(default)s"
    )
    parser.add_argument("--s3-port", type=int, default=DEFAULT_S3_PORT, help="default: %(default)s")
    return parser


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    arguments = build_parser(prog).parse_args(argv)
    services = OfflineServices(arguments.state_dir, arguments.registry_port, arguments.s3_port)
    if arguments.action == "up":
        for service in services.up():
            print(f"{service.name:<9} {service.health_url:<34} pid {service.pid}")
        print(f"state, logs and registry storage in {services.state_dir}")
        print(usage_hint(services))
    elif arguments.action == "down":
        stopped = services.down()
        print(
            f"stopped {', '.join(stopped)}" if stopped else f"nothing was running from {services.state_dir}"
        )
    else:
        report = services.status()
        if not report:
            print(f"nothing recorded in {services.state_dir}")
            return 1
        for service, state in report:
            print(f"{service.name:<9} {service.health_url:<34} pid {service.pid:<8} {state}")
        return 0 if all(state == "running" for _, state in report) else 1
    return 0
