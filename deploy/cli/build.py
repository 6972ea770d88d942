"""Build the image on this machine from what the installed package ships, for `byoc local`.

examples:
  byoc build
  byoc build --tag my-team/lightsage:dev
  byoc build --build-arg BASE_IMAGE=python:3.12-slim --platform linux/amd64

The build context (Dockerfile, requirements.txt, program/) is the installed package's own copy of the
repository's files, or the checkout itself for an editable install. The image is generic: the same for
every project, whose recipe and data reach it when it runs, so no project file is needed. The base image is
chosen as `make build` chooses it (scripts/ensure-docker.sh, which also starts a Docker engine where it
can): --build-arg BASE_IMAGE=... when given, else python:3.12-slim when present or pullable, else the local
base byoc-base:bookworm (built with debootstrap where it can be) with --network host, so a machine without
registry access still builds. `python -m lightsage_deploy build` is the same command.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from lightsage_deploy.cli import arguments as cli
from lightsage_deploy.steps import image
from lightsage_deploy.steps.image import LOCAL_IMAGE, BuildOptions

COMMAND = "build"


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    parser = cli.new_parser(prog, COMMAND, __doc__)
    parser.add_argument("--tag", default=LOCAL_IMAGE, help="the image's local tag (default: %(default)s)")
    cli.add_build_arguments(parser.add_argument_group("building"), platform=None)
    return parser


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    arguments = build_parser(prog).parse_args(argv)
    built = image.build_local_image(
        BuildOptions(
            tag=arguments.tag,
            platform=arguments.platform,
            build_args=tuple(arguments.build_arg),
            build_flags=cli.build_flags_from(arguments),
        )
    )
    print(f"image:   {built.tag}")
    print(f"id:      {built.image_id}")
    print(f"context: {built.context}")
    local = "byoc local" if built.tag == LOCAL_IMAGE else f"byoc local --image {built.tag}"
    print(f"next:    {local}  (inside a project folder: train, serve and predict on this machine)")
    return 0
