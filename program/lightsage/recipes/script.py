"""Script mode: a recipe module shipped with the job (the SageMaker SDK's `entry_point` and `source_dir`)
instead of built into the image. `train` and `serve` load it here, the same way.

Where the code comes from, and from nowhere else:
- `train`: the hyperparameters `sagemaker_program` (the module's path inside the source folder) and
  `sagemaker_submit_directory`: the S3 URI of the SDK's sourcedir.tar.gz, downloaded with the job's own
  credentials; /opt/ml/code in SDK local mode with local code (the folder mounted from the host); or a
  .tar.gz in the container (a job with network isolation gets it as its `code` channel).
- `serve`: the environment variables SAGEMAKER_PROGRAM and SAGEMAKER_SUBMIT_DIRECTORY, which
  `Model(entry_point=..., source_dir=...)` sets. The SDK's Model packs the folder into the model archive and
  names /opt/ml/model/code: code runs from there only because the endpoint's configuration names it; the
  model's own files are read as data, and a model folder alone never brings code.

Preparing a source: an archive is unpacked (regular files and folders only, within MAX_* below) into a fresh
temporary folder; a `requirements.txt` beside the module is installed by pip into another fresh folder
(`--prefix`), constrained to the versions of the packages the image has, so it adds packages and never
replaces one. With a `wheels/` folder beside it, pip installs from those wheels only (`--no-index
--find-links wheels`): the way to run without network access. Without network and without wheels, pip's
failure is the job's failure reason, with what to do. The installed packages, then the source folder, go at
the end of sys.path: neither shadows the standard library or the image's packages.

Loading: the module is imported from its file under the name `lightsage_script_recipe`, which no built-in
recipe or library has. It must define exactly one Recipe subclass, whose name is not that of a recipe built
into the image. Its source (`lightsage.recipes.base.RecipeSource`: the module file and requirements.txt, each
with its sha256) goes into the model's manifest; `serve` refuses a model whose recorded source differs from
the one it is given (`lightsage.model.artifact`).
"""

from __future__ import annotations

import importlib.util
import logging
import os
import site
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlparse

from lightsage.contract import hyperparameters as hp
from lightsage.errors import PlatformError
from lightsage.recipes.base import (
    SCRIPT,
    Recipe,
    RecipeError,
    RecipeSource,
    available_recipes,
    check_name,
    recipe_classes,
    sha256,
)

logger = logging.getLogger(__name__)

PROGRAM_HYPERPARAMETER = "sagemaker_program"
SUBMIT_DIRECTORY_HYPERPARAMETER = "sagemaker_submit_directory"
REGION_HYPERPARAMETER = "sagemaker_region"
PROGRAM_VARIABLE = "SAGEMAKER_PROGRAM"
SUBMIT_DIRECTORY_VARIABLE = "SAGEMAKER_SUBMIT_DIRECTORY"
REGION_VARIABLE = "SAGEMAKER_REGION"
# Set by `serve` for its gunicorn workers once it has prepared the source: the site folders its requirements
# went into, separated by os.pathsep (empty: none). A worker then neither downloads nor installs.
PACKAGES_VARIABLE = "LIGHTSAGE_SCRIPT_PACKAGES"
MODULE_NAME = "lightsage_script_recipe"
REQUIREMENTS_FILE = "requirements.txt"
WHEELS_FOLDER = "wheels"
MAX_ARCHIVE_BYTES = 512 * 2**20
MAX_UNPACKED_BYTES = 1024 * 2**20
MAX_FILES = 10_000
PIP_SECONDS = 900
PIP_ERROR_LINES = 6
SHOWN_FILES = 10
_S3_FAULTS = ("InternalError", "ServiceUnavailable", "SlowDown", "RequestTimeout", "Throttling")


class ScriptError(RecipeError):
    """The script-mode source cannot be used: the message names the file, URI or setting, and what to do."""


class SourceUnavailable(PlatformError):
    """S3 did not answer, or failed, while the source was downloaded: another run may go through."""


@dataclass(frozen=True)
class ScriptLocation:
    """Where a job's recipe module is: its path inside the source folder, and that folder (an S3 URI of a
    .tar.gz, a .tar.gz file, or a folder); `given_by` names the settings, for messages."""

    program: str
    submit_directory: str
    region: str | None = None
    given_by: str = "its settings"


