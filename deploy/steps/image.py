"""The image: build it from the installed package's build context on the base `make build` chooses (`byoc
build`, a local tag), or build it for linux/amd64, tag it with its source and `latest`, and push it to ECR
(creating the repository, logging docker in) or to a plain registry (`byoc push`).

The source tag names what the image is built from: the git commit (with -dirty) when the package is an
editable install of a checkout, else the package version and the first 12 hex digits of the build context's
sha256 (`0.1.0-3fa2b4c5d6e7`)."""

from __future__ import annotations

import json
import logging
import re
import subprocess
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from lightsage_deploy.aws.ecr import docker_login_to_ecr, ensure_ecr_repository
from lightsage_deploy.errors import DeployError, PlatformError
from lightsage_deploy.targets import base_image
from lightsage_deploy.targets import target as settings
from lightsage_deploy.targets.context import BuildContext, build_context, package_version
from lightsage_deploy.targets.docker import docker, docker_streaming, ensure_docker_running

DEFAULT_PLATFORM = "linux/amd64"
# The local image `byoc build` and `make build` make, and `byoc local` runs: one generic image for every
# project (the project's recipe and data reach it at run time).
LOCAL_IMAGE = "lightsage:latest"
BUILD_TIMEOUT_SECONDS = 1800
PUSH_TIMEOUT_SECONDS = 900
_PUSHED_DIGEST = re.compile(r"digest: (sha256:[0-9a-f]{64})")
_LOOPBACK_HOSTS = ("localhost", "127.0.0.1")
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PushedImage:
    repository_uri: str
    tags: tuple[str, ...]
    digest: str

    @property
    def image_uri(self) -> str:
        return f"{self.repository_uri}:{self.tags[0]}"

    @property
    def digest_uri(self) -> str:
        return f"{self.repository_uri}@{self.digest}"


@dataclass(frozen=True)
class PushOptions:
    repository: str
    tags: tuple[dict[str, str], ...] = ()
    registry: str | None = None
    immutable_tags: bool = False
    source_image: str | None = None
    platform: str = DEFAULT_PLATFORM
    build_args: tuple[str, ...] = ()
    build_flags: tuple[str, ...] = ()
    # The folder to build; None: the installed package's build context.
    context: Path | None = None
    extra_tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class BuildOptions:
    tag: str = LOCAL_IMAGE
    # None: the Docker engine's own platform, as `make build` builds.
    platform: str | None = None
    build_args: tuple[str, ...] = ()
    build_flags: tuple[str, ...] = ()
    # The folder to build; None: the installed package's build context.
    context: Path | None = None


@dataclass(frozen=True)
class BuiltImage:
    tag: str
    image_id: str
    context: Path


def context_of(folder: Path | None) -> BuildContext:
    return build_context() if folder is None else BuildContext(folder)


def commit_tag(repository_root: Path) -> str:
    """The short commit of HEAD, with -dirty when tracked or untracked files differ from it."""

    def git(*arguments: str) -> str:
        try:
            result = subprocess.run(
                ["git", "-C", str(repository_root), *arguments],
                capture_output=True,
                text=True,
                timeout=30,
                check=True,
            )
        except FileNotFoundError:
            raise DeployError("git is not installed: it names the image tag") from None
        except subprocess.CalledProcessError as error:
            raise DeployError(f"`git {' '.join(arguments)}` failed: {error.stderr.strip()}") from None
        return result.stdout.strip()

    commit = git("rev-parse", "--short", "HEAD")
    return f"{commit}-dirty" if git("status", "--porcelain") else commit


def source_tag(context: BuildContext) -> str:
    """The commit of a checkout, else the package version and the build context's digest."""
    if context.checkout:
        return commit_tag(context.folder)
    return f"{package_version()}-{context.digest()[:12]}"


def image_tags(commit: str, immutable: bool, now: datetime | None = None) -> tuple[str, ...]:
    """Tags to push: the commit and `latest`. Immutable repositories refuse to move a tag, so there `latest`
    is skipped and a dirty tree's tag gets a UTC timestamp to stay unique."""
    if not immutable:
        return (commit, "latest")
    if commit.endswith("-dirty"):
        stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
        return (f"{commit}-{stamp}",)
    return (commit,)


def check_registry_answers(registry: str) -> None:
    """A registry on this machine must answer its /v2/ API before we push to it."""
    host = registry.split(":", 1)[0]
    if host not in _LOOPBACK_HOSTS:
        return
    url = f"http://{registry}/v2/"
    try:
        with urllib.request.urlopen(url, timeout=5):
            return
    except urllib.error.HTTPError as error:
        if error.code == 401:
            raise DeployError(
                f"the registry at {registry} demands a login: its config has an auth block "
                "(start the one from `byoc offline up` instead)"
            ) from None
        raise PlatformError(f"the registry at {registry} answered {url} with HTTP {error.code}") from None
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise DeployError(
            f"the registry at {registry} is not reachable ({reason}): start it with `byoc offline up`"
        ) from None


