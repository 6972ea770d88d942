"""The core's layout: each folder imports only from the floors below it, and no modules import each other in a
circle. Read from the code's own import statements (no tool needed)."""

import ast
from pathlib import Path

from testsupport import REPOSITORY_ROOT

CORE = REPOSITORY_ROOT / "program" / "lightsage"
# Bottom to top: a part may import its own modules and those of the parts on lower floors, never a higher or
# a neighbouring one (evaluation and serving stand side by side, and so do training and monitoring).
FLOORS = {
    "errors": 0,
    "logs": 0,
    "libraries": 0,
    "tasks": 1,
    "contract": 2,
    "data": 3,
    "recipes": 4,
    "model": 5,
    "evaluation": 6,
    "serving": 6,
    "training": 7,
    "monitoring": 7,
}


def module_name(path: Path) -> str:
    parts = path.relative_to(CORE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """The lightsage modules a file imports, wherever the import stands (top level, in a function, ...)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    modules = {module_name(path) for path in CORE.rglob("*.py")}
    return {name for name in found if name in modules or name.startswith("lightsage_deploy")}


def graph() -> dict[str, set[str]]:
    return {module_name(path): imports(path) for path in sorted(CORE.rglob("*.py"))}


def part(module: str) -> str:
    return module.split(".")[1] if "." in module else ""


def test_no_import_runs_up_or_across_between_folders() -> None:
    wrong = []
    for module, imported in graph().items():
        if module == "lightsage":
            continue
        for name in imported:
            if name.startswith("lightsage_deploy"):
                wrong.append(f"{module} -> {name} (the host side)")
            elif (
                part(name) != part(module)
                and name != "lightsage"
                and FLOORS[part(name)] >= FLOORS[part(module)]
            ):
                wrong.append(f"{module} -> {name}")
    assert sorted(FLOORS) == sorted({part(module) for module in graph() if module != "lightsage"})
    assert wrong == []


def test_no_modules_import_each_other_in_a_circle() -> None:
    edges = graph()
    circles = []
    state: dict[str, str] = {}

    def visit(module: str, trail: list[str]) -> None:
        state[module] = "open"
        for name in sorted(edges.get(module, set()) - {module}):  # a script importing itself is no circle
            if state.get(name) == "open":
                circles.append(" -> ".join([*trail[trail.index(name) :], name]))
            elif name not in state:
                visit(name, [*trail, name])
        state[module] = "done"

    for module in edges:
        if module not in state:
            visit(module, [module])
    assert circles == []
