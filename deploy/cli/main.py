"""`byoc`: one command for a project on this machine and the whole cloud path, each step a subcommand with
its own --help and examples.

    byoc init | build | local | upload | push | train | deploy | predict | batch | tune | cleanup | pipeline
         | models | drift | offline | instances | iam

`python -m lightsage_deploy COMMAND` is the same command. Global: the project settings file (byoc.toml in the
current folder or the closest folder above it, or BYOC_PROJECT_FILE) names the project, its data and its
recipe. Results go to stdout, the steps' log lines to
stderr. An expected failure (lightsage_deploy.errors) is one `error:` line and exit status 1; anything else is
a bug and shows its traceback.
"""

from __future__ import annotations

import difflib
import importlib
import sys
import traceback
from collections.abc import Callable, Sequence
from functools import partial
from typing import NoReturn

from botocore.exceptions import BotoCoreError, ClientError

from lightsage.errors import LightsageError
from lightsage_deploy import logs
from lightsage_deploy.errors import aws_failure

PROGRAM = "byoc"
# Subcommand -> its module in lightsage_deploy.cli: a project on this machine first, then the cloud path in
# the order of the runbook.
COMMANDS: dict[str, str] = {
    "init": "lightsage_deploy.cli.init",
    "build": "lightsage_deploy.cli.build",
    "local": "lightsage_deploy.cli.local",
    "upload": "lightsage_deploy.cli.upload",
    "push": "lightsage_deploy.cli.push",
    "train": "lightsage_deploy.cli.train",
    "deploy": "lightsage_deploy.cli.deploy",
    "predict": "lightsage_deploy.cli.predict",
    "batch": "lightsage_deploy.cli.batch",
    "tune": "lightsage_deploy.cli.tune",
    "cleanup": "lightsage_deploy.cli.cleanup",
    # The lifecycle: gate and register, approve, watch for drift (`byoc deploy --approved` rolls out).
    "pipeline": "lightsage_deploy.cli.pipeline",
    "models": "lightsage_deploy.cli.models",
    "drift": "lightsage_deploy.cli.drift",
    "offline": "lightsage_deploy.cli.offline",
    "instances": "lightsage_deploy.cli.instances",
    "iam": "lightsage_deploy.cli.iam",
}
HELP = ("-h", "--help")
BUG_MESSAGE = "a bug in lightsage_deploy, not in your input: please report it with the traceback above"


def summary(module_name: str) -> str:
    """The first line of the module's docstring."""
    doc = importlib.import_module(module_name).__doc__ or ""
    return doc.strip().splitlines()[0] if doc.strip() else ""


def usage(program: str = PROGRAM) -> str:
    lines = [
        f"usage: {program} COMMAND [options]     ({program} COMMAND --help: its options and examples)",
        "",
        "Train and serve LightGBM on SageMaker with one bring-your-own-container image. Start a project",
        "with `byoc init DIR --data FILE --target COLUMN`, then run `byoc build` and `byoc local` inside",
        "DIR. The project file (byoc.toml in the current folder or the closest one above it, or",
        "BYOC_PROJECT_FILE) gives the names, the data and the recipe; --local runs every cloud step",
        "offline (start the stand-ins with `byoc offline up`).",
        "",
        "commands:",
    ]
    lines += [f"  {name:<10} {summary(module)}" for name, module in COMMANDS.items()]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None, program: str = PROGRAM) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    if not arguments or arguments[0] in HELP:
        print(usage(program))
        return 0 if arguments else 2
    name, rest = arguments[0], arguments[1:]
    if name not in COMMANDS:
        close = difflib.get_close_matches(name, COMMANDS, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        print(f"{program}: unknown command {name!r}{hint}; commands: {', '.join(COMMANDS)}", file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[name])
    return int(module.main(rest, prog=f"{program} {name}"))


def exit_with(main: Callable[[Sequence[str] | None], int]) -> NoReturn:
    """Run a command's main with the steps' log lines shown. An expected failure, the user's or the platform's
    (AWS's errors sorted into the two), becomes one `error:` line and exit status 1; a bug keeps its
    traceback and says it is one."""
    logs.show()
    try:
        status = main(None)
    except LightsageError as error:
        print(f"error: {error}", file=sys.stderr)
        status = 1
    except (BotoCoreError, ClientError) as error:
        print(f"error: {aws_failure(error)}", file=sys.stderr)
        status = 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        status = 130
    except Exception:
        traceback.print_exc()
        print(f"error: {BUG_MESSAGE}", file=sys.stderr)
        status = 1
    sys.exit(status)


def run(program: str = PROGRAM) -> NoReturn:
    """The entry point of the `byoc` console script and of `python -m lightsage_deploy`."""
    exit_with(partial(main, program=program))
