"""`byoc`: one command for the whole cloud path, each step a subcommand with its own --help and examples.

    byoc upload | push | train | deploy | predict | batch | tune | cleanup | offline | instances | iam

Every subcommand is also `python -m deploy.MODULE` with the same flags. Global: the project settings file
(byoc.toml, or BYOC_PROJECT_FILE) names the project, its data and its recipe.
"""

from __future__ import annotations

import difflib
import importlib
import sys
from collections.abc import Sequence
from typing import NoReturn

from lightsage_deploy.cli import arguments as cli

# Subcommand -> module, in the order of the runbook.
COMMANDS: dict[str, str] = {
    "upload": "lightsage_deploy.steps.upload",
    "push": "lightsage_deploy.steps.image",
    "train": "lightsage_deploy.steps.train",
    "deploy": "lightsage_deploy.steps.endpoint",
    "predict": "lightsage_deploy.steps.predict",
    "batch": "lightsage_deploy.steps.batch",
    "tune": "lightsage_deploy.steps.tune",
    "cleanup": "lightsage_deploy.steps.cleanup",
    "offline": "lightsage_deploy.targets.offline",
    "instances": "lightsage_deploy.steps.instances",
    "iam": "lightsage_deploy.iam.policies",
}
HELP = ("-h", "--help")


def summary(module_name: str) -> str:
    """The first line of the module's docstring."""
    doc = importlib.import_module(module_name).__doc__ or ""
    return doc.strip().splitlines()[0] if doc.strip() else ""


def usage() -> str:
    lines = [
        "usage: byoc COMMAND [options]     (byoc COMMAND --help: its options and examples)",
        "",
        "Train and serve LightGBM on SageMaker with one bring-your-own-container image. The project file",
        "(byoc.toml, or the file BYOC_PROJECT_FILE names) gives the names, the data and the recipe; --local",
        "runs every step offline (start the stand-ins with `byoc offline up`).",
        "",
        "commands:",
    ]
    lines += [f"  {name:<10} {summary(module)}" for name, module in COMMANDS.items()]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if not arguments or arguments[0] in HELP:
        print(usage())
        return 0 if arguments else 2
    name, rest = arguments[0], arguments[1:]
    if name not in COMMANDS:
        close = difflib.get_close_matches(name, COMMANDS, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        print(f"byoc: unknown command {name!r}{hint}; commands: {', '.join(COMMANDS)}", file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[name])
    return int(module.main(rest, prog=f"byoc {name}"))


def run() -> NoReturn:
    """The console script's entry point."""
    cli.run(main)


if __name__ == "__main__":
    run()
