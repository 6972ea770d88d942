"""Write the documentation's reference pages from the code: docs/reference/hyperparameters.md (every recipe's
declared hyperparameters) and docs/reference/cli.md (every `byoc` command's --help).

    python scripts/generate_reference.py           # (re)write the pages
    python scripts/generate_reference.py --check   # exit 1, naming the stale pages, if they differ

tests/docs/test_reference.py runs the check, so committed pages never drift from the code.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPOSITORY_ROOT = Path(__file__).resolve().parent.parent
REFERENCE_DIR = REPOSITORY_ROOT / "docs" / "reference"
REGENERATE = "python scripts/generate_reference.py"
# argparse wraps help to the terminal's width; the pages are rendered at one fixed width.
HELP_COLUMNS = "100"


def generated_note() -> str:
    return f"<!-- Generated from the code by `{REGENERATE}`: do not edit by hand. -->\n\n"


def hyperparameters_page() -> str:
    from lightsage.recipes.base import available_recipes, hyperparameter_table

    recipes = available_recipes()
    shipped = ", ".join(f"`{name}`" for name in recipes)
    return (
        generated_note()
        + "# Hyperparameters\n\n"
        + "Every hyperparameter is declared once, in `lightsage.contract.hyperparameters` (the core's and "
        + "LightGBM's)\nand in each recipe (its own, and the defaults and tuning ranges it changes). `train` "
        + "parses SageMaker's\nstrings with these declarations (a value may be JSON-quoted; an unknown name "
        + "fails the job, naming the\nclosest known one), and `byoc train` and `byoc tune` check a job's "
        + "hyperparameters and build the tuner's\nranges from the same declarations before anything starts. "
        + "How they are used: [Training](../training.md#hyperparameters).\n\n"
        + f"The recipes the image ships: {shipped}. A `-` in a recipe's default column means that recipe "
        + "does not\nhave the hyperparameter. `python -m lightsage.recipes.base "
        + " ".join(recipes)
        + "` prints the same table.\n\n"
        + hyperparameter_table(recipes)
        + "\n"
    )


@contextmanager
def fixed_help_width() -> Iterator[None]:
    previous = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = HELP_COLUMNS
    try:
        yield
    finally:
        if previous is None:
            del os.environ["COLUMNS"]
        else:
            os.environ["COLUMNS"] = previous


def cli_page() -> str:
    from lightsage_deploy.cli.main import COMMANDS, PROGRAM, usage

    sections = [
        generated_note(),
        "# CLI reference\n\n",
        f"`{PROGRAM} COMMAND [options]`, or `python -m lightsage_deploy COMMAND [options]` without the "
        "console script.\nEach section is the command's own `--help`. How the commands fit together: "
        "[Deploying to SageMaker](../deploy.md).\n\n",
        f"## `{PROGRAM}`\n\n```text\n{usage(PROGRAM)}\n```\n",
    ]
    with fixed_help_width():
        for name, module_name in COMMANDS.items():
            parser = importlib.import_module(module_name).build_parser(f"{PROGRAM} {name}")
            sections.append(f"\n## `{PROGRAM} {name}`\n\n```text\n{parser.format_help().rstrip()}\n```\n")
    return "".join(sections)


def pages() -> dict[Path, str]:
    return {
        REFERENCE_DIR / "hyperparameters.md": hyperparameters_page(),
        REFERENCE_DIR / "cli.md": cli_page(),
    }


def stale_pages() -> list[Path]:
    """The reference pages whose committed text differs from what the code generates now."""
    return [path for path, text in pages().items() if not path.is_file() or path.read_text("utf-8") != text]


def shown(path: Path) -> str:
    return str(path.relative_to(REPOSITORY_ROOT)) if path.is_relative_to(REPOSITORY_ROOT) else str(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--check", action="store_true", help="only compare; exit 1 if a page is stale")
    arguments = parser.parse_args(argv)
    if arguments.check:
        stale = stale_pages()
        for path in stale:
            print(f"{shown(path)} is stale: run `{REGENERATE}`", file=sys.stderr)
        return 1 if stale else 0
    REFERENCE_DIR.mkdir(parents=True, exist_ok=True)
    for path, text in pages().items():
        path.write_text(text, encoding="utf-8")
        print(f"wrote {shown(path)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
