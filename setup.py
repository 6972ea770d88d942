"""What pyproject.toml cannot declare: which packages, and the image's build context inside the wheel.

- The packages are found, not listed: every package under program/lightsage/ (imported as `lightsage`) and
  under deploy/ (imported as `lightsage_deploy`).
- `byoc build` and `byoc push` build the image from the installed package alone, so the wheel carries the
  build context in lightsage_deploy/build_context/: BUILD_CONTEXT below, copied from the repository's own
  files when the wheel is built (they stay the one source; a test compares the two byte for byte). An
  editable install ships no copy: lightsage_deploy.targets.context then builds from this checkout.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import find_packages, setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
# Import root -> its folder in this repository (also pyproject.toml's package-dir).
PACKAGE_FOLDERS = {"lightsage": "program/lightsage", "lightsage_deploy": "deploy"}
# What `docker build` reads: the Dockerfile, .dockerignore and what it lets in (requirements.txt, program/),
# and the script that starts an engine and chooses the base image, with the one it calls.
BUILD_CONTEXT = (
    "Dockerfile",
    ".dockerignore",
    "requirements.txt",
    "program",
    "scripts/ensure-docker.sh",
    "scripts/setup-docker-engine.sh",
)
CONTEXT_PACKAGE_FOLDER = "build_context"  # inside lightsage_deploy
NOT_CONTEXT = shutil.ignore_patterns("__pycache__", "*.pyc")


def packages() -> list[str]:
    found = []
    for root, folder in PACKAGE_FOLDERS.items():
        found += [root, *(f"{root}.{name}" for name in find_packages(str(ROOT / folder)))]
    return found


class BuildPyWithContext(build_py):
    """build_py, then the build context copied into the built lightsage_deploy package (modes kept)."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        target = Path(self.build_lib) / "lightsage_deploy" / CONTEXT_PACKAGE_FOLDER
        shutil.rmtree(target, ignore_errors=True)
        for name in BUILD_CONTEXT:
            source, copy = ROOT / name, target / name
            copy.parent.mkdir(parents=True, exist_ok=True)
            if source.is_dir():
                shutil.copytree(source, copy, ignore=NOT_CONTEXT)
            else:
                shutil.copy2(source, copy)


setup(packages=packages(), cmdclass={"build_py": BuildPyWithContext})
