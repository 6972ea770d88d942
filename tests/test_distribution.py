"""The distribution: `pip install <the repository>` gives `byoc` in any folder, two distinctive import names,
every module of both roots, dependencies that admit the tested pins, and the image's build context,
byte for byte the repository's own files."""

from __future__ import annotations

import re
import stat
import subprocess
import sys
import tarfile
import zipfile
from email.parser import Parser
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from distsupport import DISTRIBUTION, Installed, copy_of_the_repository, source_files
from testsupport import REPOSITORY_ROOT

TOP_LEVEL = {"lightsage", "lightsage_deploy"}
PACKAGE_FOLDERS = {"lightsage": "program/lightsage", "lightsage_deploy": "deploy"}
# The build context as `docker build .` in the repository sees it: the Dockerfile, what .dockerignore lets in
# (requirements.txt, program/ without bytecode) and the script that prepares a build, with the one it calls.
CONTEXT_FILES = ("Dockerfile", ".dockerignore", "requirements.txt", "scripts/ensure-docker.sh",
                 "scripts/setup-docker-engine.sh")  # fmt: skip
SHIPPED_CONTEXT = "lightsage_deploy/build_context"


def requirements_of(installed: Installed) -> list[Requirement]:
    with zipfile.ZipFile(installed.wheel) as archive:
        (name,) = [name for name in archive.namelist() if name.endswith(".dist-info/METADATA")]
        metadata = Parser().parsestr(archive.read(name).decode())
    return [Requirement(entry) for entry in metadata.get_all("Requires-Dist", [])]


def test_the_wheel_installs_two_distinctive_import_names_and_nothing_else(installed_byoc: Installed) -> None:
    names = installed_byoc.wheel_names()
    (top_level,) = [name for name in names if name.endswith(".dist-info/top_level.txt")]
    with zipfile.ZipFile(installed_byoc.wheel) as archive:
        assert set(archive.read(top_level).decode().split()) == TOP_LEVEL
    recorded = {name.split("/")[0] for name in names if ".dist-info/" not in name}
    assert recorded == TOP_LEVEL
    installed = {path.name for path in installed_byoc.site_packages.iterdir()}
    assert installed - {"__pycache__", "zz-test-dependencies.pth"} == {
        *TOP_LEVEL,
        f"{DISTRIBUTION}-0.1.0.dist-info",
    }


def test_every_module_of_both_roots_is_in_the_wheel_and_no_other(installed_byoc: Installed) -> None:
    """The packages are found, not listed: a new module or subpackage ships without anyone listing it."""
    expected = set()
    for root, folder in PACKAGE_FOLDERS.items():
        expected |= {
            f"{root}/{Path(name).relative_to(folder).as_posix()}"
            for name in source_files()
            if name.startswith(f"{folder}/") and name.endswith(".py")
        }
    shipped = {
        name
        for name in installed_byoc.wheel_names()
        if name.endswith(".py") and not name.startswith(f"{SHIPPED_CONTEXT}/")
    }
    assert shipped == expected
    assert {"lightsage/serving/nginx.conf.template", "lightsage_deploy/iam/cloudformation.yaml"} <= set(
        installed_byoc.wheel_names()
    )


def expected_context() -> list[str]:
    program = [name for name in source_files() if name.startswith("program/") and "__pycache__" not in name]
    return sorted([*CONTEXT_FILES, *program])


def shipped_files(folder: Path) -> list[str]:
    return sorted(
        path.relative_to(folder).as_posix()
        for path in folder.rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    )


def test_the_installed_build_context_is_the_repositorys_byte_for_byte(installed_byoc: Installed) -> None:
    shipped = installed_byoc.site_packages / SHIPPED_CONTEXT
    assert shipped_files(shipped) == expected_context()
    for name in expected_context():
        source, copy = REPOSITORY_ROOT / name, shipped / name
        assert copy.read_bytes() == source.read_bytes(), name
        executable = stat.S_IXUSR
        assert copy.stat().st_mode & executable == source.stat().st_mode & executable, name
    assert (shipped / "program" / "train").stat().st_mode & stat.S_IXUSR, "train must stay executable"