def _location(
    program: str, directory: str, region: str | None, names: tuple[str, str], kind: str
) -> ScriptLocation | None:
    """Where `program` and `directory` (the settings `names`) point; None when neither is set."""
    given_by = f"the {kind} {names[0]} and {names[1]}"
    if not program and not directory:
        return None
    if not program or not directory:
        raise ScriptError(
            f"script mode needs both of {given_by}; {names[0] if not program else names[1]} is not set (the "
            "SDK sets both, from entry_point and source_dir)"
        )
    path = PurePosixPath(program)
    if path.is_absolute() or ".." in path.parts or path.suffix != ".py":
        raise ScriptError(
            f"entry point {program!r} ({given_by}) must be the path of a .py file inside the source folder"
        )
    return ScriptLocation(str(path), directory, region or None, given_by)


def location_from_hyperparameters(raw: Mapping[str, Any]) -> ScriptLocation | None:
    """The job's script-mode source, from the keys the SDK adds (JSON-quoted); None for an image recipe."""

    def text(key: str) -> str:
        value = raw.get(key)
        return "" if value is None else hp.unquote(value if isinstance(value, str) else str(value))

    return _location(
        text(PROGRAM_HYPERPARAMETER),
        text(SUBMIT_DIRECTORY_HYPERPARAMETER),
        text(REGION_HYPERPARAMETER),
        (PROGRAM_HYPERPARAMETER, SUBMIT_DIRECTORY_HYPERPARAMETER),
        "hyperparameters",
    )


def location_from_environment(environ: Mapping[str, str] | None = None) -> ScriptLocation | None:
    """The model's script-mode source (SAGEMAKER_PROGRAM, SAGEMAKER_SUBMIT_DIRECTORY); None when unset."""
    environ = os.environ if environ is None else environ
    return _location(
        environ.get(PROGRAM_VARIABLE, "").strip(),
        environ.get(SUBMIT_DIRECTORY_VARIABLE, "").strip(),
        environ.get(REGION_VARIABLE, "").strip(),
        (PROGRAM_VARIABLE, SUBMIT_DIRECTORY_VARIABLE),
        "environment variables",
    )


# -- fetching: an S3 archive, a local archive, or a folder -------------------------------------------------


def _s3_parts(uri: str, given_by: str) -> tuple[str, str]:
    parsed = urlparse(uri)
    key = parsed.path.lstrip("/")
    if not parsed.netloc or not key or key.endswith("/"):
        raise ScriptError(
            f"submit directory {uri} ({given_by}) is not the S3 URI of a .tar.gz, such as the SDK's "
            "s3://BUCKET/JOB/source/sourcedir.tar.gz"
        )
    return parsed.netloc, key


