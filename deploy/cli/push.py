"""Build the image for linux/amd64, tag it with its source and `latest`, and push it.

examples:
  byoc push [--region us-east-1] [--repository NAME] [--immutable-tags]
  byoc push --local --build-arg BASE_IMAGE=my-base:tag
  byoc push --local --no-build --source-image my-image:dev

The base image is chosen as `make build` chooses it (scripts/ensure-docker.sh): --build-arg BASE_IMAGE=...
when given, else python:3.12-slim when present or pullable, else the local base byoc-base:bookworm (built
with debootstrap where it can be) with --network host.

Real mode creates the ECR repository (default: the project name) when it is missing (scan on push), logs
docker in with an ECR authorization token (`aws ecr get-login-password | docker login`) and pushes there.
--local (or --registry HOST:PORT) pushes to that registry and makes no AWS call. The image is built from the
installed package's build context, like `byoc build`; its tag names that source: the package version and a
digest of the context (0.1.0-3fa2b4c5d6e7), or, for an editable install of a checkout, the short commit with
-dirty when the work tree has changes. Prints the image URI and the pushed digest; jobs should use the digest
URI, which names exactly what was pushed. `python -m lightsage_deploy push` is the same command.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from lightsage_deploy.cli import arguments as cli
from lightsage_deploy.errors import DeployError
from lightsage_deploy.project import project
from lightsage_deploy.steps import image
from lightsage_deploy.steps.image import DEFAULT_PLATFORM, PushOptions

COMMAND = "push"


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    parser = cli.new_parser(prog, COMMAND, __doc__)
    cli.add_target_arguments(parser)
    cli.add_repository_argument(parser, "repository name")
    parser.add_argument(
        "--immutable-tags",
        action="store_true",
        help="create the ECR repository with immutable tags (then `latest` is not pushed)",
    )
    parser.add_argument("--tag", dest="extra_tags", action="append", default=[], help="another tag to push")
    build = parser.add_argument_group("building")
    build.add_argument("--no-build", action="store_true", help="push --source-image instead of building")
    build.add_argument("--source-image", help="a local image to push (with --no-build), e.g. my-image:dev")
    cli.add_build_arguments(build, DEFAULT_PLATFORM)
    return parser


def options_from(arguments: argparse.Namespace, the_project: project.Project) -> PushOptions:
    if arguments.no_build != bool(arguments.source_image):
        raise DeployError("--no-build and --source-image go together: --no-build --source-image IMAGE")
    return PushOptions(
        repository=cli.repository_from(arguments, the_project),
        tags=tuple(the_project.tags),
        registry=arguments.registry,
        immutable_tags=arguments.immutable_tags,
        source_image=arguments.source_image,
        platform=arguments.platform,
        build_args=tuple(arguments.build_arg),
        build_flags=cli.build_flags_from(arguments),
        extra_tags=tuple(arguments.extra_tags),
    )


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    arguments = build_parser(prog).parse_args(argv)
    the_project = project.load()
    options = options_from(arguments, the_project)
    with cli.target_from(arguments, the_project) as target:
        pushed = image.push_image(target, options)
    print(f"image:  {pushed.image_uri}")
    print(f"tags:   {', '.join(pushed.tags)}")
    print(f"digest: {pushed.digest}")
    print(f"pinned: {pushed.digest_uri}")
    return 0
