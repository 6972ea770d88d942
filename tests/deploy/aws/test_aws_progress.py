"""Progress for the long waits: each status change and a reminder, a timeout, and a large upload's share."""

from __future__ import annotations

import io

import pytest

from lightsage_deploy.aws import progress
from lightsage_deploy.aws.progress import MIB, UploadProgress
from lightsage_deploy.errors import PlatformError


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_long_waits_show_each_status_change_and_a_reminder() -> None:
    clock, shown = Clock(), io.StringIO()
    states = iter(["Creating"] * 6 + ["InService"])
    description = progress.wait_for(
        lambda: {"EndpointStatus": next(states)},
        "EndpointStatus",
        ("InService", "Failed"),
        "endpoint e",
        poll_seconds=15,
        out=shown,
        clock=clock,
        sleep=clock.sleep,
    )
    assert description == {"EndpointStatus": "InService"}
    assert shown.getvalue().splitlines() == [
        "[     0s] endpoint e: Creating",
        "[  1m00s] endpoint e: Creating",
        "[  1m30s] endpoint e: InService",
    ]


def test_a_wait_gives_up_after_its_timeout() -> None:
    clock = Clock()
    with pytest.raises(PlatformError, match="training job j is still InProgress after 2m00s"):
        progress.wait_for(
            lambda: {"TrainingJobStatus": "InProgress"},
            "TrainingJobStatus",
            ("Completed",),
            "training job j",
            timeout_seconds=100,
            poll_seconds=60,
            out=io.StringIO(),
            clock=clock,
            sleep=clock.sleep,
        )


def test_large_uploads_show_their_progress() -> None:
    shown = io.StringIO()
    progress = UploadProgress("big.csv", 100 * MIB, out=shown)
    for _ in range(10):
        progress(10 * MIB)
    progress.done()
    lines = shown.getvalue().splitlines()
    assert lines[0].startswith("uploading big.csv: 10% (10.0 of 100.0 MiB")
    assert len(lines) == 10 and lines[-1].startswith("uploaded big.csv: 100.0 MiB in ")
    small = io.StringIO()
    UploadProgress("small.csv", MIB, out=small)(MIB)
    assert small.getvalue() == ""
