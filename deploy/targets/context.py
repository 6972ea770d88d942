"""The image's build context: what `docker build` reads (the Dockerfile, requirements.txt, program/) and the
script that prepares a build (scripts/ensure-docker.sh, which starts an engine and chooses the base image).

An installed wheel carries it in lightsage_deploy/build_context/, copied from the repository's own files when
the wheel was built (setup.py). An editable install carries no copy: it builds from its checkout, as `make
build` does.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from lightsage_deploy.errors import DeployError

SHIPPED = Path(__file__).resolve().parents[1] / "build_context"
CHECKOUT = Path(__file__).resolve().parents[2]
# Present in every build context; their absence means the folder is not one.
REQUIRED_FILES = (
    "Dockerfile",
    "requirements.txt",
    "program/train",
    "program/serve",
    "scripts/ensure-docker.sh",
)
DISTRIBUTION = "lightsage"
# Not part of what the image is built from: bytecode the installer or Python wrote (.dockerignore skips it).
_NOT_SOURCE = ("__pycache__",)


@dataclass(frozen=True)
class BuildContext:
    folder: Path
    # True for a source checkout (an editable install): the image's tag is then its git commit.
    checkout: bool = False

    @property
    def ensure_docker_script(self) -> Path:
        return self.folder / "scripts" / "ensure-docker.sh"

    def files(self) -> list[Path]:
        """The context's files, bytecode aside, sorted."""
        return sorted(
            path
            for path in self.folder.rglob("*")
            if path.is_file()
            and not any(part in _NOT_SOURCE for part in path.parts)
            and path.suffix != ".pyc"
        )

    def digest(self) -> str:
        """sha256 of every file's relative path, executable bit and bytes: what the image is built from."""
        total = hashlib.sha256()
        for path in self.files():
            executable = path.stat().st_mode & 0o111 != 0
            total.update(f"{path.relative_to(self.folder).as_posix()}\0{int(executable)}\0".encode())
            total.update(hashlib.sha256(path.read_bytes()).digest())
        return total.hexdigest()


def is_context(folder: Path) -> bool:
    return all((folder / name).is_file() for name in REQUIRED_FILES)


def build_context() -> BuildContext:
    """The installed package's own build context, else (an editable install) its checkout's."""
    if is_context(SHIPPED):
        return BuildContext(SHIPPED)
    if is_context(CHECKOUT) and (CHECKOUT / "deploy" / "__init__.py").is_file():
        return BuildContext(CHECKOUT, checkout=True)
    raise DeployError(
        f"this installation of {DISTRIBUTION} has no image build context: neither {SHIPPED} nor a source "
        f"checkout at {CHECKOUT} holds {', '.join(REQUIRED_FILES)}. Reinstall it (pip install lightsage, or "
        "pip install a clone of its repository)"
    )


def package_version() -> str:
    try:
        return metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return "0+unknown"
