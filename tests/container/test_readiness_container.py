"""/ping in the real image: answered by nginx, never queued behind a busy worker, and 200 only once every
gunicorn worker has loaded the model. SageMaker times a ping out after 2 s; the target here is 1 s."""

from __future__ import annotations

import http.client
import shutil
import statistics
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from testsupport import (
    VALIDATION_CSV,
    LoadResult,
    Server,
    docker,
    gunicorn_master_pid,
    gunicorn_worker_pids,
    logs,
    run_load,
    start_server,
)

pytestmark = pytest.mark.container
PING_TARGET_SECONDS = 1.0
SMALL_BODY = VALIDATION_CSV.read_bytes()


def six_megabyte_csv() -> bytes:
    """Validation rows repeated to just under SageMaker's 6 MB real-time limit (about 88,000 rows)."""
    header, *rows = VALIDATION_CSV.read_bytes().splitlines()
    lines, size, index = [header], len(header) + 1, 0
    while size + len(rows[index % len(rows)]) + 1 <= 6_000_000:
        lines.append(rows[index % len(rows)])
        size += len(lines[-1]) + 1
        index += 1
    return b"\n".join(lines) + b"\n"


@dataclass
class Pings:
    seconds: list[float] = field(default_factory=list)
    statuses: list[int | str] = field(default_factory=list)

    def summary(self) -> str:
        ordered = sorted(self.seconds)
        p99 = ordered[max(0, round(0.99 * len(ordered)) - 1)]
        return (
            f"{len(ordered)} pings: p50 {statistics.median(ordered) * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms, "
            f"max {ordered[-1] * 1000:.1f} ms"
        )


def ping_every(port: int, interval: float, until: float, pings: Pings) -> None:
    """A new connection per ping, like SageMaker's health check, with its 2 s timeout."""
    while time.monotonic() < until:
        started = time.monotonic()
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        try:
            connection.request("GET", "/ping")
            status: int | str = connection.getresponse().status
        except OSError as error:
            status = f"{type(error).__name__}: {error}"
        finally:
            connection.close()
        pings.seconds.append(time.monotonic() - started)
        pings.statuses.append(status)
        time.sleep(interval)


def ping_during_load(
    server: Server, body: bytes, concurrency: int, seconds: float
) -> tuple[Pings, LoadResult]:
    pings = Pings()
    loads: list[LoadResult] = []
    loader = threading.Thread(target=lambda: loads.append(run_load(server.port, body, seconds, concurrency)))
    loader.start()
    time.sleep(1.0)  # every worker busy and requests queued before the first ping
    ping_every(server.port, 0.1, time.monotonic() + seconds - 1.5, pings)
    loader.join()
    return pings, loads[0]


@pytest.fixture(scope="module")
def big_body() -> bytes:
    return six_megabyte_csv()


@pytest.mark.parametrize(
    ("concurrency", "seconds"),
    [(4, 12), (24, 20)],
    ids=["4 concurrent 6 MB requests", "24 concurrent 6 MB requests (saturated)"],
)
def test_ping_answers_within_1_s_while_every_worker_is_busy(
    image: str, trained_model_dir: Path, big_body: bytes, concurrency: int, seconds: float
) -> None:
    server = start_server(image, trained_model_dir.parent, "-e", "SAGEMAKER_MODEL_SERVER_WORKERS=2")
    try:
        server.wait_healthy()
        pings, load = ping_during_load(server, big_body, concurrency, seconds)
        print(
            f"\n{concurrency} x {len(big_body) / 1e6:.1f} MB on 2 workers: {pings.summary()}; "
            f"{load.succeeded} predictions answered, {load.failed} not"
        )
        assert set(pings.statuses) == {200}, pings.statuses
        assert max(pings.seconds) < PING_TARGET_SECONDS
        assert load.succeeded > 0
    finally:
        docker("rm", "-f", server.name, check=False)


# Runs inside the container before `serve`: SIGSTOPs the first gunicorn worker as soon as it is forked, long
# before it has imported LightGBM, and writes its PID to /tmp/stopped-worker.
STOP_FIRST_WORKER = """
import os, signal, time
def parent(pid):
    return open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[1]
def gunicorn(pid):
    return b"gunicorn" in open(f"/proc/{pid}/cmdline", "rb").read()
deadline = time.monotonic() + 30
while time.monotonic() < deadline:
    try:
        pids = [pid for pid in os.listdir("/proc") if pid.isdigit()]
        masters = [pid for pid in pids if gunicorn(pid) and not gunicorn(parent(pid))]
        workers = [pid for pid in pids if masters and parent(pid) == masters[0]]
    except OSError:
        continue
    if workers:
        os.kill(int(workers[0]), signal.SIGSTOP)
        open("/tmp/stopped-worker", "w").write(workers[0])
        break
    time.sleep(0.001)
"""
WATCH_THEN_SERVE = 'printf "%s" "$WATCH" > /tmp/watch.py && python3 /tmp/watch.py & exec serve'