def test_the_dockerfile_copies_only_what_the_context_ships() -> None:
    copied = re.findall(
        r"^COPY (?:--\S+ )*(\S+) ", (REPOSITORY_ROOT / "Dockerfile").read_text(), re.MULTILINE
    )
    assert copied
    for source in copied:
        assert any(name == source or name.startswith(f"{source}/") for name in expected_context()), source


def pins() -> dict[str, str]:
    found = {}
    for requirements in ("requirements.txt", "requirements-dev.txt"):
        for line in (REPOSITORY_ROOT / requirements).read_text().splitlines():
            requirement = line.split("#")[0].strip()
            if "==" in requirement:
                name, version = requirement.split("==")
                found[canonicalize_name(name.split("[")[0])] = version.strip()
    return found


def test_the_declared_dependencies_admit_the_pinned_versions_the_tests_run(installed_byoc: Installed) -> None:
    requirements = {canonicalize_name(r.name): r for r in requirements_of(installed_byoc)}
    assert set(requirements) >= {"sagemaker", "boto3", "pandas", "numpy", "pyarrow", "scikit-learn"}
    pinned = pins()
    for name, requirement in requirements.items():
        assert name in pinned, f"{name} is declared but pinned in neither requirements file"
        assert requirement.specifier.contains(pinned[name]), (
            f"{requirement} excludes the pinned {pinned[name]}"
        )
    assert not requirements["sagemaker"].specifier.contains("3.0.0"), "SDK v3 has no Estimator"


def test_byoc_runs_from_an_empty_folder_with_the_installed_packages(
    installed_byoc: Installed, tmp_path: Path
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    result = subprocess.run(
        [str(installed_byoc.byoc), "--help"],
        cwd=empty, capture_output=True, text=True, timeout=120, env=installed_byoc.environment(),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: byoc COMMAND")
    for command in ("init", "build", "local", "upload", "push", "train"):
        assert f"\n  {command} " in result.stdout
    where = subprocess.run(
        [str(installed_byoc.python), "-c",
         "import lightsage, lightsage_deploy\n"
         "from lightsage_deploy.targets.context import build_context\n"
         "context = build_context()\n"
         "print(lightsage.__file__, lightsage_deploy.__file__, context.folder, context.checkout)"],
        cwd=empty, capture_output=True, text=True, timeout=120, env=installed_byoc.environment(),
    )  # fmt: skip
    assert where.returncode == 0, where.stderr
    core, host, context, checkout = where.stdout.split()
    site_packages = installed_byoc.site_packages
    assert Path(core).is_relative_to(site_packages) and Path(host).is_relative_to(site_packages)
    assert (Path(context), checkout) == (site_packages / SHIPPED_CONTEXT, "False")


def test_outside_any_project_a_project_command_says_how_to_start_one(
    installed_byoc: Installed, tmp_path: Path
) -> None:
    result = subprocess.run(
        [str(installed_byoc.byoc), "upload", "--local"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
        env=installed_byoc.environment(BYOC_PROJECT_FILE=""),
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        f"error: no project here: no byoc.toml in {tmp_path} or any folder above it. Start one with "
        "`byoc init DIR --data FILE --target COLUMN` and run byoc inside DIR, or point BYOC_PROJECT_FILE "
        "at a project file"
    )


def test_the_source_distribution_carries_the_build_context_too(tmp_path: Path) -> None:
    """A wheel built from the sdist (as `python -m build` and PyPI do) finds the same context to copy."""
    source = copy_of_the_repository(tmp_path / "source")
    subprocess.run(
        [sys.executable, "-c", "from setuptools import build_meta; build_meta.build_sdist('../dist')"],
        cwd=source, check=True, timeout=300, capture_output=True,
    )  # fmt: skip
    (sdist,) = (tmp_path / "dist").glob(f"{DISTRIBUTION}-*.tar.gz")
    with tarfile.open(sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    assert set(expected_context()) <= names
    assert {"setup.py", "pyproject.toml", "MANIFEST.in"} <= names