def download(uri: str, destination: Path, region: str | None, given_by: str) -> None:
    """The S3 object at `uri` into `destination`, with the credentials the container has (a job's role)."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    bucket, key = _s3_parts(uri, given_by)
    cannot = f"cannot download the submit directory {uri} ({given_by})"
    try:
        client = boto3.session.Session(region_name=region).client("s3")
        answer = client.get_object(Bucket=bucket, Key=key)
        size = int(answer.get("ContentLength", 0))
        if size > MAX_ARCHIVE_BYTES:
            raise ScriptError(
                f"{cannot}: it is {size:,} bytes, more than the {MAX_ARCHIVE_BYTES:,} script mode takes; "
                "keep data out of source_dir (give it as a channel)"
            )
        with destination.open("wb") as handle:
            for chunk in answer["Body"].iter_chunks(2**20):
                handle.write(chunk)
    except NoCredentialsError:
        raise ScriptError(f"{cannot}: no AWS credentials in the container") from None
    except ClientError as error:
        code = str(error.response.get("Error", {}).get("Code", ""))
        status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        if status >= 500 or code in _S3_FAULTS:
            raise SourceUnavailable(f"{cannot}: S3 answered {code or status}; try again") from None
        hint = {
            "NoSuchKey": "no such object: was it deleted, or is the URI mistyped?",
            "NoSuchBucket": "no such bucket",
            "AccessDenied": "access denied: the job's role needs s3:GetObject on it",
            "403": "access denied: the job's role needs s3:GetObject on it",
            "404": "no such object",
        }.get(code, f"S3 answered {code or status}: {error}")
        raise ScriptError(f"{cannot}: {hint}") from None
    except BotoCoreError as error:
        raise SourceUnavailable(f"{cannot}: {error}") from None


def _member_path(member: tarfile.TarInfo, archive: str) -> PurePosixPath:
    path = PurePosixPath(member.name)
    if path.is_absolute() or ".." in path.parts:
        raise ScriptError(f"{archive} holds {member.name!r}, a path outside the folder it unpacks into")
    return path


def unpack(archive: Path, into: Path, shown_as: str) -> None:
    """The archive's files and folders into `into`; ScriptError naming `shown_as` for anything else: a link,
    a device, a path outside the folder, more than MAX_FILES files or MAX_UNPACKED_BYTES bytes."""
    into.mkdir(parents=True, exist_ok=True)
    files = total = 0
    try:
        with tarfile.open(archive, mode="r:*") as tar:
            for member in tar:
                path = _member_path(member, shown_as)
                if not path.parts:
                    continue
                if member.isdir():
                    (into / path).mkdir(parents=True, exist_ok=True)
                    continue
                if not member.isfile():
                    raise ScriptError(
                        f"{shown_as} holds {member.name!r}, which is not a regular file or folder (a link or "
                        "a device): script mode unpacks files and folders only"
                    )
                files, total = files + 1, total + member.size
                if files > MAX_FILES or total > MAX_UNPACKED_BYTES:
                    raise ScriptError(
                        f"{shown_as} holds more than {MAX_FILES} files or {MAX_UNPACKED_BYTES // 2**20} MiB: "
                        "keep data out of source_dir (give it as a channel)"
                    )
                extracted = tar.extractfile(member)
                if extracted is None:
                    continue
                (into / path).parent.mkdir(parents=True, exist_ok=True)
                (into / path).write_bytes(extracted.read())
    except (tarfile.TarError, EOFError, OSError) as error:
        raise ScriptError(f"cannot unpack the submit directory {shown_as}: {error}") from None


def fetch(location: ScriptLocation, work_dir: Path) -> Path:
    """A local folder holding the source: the folder itself, or the archive unpacked into `work_dir`."""
    where = location.submit_directory
    if where.startswith("s3://"):
        archive = work_dir / "sourcedir.tar.gz"
        download(where, archive, location.region, location.given_by)
        code_dir = work_dir / "code"
        unpack(archive, code_dir, where)
        archive.unlink()
        return code_dir
    if "://" in where and not where.startswith("file://"):
        raise ScriptError(
            f"submit directory {where} ({location.given_by}) is neither an s3:// URI nor a path in the "
            "container"
        )
    path = Path(where.removeprefix("file://"))
    if path.is_dir():
        return path
    if path.is_file():
        code_dir = work_dir / "code"
        unpack(path, code_dir, where)
        return code_dir
    raise ScriptError(f"submit directory {where} ({location.given_by}) does not exist in the container")


# -- requirements --------------------------------------------------------------------------------------------


def image_constraints() -> str:
    """A pip constraints file pinning every package the image has at its version: what a requirements.txt
    installs may add packages, never replace one."""
    pinned: dict[str, str] = {}
    for distribution in metadata.distributions():
        name = distribution.metadata["Name"]
        if name:
            pinned.setdefault(name.lower().replace("_", "-"), f"{name}=={distribution.version}")
    return "\n".join(sorted(pinned.values())) + "\n"


def _pip_errors(output: str) -> str:
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("ERROR:")] or lines
    return " | ".join(errors[-PIP_ERROR_LINES:])


def install_requirements(code_dir: Path, work_dir: Path, program: str) -> list[Path]:
    """pip installs code_dir/requirements.txt into a fresh prefix; the site folders it made (none without a
    requirements.txt). Offline: from code_dir/wheels only, when that folder exists."""
    requirements = code_dir / REQUIREMENTS_FILE
    if not requirements.is_file():
        return []
    prefix = work_dir / "packages"
    constraints = work_dir / "image-constraints.txt"
    constraints.write_text(image_constraints(), encoding="utf-8")
    wheels = code_dir / WHEELS_FOLDER
    offline = ["--no-index", "--find-links", str(wheels)] if wheels.is_dir() else []
    command = [
        sys.executable, "-m", "pip", "install", "--prefix", str(prefix),
        "--requirement", str(requirements), "--constraint", str(constraints), *offline,
        "--no-input", "--no-cache-dir", "--disable-pip-version-check", "--no-warn-script-location",
        "--progress-bar", "off", "--timeout", "20", "--retries", "2",
    ]  # fmt: skip
    origin = f"the wheels in {WHEELS_FOLDER}/ only (--no-index)" if offline else "the package index"
    logger.info(f"script mode: installing {REQUIREMENTS_FILE} beside {program} from {origin} into {prefix}")
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=PIP_SECONDS, check=False)
    except subprocess.TimeoutExpired:
        raise ScriptError(
            f"installing {REQUIREMENTS_FILE} beside {program} took more than {PIP_SECONDS} s; "
            + _offline_hint()
        ) from None
    if done.returncode != 0:
        for line in (done.stdout + done.stderr).splitlines()[-30:]:
            logger.info(f"pip: {line}")
        hint = (
            f"the wheels in {WHEELS_FOLDER}/ must hold every requirement and each dependency the image "
            "lacks, built for this image's platform and Python"
            if offline
            else _offline_hint()
        )
        raise ScriptError(
            f"installing {REQUIREMENTS_FILE} beside {program} failed: "
            f"{_pip_errors(done.stdout + done.stderr)}. A requirement cannot replace a package the image has "
            f"(lightgbm, pandas, ...): its version stays. {hint}"
        )
    installed = [line for line in done.stdout.splitlines() if line.startswith("Successfully installed")]
    logger.info(f"script mode: {installed[-1] if installed else 'nothing to install: the image has it all'}")
    return site_folders(prefix)


def site_folders(prefix: Path) -> list[Path]:
    """The site folders pip made under `prefix` (lib/pythonX.Y/site-packages, or a distribution's own
    scheme's, such as Debian's local/lib/pythonX.Y/dist-packages)."""
    found = sorted(
        path
        for name in ("site-packages", "dist-packages")
        for path in prefix.glob(f"**/{name}")
        if path.is_dir()
    )
    return [path for path in found if not any(other in path.parents for other in found)]


def _offline_hint() -> str:
    return (
        "pip needs the package index; without network access (network isolation, a VPC without a NAT), "
        f"put the wheels in a {WHEELS_FOLDER}/ folder beside {REQUIREMENTS_FILE} (pip download -r "
        f"{REQUIREMENTS_FILE} -d {WHEELS_FOLDER} --only-binary=:all: --platform manylinux2014_x86_64 "
        f"--python-version {sys.version_info.major}.{sys.version_info.minor})"
    )


# -- preparing and loading ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PreparedSource:
    """A source ready to import: its local folder and the site folders its requirements went into."""

    location: ScriptLocation
    code_dir: Path
    packages: tuple[Path, ...] = ()

    @property
    def requirements(self) -> Path | None:
        path = self.code_dir / REQUIREMENTS_FILE
        return path if path.is_file() else None

    def environment(self) -> dict[str, str]:
        """What a process started from this one needs to load the same source without preparing it again."""
        return {
            PROGRAM_VARIABLE: self.location.program,
            SUBMIT_DIRECTORY_VARIABLE: str(self.code_dir),
            PACKAGES_VARIABLE: os.pathsep.join(map(str, self.packages)),
        }

    def source(self) -> RecipeSource:
        """The module file's and requirements.txt's digests, as the manifest records them."""
        files = {self.location.program: sha256((self.code_dir / self.location.program).read_bytes())}
        if self.requirements is not None:
            files[REQUIREMENTS_FILE] = sha256(self.requirements.read_bytes())
        return RecipeSource(SCRIPT, self.location.program, files)


def _check_program(location: ScriptLocation, code_dir: Path) -> None:
    if (code_dir / location.program).is_file():
        return
    present = sorted(str(path.relative_to(code_dir)) for path in code_dir.rglob("*.py"))
    shown = ", ".join(present[:SHOWN_FILES]) + (", ..." if len(present) > SHOWN_FILES else "")
    raise ScriptError(
        f"entry point {location.program} is not in the submit directory {location.submit_directory} "
        f"({location.given_by}); its Python files: {shown or 'none'}"
    )


def prepare(
    location: ScriptLocation, work_dir: Path | None = None, environ: Mapping[str, str] | None = None
) -> PreparedSource:
    """Fetch the source and install its requirements (into `work_dir`, default a fresh temporary folder);
    nothing to do when PACKAGES_VARIABLE says a parent process did it."""
    environ = os.environ if environ is None else environ
    if PACKAGES_VARIABLE in environ:
        packages = tuple(Path(path) for path in environ[PACKAGES_VARIABLE].split(os.pathsep) if path)
        return PreparedSource(location, Path(location.submit_directory.removeprefix("file://")), packages)
    if work_dir is None:
        work_dir = Path(tempfile.mkdtemp(prefix="lightsage-script-"))
    work_dir.mkdir(parents=True, exist_ok=True)
    code_dir = fetch(location, work_dir)
    _check_program(location, code_dir)
    packages = install_requirements(code_dir, work_dir, location.program)
    return PreparedSource(location, code_dir, tuple(packages))


@dataclass(frozen=True)
class Script:
    """A loaded script-mode recipe: its class, and where it came from."""

    recipe: type[Recipe]
    prepared: PreparedSource
    source: RecipeSource


def _import(prepared: PreparedSource) -> Any:
    program, code_dir = prepared.location.program, prepared.code_dir
    _check_program(prepared.location, code_dir)
    path = code_dir / program
    for folder in (*prepared.packages, code_dir):
        if str(folder) not in sys.path:
            site.addsitedir(str(folder))  # appended: never before the standard library or the image's own
    spec = importlib.util.spec_from_file_location(MODULE_NAME, path)
    if spec is None or spec.loader is None:
        raise ScriptError(f"entry point {program} cannot be loaded as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[MODULE_NAME] = module  # as an import would: dataclasses and typing look it up there
    try:
        spec.loader.exec_module(module)
    except SyntaxError as error:
        sys.modules.pop(MODULE_NAME, None)
        where = Path(error.filename or path)
        shown = where.relative_to(code_dir) if where.is_relative_to(code_dir) else where
        raise ScriptError(
            f"entry point {program}: syntax error in {shown}, line {error.lineno}: {error.msg}"
        ) from None
    except ImportError as error:
        sys.modules.pop(MODULE_NAME, None)
        if isinstance(error, ModuleNotFoundError) and error.name:
            found = (
                f"{REQUIREMENTS_FILE} was found beside it and installed, but does not provide it"
                if prepared.requirements is not None
                else f"no {REQUIREMENTS_FILE} was found beside it: list the package there"
            )
            raise ScriptError(
                f"entry point {program} imports the module {error.name!r}, which is not installed ({found})"
            ) from None
        raise ScriptError(f"entry point {program} cannot be imported: {error}") from None
    except BaseException:
        sys.modules.pop(MODULE_NAME, None)
        raise
    return module


def load(prepared: PreparedSource) -> Script:
    """Import the prepared module; ScriptError unless it defines one Recipe subclass of its own name."""
    module = _import(prepared)
    try:
        recipe = _the_recipe(module, prepared.location.program)
    except BaseException:
        sys.modules.pop(MODULE_NAME, None)
        raise
    script = Script(recipe, prepared, prepared.source())
    logger.info(
        f"script mode: recipe {recipe.name} (version {recipe.version}) from {prepared.location.program} in "
        f"{prepared.location.submit_directory} ({script.source.files[prepared.location.program]})"
    )
    return script


def _the_recipe(module: Any, program: str) -> type[Recipe]:
    found = recipe_classes(module)
    if len(found) != 1:
        named = f" ({', '.join(cls.__name__ for cls in found)})" if found else ""
        raise ScriptError(
            f"entry point {program} defines {len(found)} Recipe subclasses{named}: a recipe module defines "
            "exactly one class deriving lightsage.recipes.base.Recipe"
        )
    recipe = found[0]
    try:
        name = check_name(getattr(recipe, "name", None), f"entry point {program}, class {recipe.__name__}")
    except RecipeError as error:
        raise ScriptError(str(error)) from None
    if name in available_recipes():
        raise ScriptError(
            f"entry point {program} defines recipe {name!r}, the name of a recipe built into the image: give "
            "the script-mode recipe a name of its own"
        )
    version = getattr(recipe, "version", None)
    if isinstance(version, bool) or not isinstance(version, int):
        raise ScriptError(
            f"entry point {program}: recipe {name!r} has version {version!r}, not a whole number"
        )
    return recipe


def from_hyperparameters(raw: Mapping[str, Any], work_dir: Path | None = None) -> Script | None:
    """The recipe a training job ships, or None when it names no script-mode source."""
    location = location_from_hyperparameters(raw)
    return None if location is None else load(prepare(location, work_dir))


def from_environment(environ: Mapping[str, str] | None = None) -> Script | None:
    """The recipe an endpoint is configured with, or None when SAGEMAKER_PROGRAM is unset."""
    location = location_from_environment(environ)
    return None if location is None else load(prepare(location, environ=environ))


def from_folder(folder: Path, program: str) -> Script:
    """A source folder on this machine, loaded as it is (its requirements not installed): how the deploy side
    reads the recipe it is about to ship."""
    location = _location(program, str(folder), None, ("entry point", "recipe folder"), "recipe's")
    if location is None or not folder.is_dir():
        raise ScriptError(f"recipe folder {folder} is not a folder")
    return load(PreparedSource(location, folder))
