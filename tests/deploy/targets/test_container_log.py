"""What local mode's containers printed, as docker-compose shows it: their lines, and why one failed."""

from __future__ import annotations

from lightsage_deploy.targets.container_log import container_lines, failure_said

NAME = "lifecycle-drift-algo-1-x7k2q"
COLOURED = f"\x1b[36m{NAME}  |\x1b[0m "


def log(*lines: str, exit_code: int | None = None, colour: bool = False) -> str:
    prefix = COLOURED if colour else f"{NAME}  | "
    text = "".join(f"{prefix}{line}\n" for line in lines)
    if exit_code is not None:
        text += f"{NAME} exited with code {exit_code}\nAborting on container exit...\n"
    return "Creating network\n" + text


def test_the_containers_lines_lose_the_prefix_colours_and_notes() -> None:
    text = log("[drift] reading traffic", "drift: 0 violation(s)", exit_code=0, colour=True)
    assert container_lines(text) == ["[drift] reading traffic", "drift: 0 violation(s)"]


def test_a_failure_is_the_programs_reason_whatever_status_the_sdk_reports() -> None:
    reason = "[drift] FAILED: traffic column 'Mystery' is not an input of the model"
    assert failure_said(log("[drift] reading traffic", reason, "exiting", exit_code=1)) == reason
    assert failure_said(log(reason, colour=True)) == reason  # no exit note in the log


def test_a_non_zero_exit_without_a_reason_gives_the_last_line_or_the_code() -> None:
    assert failure_said(log("[drift] reading traffic", "Killed", exit_code=137, colour=True)) == "Killed"
    assert failure_said(log(exit_code=2)) == "its container exited with code 2"


def test_a_container_that_succeeded_has_no_failure() -> None:
    assert (
        failure_said(log("[drift] reading traffic", "drift: 2 violation(s) in 1 feature(s)", exit_code=0))
        is None
    )
    assert failure_said(log("drift: 0 violation(s)")) is None
