"""deploy/ stands in floors and no import runs upward or in a circle: the errors and the log setup, the
project file, where a step runs (targets), the shared AWS and job pieces, IAM, the steps, the command line."""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

from testsupport import REPOSITORY_ROOT

DEPLOY_DIR = REPOSITORY_ROOT / "deploy"
ROOT = "lightsage_deploy"
# Bottom to top; a module may import from its own floor and the floors below it.
FLOORS: tuple[frozenset[str], ...] = (
    frozenset({"__init__", "errors", "logs"}),
    frozenset({"project"}),
    frozenset({"targets"}),
    frozenset({"aws", "jobs"}),
    frozenset({"iam"}),
    frozenset({"steps"}),
    frozenset({"cli", "__main__"}),
)


def module_name(path: Path) -> str:
    parts = path.relative_to(DEPLOY_DIR).with_suffix("").parts
    if parts[-1] == "__init__" and len(parts) > 1:
        parts = parts[:-1]
    return ".".join((ROOT, *parts))


MODULES = {module_name(path): path for path in sorted(DEPLOY_DIR.rglob("*.py"))}


def floor_of(module: str) -> int:
    part = module.split(".")[1] if module != ROOT else "__init__"
    return next(index for index, names in enumerate(FLOORS) if part in names)


def imported_modules(path: Path) -> set[str]:
    """The package's modules that `path` imports anywhere (also inside functions and TYPE_CHECKING)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module is not None:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return {name for name in found if name in MODULES and name != ROOT}


IMPORTS = {module: imported_modules(path) for module, path in MODULES.items()}


def test_every_module_stands_on_a_floor() -> None:
    assert len(MODULES) > 30
    for module in MODULES:
        floor_of(module)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_import_runs_upward(module: str) -> None:
    upward = sorted(name for name in IMPORTS[module] if floor_of(name) > floor_of(module))
    assert upward == [], f"{module} imports from a higher floor"


def test_the_steps_never_import_the_command_line() -> None:
    steps = [module for module in MODULES if module.startswith(f"{ROOT}.steps")]
    assert steps
    for module in steps:
        assert not [name for name in IMPORTS[module] if name.startswith(f"{ROOT}.cli")], module


def test_no_modules_import_each_other_in_a_circle() -> None:
    try:
        TopologicalSorter(IMPORTS).prepare()
    except CycleError as error:
        pytest.fail(f"modules import each other in a circle: {' -> '.join(error.args[1])}")