def base_build_options(build_args: Sequence[str]) -> list[str]:
    """The base image's `docker build` options, chosen as `make build` chooses them (a Docker engine is
    started first where the script can); a --build-arg BASE_IMAGE=... is used as it is."""
    given = [arg.partition("=")[2] for arg in build_args if arg.startswith("BASE_IMAGE=")]
    return base_image.build_options(given[-1] if given else None)


def build_image(
    tag: str,
    folder: Path,
    options: PushOptions | BuildOptions,
    base_options: Sequence[str],
) -> None:
    """`docker build` of `folder` from the chosen base; the caller's flags come last, so they win."""
    platform = ["--platform", options.platform] if options.platform else []
    arguments = ["build", *platform, "--tag", tag, *base_options]
    for build_arg in options.build_args:
        if not build_arg.startswith("BASE_IMAGE="):
            arguments += ["--build-arg", build_arg]
    arguments += [*options.build_flags, str(folder)]
    logger.info("building %s: docker %s", tag, " ".join(arguments))
    docker_streaming(*arguments, timeout=BUILD_TIMEOUT_SECONDS)


def build_local_image(options: BuildOptions) -> BuiltImage:
    """What `byoc build` does: the image from the installed package's build context, tagged locally."""
    context = context_of(options.context)
    base_options = base_build_options(options.build_args)  # starts a Docker engine first where it can
    ensure_docker_running()
    build_image(options.tag, context.folder, options, base_options)
    image_id = docker("image", "inspect", options.tag, "--format", "{{.Id}}").stdout.strip()
    return BuiltImage(tag=options.tag, image_id=image_id, context=context.folder)


def check_platform(image: str, platform: str) -> None:
    """SageMaker runs linux/amd64: refuse to push an image built for anything else."""
    inspected = docker("image", "inspect", image, "--format", "{{.Os}}/{{.Architecture}}", check=False)
    if inspected.returncode != 0:
        raise DeployError(
            f"there is no local image {image}: build it, or name another one with --source-image"
        )
    found = inspected.stdout.strip()
    if found != platform:
        raise DeployError(
            f"{image} is built for {found}, not {platform}: rebuild it with --platform {platform}"
        )


def pushed_digest(repository_uri: str, push_output: str, reference: str) -> str:
    """The manifest digest `docker push` reports, else the image's RepoDigests entry for this repository."""
    found = _PUSHED_DIGEST.search(push_output)
    if found:
        return found.group(1)
    inspected = docker("image", "inspect", reference, "--format", "{{json .RepoDigests}}").stdout
    for entry in json.loads(inspected or "[]") or []:
        name, _, digest = str(entry).partition("@")
        if name == repository_uri:
            return digest
    raise PlatformError(f"pushed {reference} but could not read its digest")


def push_tags(source_image: str, repository_uri: str, tags: Sequence[str]) -> PushedImage:
    digest = ""
    for tag in tags:
        reference = f"{repository_uri}:{tag}"
        docker("tag", source_image, reference)
        output = docker_streaming("push", reference, timeout=PUSH_TIMEOUT_SECONDS)
        digest = pushed_digest(repository_uri, output, reference)
    return PushedImage(repository_uri=repository_uri, tags=tuple(tags), digest=digest)


def push_image(target: settings.DeployTarget, options: PushOptions) -> PushedImage:
    """What the CLI does: resolve the registry, build unless a source image is given, tag, push."""
    # Before anything else: the script starts a Docker engine where it can, as for `make build`.
    base_options = base_build_options(options.build_args) if options.source_image is None else []
    ensure_docker_running()
    registry = options.registry or (target.local.registry if target.local is not None else None)
    if registry is not None:
        check_registry_answers(registry)
        repository_uri = f"{registry}/{options.repository}"
    else:
        ecr = target.client("ecr")
        repository_uri = ensure_ecr_repository(ecr, options.repository, options.immutable_tags, options.tags)
        docker_login_to_ecr(ecr)
    context = context_of(options.context)
    tags = (*image_tags(source_tag(context), options.immutable_tags), *options.extra_tags)
    source_image = options.source_image
    if source_image is None:
        source_image = f"{options.repository}:{tags[0]}"
        build_image(source_image, context.folder, options, base_options)
    check_platform(source_image, options.platform)
    return push_tags(source_image, repository_uri, tags)
