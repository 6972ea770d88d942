"""Faults under load: a gunicorn worker killed mid-traffic or mid-request, gunicorn's socket gone, and SIGTERM
while requests are in flight. A request nginx cannot get answered is a JSON 503 (retry), never a 502."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from pathlib import Path

import pytest

from testsupport import (
    VALIDATION_CSV,
    LoadResult,
    docker,
    gunicorn_worker_pids,
    logs,
    run_load,
    start_server,
)

pytestmark = pytest.mark.container
BODY = VALIDATION_CSV.read_bytes()


def test_a_killed_worker_is_replaced_and_requests_keep_succeeding(
    image: str, trained_model_dir: Path
) -> None:
    server = start_server(image, trained_model_dir.parent, "-e", "SAGEMAKER_MODEL_SERVER_WORKERS=2")
    try:
        server.wait_healthy()
        workers = gunicorn_worker_pids(server.name)
        assert len(workers) == 2

        def kill_one_worker_midway() -> None:
            time.sleep(2)
            docker("exec", server.name, "python3", "-c", f"import os; os.kill({workers[0]}, 9)")

        killer = threading.Thread(target=kill_one_worker_midway)
        killer.start()
        during = run_load(server.port, BODY, seconds=6, concurrency=4)
        killer.join()
        print(f"\nworker killed during load: {during.succeeded} succeeded, {during.failed} failed")
        assert during.succeeded > 0
        assert during.failed <= 4, during.failures

        deadline = time.monotonic() + 20
        while len(replaced := gunicorn_worker_pids(server.name)) != 2 or workers[0] in replaced:
            assert time.monotonic() < deadline, logs(server.name)
            time.sleep(0.2)
        after = run_load(server.port, BODY, seconds=3, concurrency=4)
        print(f"after the replacement booted: {after.succeeded} succeeded, {after.failed} failed")
        assert after.failed == 0, after.failures
        assert server.ping_status() == 200
    finally:
        docker("rm", "-f", server.name, check=False)


def test_sigterm_under_load_finishes_in_flight_requests_and_exits_0(
    image: str, trained_model_dir: Path
) -> None:
    server = start_server(image, trained_model_dir.parent)
    try:
        server.wait_healthy()
        results: list[LoadResult] = []
        loader = threading.Thread(target=lambda: results.append(run_load(server.port, BODY, 4, 8)))
        loader.start()
        time.sleep(1.5)
        docker("kill", "--signal", "TERM", server.name)
        stopped_at = time.monotonic()
        exit_code = int(docker("wait", server.name, timeout=40).stdout.strip())
        elapsed = time.monotonic() - stopped_at
        loader.join()
        load = results[0]
        print(f"\nSIGTERM under load: exit {exit_code} after {elapsed:.1f} s; {load.succeeded} answered 200")
        assert exit_code == 0, logs(server.name)
        assert elapsed < 30
        # Requests sent after the stop are refused (connection errors), but none that nginx accepted fails:
        # a 5xx would mean an in-flight request was cut off.
        assert not [failure for failure in load.failures if failure[:1] == "5"], load.failures
        assert load.succeeded > 0
    finally:
        docker("rm", "-f", server.name, check=False)


# Inside the container: SIGKILL the first worker to use 0.2 s of CPU (the one predicting) and print its PID.
KILL_THE_BUSY_WORKER = """
import os, signal, time
def cpu(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])
workers = os.environ["WORKERS"].split()
start = {pid: cpu(pid) for pid in workers}
print("watching", flush=True)
deadline = time.monotonic() + 20
while time.monotonic() < deadline:
    busy = [pid for pid in workers if cpu(pid) - start[pid] >= 20]
    if busy:
        os.kill(int(busy[0]), signal.SIGKILL)
        print(busy[0])
        break
    time.sleep(0.01)
"""


def test_a_worker_killed_mid_request_gives_a_json_503(image: str, trained_model_dir: Path) -> None:
    server = start_server(image, trained_model_dir.parent)
    try:
        server.wait_healthy()
        header, *rows = BODY.splitlines()
        big = b"\n".join([header, *rows * 400])  # about 70,000 rows
        workers = " ".join(gunicorn_worker_pids(server.name))
        # The killer watches the workers' CPU time from before the request is sent: `docker exec` takes
        # longer to start than some requests take to answer.
        watch = ["exec", "-e", f"WORKERS={workers}", server.name, "python3", "-c", KILL_THE_BUSY_WORKER]
        killer = subprocess.Popen(["docker", *watch], stdout=subprocess.PIPE, text=True)
        assert killer.stdout is not None and killer.stdout.readline().strip() == "watching"
        answers: list[tuple[int, str, bytes]] = []
        client = threading.Thread(
            target=lambda: answers.append(
                server.request("POST", "/invocations", big, {"Content-Type": "text/csv"})
            )
        )
        client.start()
        killed, _ = killer.communicate(timeout=60)
        client.join()
        assert killed.strip(), "no worker started predicting"
        status, content_type, body = answers[0]
        assert status == 503
        assert content_type.startswith("application/json")
        assert "retry" in json.loads(body)["error"]
        server.wait_healthy(5)  # the other worker still serves and gunicorn replaces the killed one
        assert server.request("POST", "/invocations", BODY, {"Content-Type": "text/csv"})[0] == 200
    finally:
        docker("rm", "-f", server.name, check=False)


def test_an_unreachable_gunicorn_gives_a_json_503(image: str, trained_model_dir: Path) -> None:
    server = start_server(image, trained_model_dir.parent)
    try:
        server.wait_healthy()
        docker("exec", server.name, "sh", "-c", "rm /tmp/byoc-serve-*/gunicorn.sock")
        for method, path in [("POST", "/invocations"), ("GET", "/execution-parameters")]:
            status, content_type, body = server.request(method, path, BODY, {"Content-Type": "text/csv"})
            assert status == 503
            assert content_type.startswith("application/json")
            assert json.loads(body)["error"]
    finally:
        docker("rm", "-f", server.name, check=False)
