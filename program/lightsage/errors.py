"""One error taxonomy, by who is to blame. Every error lightsage explains is a LightsageError:

- UserError: the user's input (data, hyperparameters, a request, a model folder, a recipe, checkpoints or
  settings the user gave). The message names the problem and what to change.
- PlatformError: the platform (SageMaker's configuration files, a stopped job, a lost host, the instance's
  memory). The message says what happened; another run, or another instance, may go through.
- Anything else is a bug, in lightsage or in a recipe's code.

What follows from the class: `train` writes the message of a LightsageError as the failure reason, and for
anything else `unexpected error: ...` with its traceback in the log (`failure_reason`, `is_bug`). `serve`
answers a UserError with its 4xx status (`status`, `body`), a PlatformError with 503, and a bug with 500,
logging its traceback.

Each module defines its own errors as subclasses of UserError or PlatformError (DataError,
HyperparameterError, PayloadError, OutOfMemory, ...); the host side's DeployError subclasses UserError.
"""

from __future__ import annotations

from typing import Any

# An unexpected error's own message is cut here in the failure reason, so that the note after it stays within
# the 1,024 bytes SageMaker keeps.
BUG_MESSAGE_LIMIT = 600


class LightsageError(Exception):
    """An error lightsage explains: its message is the whole story. Subclass UserError or PlatformError."""

    def body(self) -> dict[str, Any]:
        """The JSON body `serve` answers with."""
        return {"error": str(self)}


class UserError(LightsageError):
    """The user's input is at fault; the message says what to change. `serve` answers it with 4xx."""

    status: int = 400


class PlatformError(LightsageError):
    """The platform is at fault: its configuration, a stop, a lost host, the instance's limits. `serve`
    answers it with 503 (try again)."""

    status: int = 503


def is_bug(error: BaseException) -> bool:
    """Neither the user's nor the platform's fault: the code's (lightsage's or a recipe's)."""
    return not isinstance(error, LightsageError)


def failure_reason(error: BaseException) -> str:
    """What the failure file says: an explained error's message, or that a bug is to be reported."""
    if not is_bug(error):
        return str(error)
    message = str(error)
    if len(message) > BUG_MESSAGE_LIMIT:
        message = message[:BUG_MESSAGE_LIMIT] + "..."
    return (
        f"unexpected error: {type(error).__name__}: {message} (a bug in lightsage or in the recipe's code, "
        "not in the input: please report it with the traceback from the job's log)"
    )
