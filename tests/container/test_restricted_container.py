"""`serve` where SageMaker Serverless and hardened hosts run it: a read-only root filesystem (only /tmp
writable), an arbitrary non-root user, and both. Every kind of request works; the log has no error line."""

from __future__ import annotations

import csv
import io
import json
import re
import time
from pathlib import Path

import pytest

from testsupport import VALIDATION_CSV, Server, docker, logs, raw_request, start_server

pytestmark = pytest.mark.container
CSV = VALIDATION_CSV.read_bytes()
ROWS = len(CSV.splitlines()) - 1
RESTRICTIONS = {
    "read-only root": ("--read-only", "--tmpfs", "/tmp"),
    "non-root user": ("--user", "1000:1000"),
    "read-only root, non-root user": ("--read-only", "--tmpfs", "/tmp", "--user", "1000:1000"),
}
ERROR_LINE = re.compile(
    r"\[(ERROR|CRITICAL|error|crit|alert|emerg)\]|Traceback|Permission denied|Read-only file system"
)
# nginx logs a refused oversized body at its error level; that request is sent on purpose below.
EXPECTED_ERROR_LINES = ("client intended to send too large body",)


def json_records() -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(CSV.decode())))


def exercise_every_request_kind(server: Server) -> None:
    status, _, body = server.request("GET", "/ping")
    assert (status, body) == (200, b"")
    assert server.request("HEAD", "/ping")[0] == 200
    assert server.request("OPTIONS", "/ping")[0] == 200
    status, _, body = server.request("GET", "/execution-parameters")
    assert status == 200 and json.loads(body)["MaxPayloadInMB"] == 6
    records = json_records()
    bodies = {
        "text/csv": CSV,
        "application/json": json.dumps({"instances": records}).encode(),
        "application/jsonlines": "\n".join(json.dumps(record) for record in records).encode(),
    }
    for content_type, request_body in bodies.items():
        for accept in ("application/json", "text/csv", "application/jsonlines"):
            status, answered_type, answer = server.request(
                "POST", "/invocations", request_body, {"Content-Type": content_type, "Accept": accept}
            )
            assert status == 200, (content_type, accept, answer[:200])
            assert answered_type.startswith(accept) and answer
    # Over 1 MB in and out: nginx buffers both through temporary files in the runtime folder.
    header, *rows = CSV.splitlines()
    big = b"\n".join([header, *rows * 200])
    status, _, answer = server.request("POST", "/invocations", big, {"Content-Type": "text/csv"})
    assert status == 200 and len(json.loads(answer)["predictions"]) == ROWS * 200
    errors = [
        (server.request("POST", "/invocations", b"x" * (7 * 1024 * 1024), {"Content-Type": "text/csv"}), 413),
        (server.request("POST", "/invocations", b"Age\nold\n", {"Content-Type": "text/csv"}), 400),
        (server.request("POST", "/invocations", CSV, {"Content-Type": "image/png"}), 415),
        (
            server.request("POST", "/invocations", CSV, {"Content-Type": "text/csv", "Accept": "image/png"}),
            406,
        ),
        (server.request("GET", "/invocations"), 405),
        (server.request("GET", "/nowhere"), 404),
    ]
    for (status, answered_type, answer), expected in errors:
        assert status == expected and answered_type.startswith("application/json")
        assert json.loads(answer)["error"]
    malformed = raw_request(server.port, b"GARBAGE\r\n\r\n")
    assert malformed is not None and malformed.status == 400 and malformed.json_error()


@pytest.mark.parametrize("restriction", RESTRICTIONS.values(), ids=list(RESTRICTIONS))
def test_every_request_kind_works_and_nothing_logs_an_error(
    image: str, trained_model_dir: Path, restriction: tuple[str, ...]
) -> None:
    server = start_server(image, trained_model_dir.parent, *restriction)
    try:
        server.wait_healthy()
        exercise_every_request_kind(server)
        docker("kill", "--signal", "TERM", server.name)
        assert int(docker("wait", server.name, timeout=40).stdout.strip()) == 0
        output = logs(server.name)
        errors = [
            line
            for line in output.splitlines()
            if ERROR_LINE.search(line) and not any(expected in line for expected in EXPECTED_ERROR_LINES)
        ]
        assert not errors, output
        assert "the model is loaded in all" in output and "[serve] stopped" in output
    finally:
        docker("rm", "-f", server.name, check=False)


def test_a_read_only_root_without_a_writable_tmp_stops_with_the_reason(
    image: str, trained_model_dir: Path
) -> None:
    started = time.monotonic()
    result = docker(
        "run", "--rm", "--read-only", "-v", f"{trained_model_dir.parent}:/opt/ml", image, "serve", check=False
    )  # fmt: skip
    assert result.returncode == 2
    assert "no writable temporary folder" in result.stderr and "--tmpfs /tmp" in result.stderr
    assert time.monotonic() - started < 20