def send_signal(container: str, signal_name: str, pid: str) -> None:
    docker("exec", container, "sh", "-c", f"kill -{signal_name} {pid}")  # the image has no kill binary


def loaded_markers(name: str) -> list[str]:
    result = docker("exec", name, "sh", "-c", "ls /tmp/byoc-serve-*/workers/", check=False)
    return result.stdout.split()


def test_ping_is_503_until_the_last_worker_has_loaded_the_model(image: str, trained_model_dir: Path) -> None:
    server = start_server(
        image,
        trained_model_dir.parent,
        "-e",
        "SAGEMAKER_MODEL_SERVER_WORKERS=2",
        "-e",
        f"WATCH={STOP_FIRST_WORKER}",
        command=("bash", "-c", WATCH_THEN_SERVE),
    )
    try:
        deadline = time.monotonic() + 30
        while len(loaded_markers(server.name)) < 1:
            assert time.monotonic() < deadline, logs(server.name)
            assert server.ping_status() in (503, None)
            time.sleep(0.1)
        stopped = docker("exec", server.name, "cat", "/tmp/stopped-worker").stdout.strip()
        assert f"{stopped}.loaded" not in loaded_markers(server.name)
        # One worker serves, the other has not loaded its model: never healthy.
        statuses = set()
        until = time.monotonic() + 3
        while time.monotonic() < until:
            statuses.add(server.ping_status())
            time.sleep(0.05)
        assert statuses == {503}
        send_signal(server.name, "CONT", stopped)
        server.wait_healthy()
        assert sorted(loaded_markers(server.name)) == sorted(
            f"{pid}.loaded" for pid in gunicorn_worker_pids(server.name)
        )
        assert "the model is loaded in all 2 worker(s)" in logs(server.name)
    finally:
        docker("rm", "-f", server.name, check=False)


def test_ping_stays_200_while_gunicorn_reloads_its_workers(image: str, trained_model_dir: Path) -> None:
    server = start_server(image, trained_model_dir.parent, "-e", "SAGEMAKER_MODEL_SERVER_WORKERS=2")
    try:
        server.wait_healthy()
        before = set(gunicorn_worker_pids(server.name))
        pings = Pings()
        pinger = threading.Thread(target=ping_every, args=(server.port, 0.05, time.monotonic() + 8, pings))
        pinger.start()
        loads: list[LoadResult] = []
        loader = threading.Thread(target=lambda: loads.append(run_load(server.port, SMALL_BODY, 8, 4)))
        loader.start()
        time.sleep(1)
        # SIGHUP: gunicorn starts new workers (each loads the model), then stops the old ones gracefully.
        send_signal(server.name, "HUP", gunicorn_master_pid(server.name))
        pinger.join()
        loader.join()
        after = set(gunicorn_worker_pids(server.name))
        print(f"\nworkers reloaded under load: {pings.summary()}; {loads[0].succeeded} predictions answered")
        assert len(after) == 2 and not before & after, logs(server.name)
        assert set(pings.statuses) == {200}
        assert loads[0].failed == 0, loads[0].failures
    finally:
        docker("rm", "-f", server.name, check=False)


def test_a_replacement_worker_that_cannot_load_the_model_stops_serve(
    image: str, trained_model_dir: Path, tmp_path: Path
) -> None:
    shutil.copytree(trained_model_dir, tmp_path / "model")
    server = start_server(image, tmp_path, "-e", "SAGEMAKER_MODEL_SERVER_WORKERS=2")
    try:
        server.wait_healthy()
        (tmp_path / "model" / "model.txt").unlink()
        send_signal(server.name, "KILL", gunicorn_worker_pids(server.name)[0])
        exit_code = int(docker("wait", server.name, timeout=40).stdout.strip())
        output = logs(server.name)
        assert exit_code == 1, output
        assert "model.txt is missing" in output
        assert "gunicorn exited with status" in output
    finally:
        docker("rm", "-f", server.name, check=False)


def test_a_killed_gunicorn_master_stops_serve_and_ping_with_it(image: str, trained_model_dir: Path) -> None:
    server = start_server(image, trained_model_dir.parent)
    try:
        server.wait_healthy()
        send_signal(server.name, "KILL", gunicorn_master_pid(server.name))
        exit_code = int(docker("wait", server.name, timeout=40).stdout.strip())
        assert exit_code == 1
        assert "gunicorn exited with status -9; stopping" in logs(server.name)
        assert server.ping_status() is None
    finally:
        docker("rm", "-f", server.name, check=False)
