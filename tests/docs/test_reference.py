"""The documentation: the generated reference pages match the code, and the README stays a front door."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

from lightsage.recipes.base import available_recipes, hyperparameter_table
from lightsage_deploy.cli.main import COMMANDS

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
README_LIMIT_BYTES = 15_000


def generator() -> ModuleType:
    path = REPOSITORY_ROOT / "scripts" / "generate_reference.py"
    spec = importlib.util.spec_from_file_location("generate_reference", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_committed_reference_pages_are_what_the_code_generates() -> None:
    stale = generator().stale_pages()
    assert not stale, (
        f"stale reference pages: {', '.join(str(p.relative_to(REPOSITORY_ROOT)) for p in stale)}; "
        "run `python scripts/generate_reference.py` and commit them"
    )


def test_a_changed_page_is_reported_stale(tmp_path: Path) -> None:
    module = generator()
    module.REFERENCE_DIR = tmp_path
    assert len(module.stale_pages()) == 2  # none written yet
    assert module.main([]) == 0
    assert module.stale_pages() == []
    page = tmp_path / "cli.md"
    page.write_text(page.read_text().replace("--instance-count", "--instances"))
    assert module.stale_pages() == [page]
    assert module.main(["--check"]) == 1


def test_the_reference_lists_every_hyperparameter_and_every_command() -> None:
    reference = REPOSITORY_ROOT / "docs" / "reference"
    assert hyperparameter_table(available_recipes()) in (reference / "hyperparameters.md").read_text()
    cli = (reference / "cli.md").read_text()
    for name in COMMANDS:
        assert f"## `byoc {name}`\n" in cli
        assert f"usage: byoc {name}" in cli


def test_the_readme_is_a_front_door_with_the_runbook_and_working_links() -> None:
    readme = (REPOSITORY_ROOT / "README.md").read_bytes()
    assert len(readme) <= README_LIMIT_BYTES, f"README.md is {len(readme)} bytes, over {README_LIMIT_BYTES}"
    text = readme.decode()
    for command in (
        "make demo",
        "make test",
        "aws s3 cp",
        "aws ecr get-login-password",
        "aws ecr create-repository",
        "docker build --platform linux/amd64",
        "docker push",
        'fit({"train":',
        "aws logs tail /aws/sagemaker/TrainingJobs",
        "aws cloudformation deploy",
    ):
        assert command in text, command
    for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", text):
        if not target.startswith(("http://", "https://")):
            assert (REPOSITORY_ROOT / target).exists(), f"README.md links to {target}, which does not exist"


def test_the_site_builds_strictly_so_a_broken_link_or_anchor_fails(tmp_path: Path) -> None:
    """What make lint runs; without --quiet, which would hide the warnings --strict counts."""
    build = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=REPOSITORY_ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert build.returncode == 0, build.stderr
