"""The distribution as a user gets it: a wheel built the way `pip install <the repository>` builds one, and
installed in a fresh virtualenv (importable as `distsupport`)."""

from __future__ import annotations

import os
import shutil
import site
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

from testsupport import REPOSITORY_ROOT

DISTRIBUTION = "lightsage"


def source_files() -> list[str]:
    """The repository's files as a clone would have them: tracked, or new and not ignored."""
    listed = subprocess.run(
        ["git", "-C", str(REPOSITORY_ROOT), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return sorted(name for name in listed.stdout.split("\0") if name and (REPOSITORY_ROOT / name).is_file())


def copy_of_the_repository(target: Path) -> Path:
    """The source files copied to `target`, modes kept: a build there leaves the work tree untouched."""
    for name in source_files():
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPOSITORY_ROOT / name, target / name)
    return target


def build_wheel(work: Path) -> Path:
    """`pip wheel` of a copy of the repository, with the setuptools this environment has (no download)."""
    source = copy_of_the_repository(work / "source")
    out = work / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "--wheel-dir",
         str(out), str(source)],
        check=True, timeout=600, capture_output=True, text=True,
    )  # fmt: skip
    (wheel,) = out.glob(f"{DISTRIBUTION}-*.whl")
    return wheel


def dependency_folders() -> list[str]:
    """Where this environment's packages live: the fresh virtualenv reads its dependencies from there (a CI
    step, .ci/run, proves that `pip install` resolves them from the package index)."""
    folders = [*site.getsitepackages(), *(path for path in sys.path if Path(path).name == "site-packages")]
    return list(dict.fromkeys(folders))


@dataclass(frozen=True)
class Installed:
    wheel: Path
    venv: Path

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    @property
    def byoc(self) -> Path:
        return self.venv / "bin" / "byoc"

    @property
    def site_packages(self) -> Path:
        (folder,) = self.venv.glob("lib/python*/site-packages")
        return folder

    def environment(self, **extra: str) -> dict[str, str]:
        """The caller's environment without the test run's Python paths, the virtualenv's bin first."""
        environment = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH",)}
        environment["PATH"] = f"{self.venv / 'bin'}{os.pathsep}{environment.get('PATH', '')}"
        return {**environment, **extra}

    def wheel_names(self) -> list[str]:
        with zipfile.ZipFile(self.wheel) as archive:
            return archive.namelist()


def install_fresh(work: Path) -> Installed:
    """A new virtualenv (no pip, no system packages) with the wheel installed without its dependencies; they
    come from this environment's package folders, listed in a .pth file after the virtualenv's own."""
    wheel = build_wheel(work)
    venv = work / "venv"
    base_python = Path(getattr(sys, "_base_executable", sys.executable))
    subprocess.run([str(base_python), "-m", "venv", "--without-pip", str(venv)], check=True, timeout=300)
    installed = Installed(wheel=wheel, venv=venv)
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(installed.python), "install", "--quiet", "--no-deps",
         str(wheel)],
        check=True, timeout=600, capture_output=True, text=True,
    )  # fmt: skip
    (installed.site_packages / "zz-test-dependencies.pth").write_text("\n".join(dependency_folders()) + "\n")
    return installed
