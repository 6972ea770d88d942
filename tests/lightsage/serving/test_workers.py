"""gunicorn's master imports lightgbm for its workers without scikit-learn, which serving does not use; each
worker closes a connection as soon as it has answered and read the whole request."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lightsage.serving import workers

# A fresh interpreter: this test process has long imported lightgbm (and scikit-learn with it).
PROBE = """
import json, sys
from lightsage.serving.workers import on_starting
on_starting(None)
loaded = {name: name in sys.modules for name in ("lightgbm", "sklearn", "scipy.stats")}
import lightgbm, numpy
booster = lightgbm.train(
    {"objective": "binary", "verbose": -1, "min_data_in_leaf": 1},
    lightgbm.Dataset(numpy.arange(40.0).reshape(20, 2), label=[0, 1] * 10),
    num_boost_round=2,
)
import sklearn.metrics  # still importable for a script-mode recipe
predicted = len(booster.predict(numpy.zeros((3, 2))))
print(json.dumps({**loaded, "predicted": predicted, "sklearn_later": "sklearn" in sys.modules}))
"""


def test_the_master_imports_lightgbm_without_scikit_learn_and_it_stays_importable() -> None:
    result = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True)
    outcome = json.loads(result.stdout.strip().splitlines()[-1])
    assert outcome == {
        "lightgbm": True,
        "sklearn": False,
        "scipy.stats": False,
        "predicted": 3,
        "sklearn_later": True,
    }


def test_an_earlier_import_of_lightgbm_is_left_alone() -> None:
    assert "lightgbm" in sys.modules  # imported by the test session
    workers.import_lightgbm_alone()
    assert sys.modules["sklearn"] is not None


# A WSGI app for the worker tests: it answers without reading the request body.
UNREAD_BODY_APP = """
def application(environ, start_response):
    answer = b"answered " + environ["PATH_INFO"].encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(answer)))])
    return [answer]
"""


@pytest.fixture()
def proxied_gunicorn(tmp_path: Path) -> Iterator[Path]:
    """One gunicorn worker of serve's class on a unix socket, as serve starts it behind nginx."""
    (tmp_path / "unread_body_app.py").write_text(UNREAD_BODY_APP)
    socket_path = tmp_path / "gunicorn.sock"
    program = Path(workers.__file__).resolve().parents[2]
    command = [
        sys.executable, "-m", "gunicorn", "--bind", f"unix:{socket_path}", "--workers", "1",
        "--worker-class", "lightsage.serving.workers.ProxiedWorker", "--no-control-socket",
        "--chdir", str(tmp_path), "unread_body_app:application",
    ]  # fmt: skip
    server = subprocess.Popen(command, env={**os.environ, "PYTHONPATH": str(program)})
    try:
        deadline = time.monotonic() + 30
        while not _answers(socket_path):
            assert server.poll() is None, "gunicorn exited"
            assert time.monotonic() < deadline, "gunicorn did not answer within 30 s"
            time.sleep(0.1)
        yield socket_path
    finally:
        server.terminate()
        server.wait(timeout=30)


def _answers(socket_path: Path) -> bool:
    try:
        with _connected(socket_path) as client:
            client.sendall(b"GET /ready HTTP/1.0\r\n\r\n")
            return b"answered" in _read_to_end(client)
    except OSError:
        return False


def _connected(socket_path: Path) -> socket.socket:
    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    client.settimeout(10)
    client.connect(str(socket_path))
    return client


def _read_to_end(client: socket.socket) -> bytes:
    received = b""
    while chunk := client.recv(65536):
        received += chunk
    return received


def test_the_worker_closes_its_side_at_once_after_answering(proxied_gunicorn: Path) -> None:
    # gunicorn's own sync worker would only half-close and wait for this client to close first; a send
    # after the answer would still be read. Closed at once, the send finds no reader.
    with _connected(proxied_gunicorn) as client:
        client.sendall(b"GET /first HTTP/1.0\r\nHost: localhost\r\n\r\n")
        assert _read_to_end(client).endswith(b"answered /first")
        with pytest.raises(BrokenPipeError):
            client.sendall(b"x")


def test_a_body_the_app_did_not_read_is_read_before_the_close_so_the_answer_arrives_whole(
    proxied_gunicorn: Path,
) -> None:
    body = b"1," * 200_000
    with _connected(proxied_gunicorn) as client:
        client.sendall(
            b"POST /unread HTTP/1.0\r\nHost: localhost\r\nContent-Type: text/csv\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        answer = _read_to_end(client)
    assert answer.startswith(b"HTTP/1.0 200 OK") and answer.endswith(b"answered /unread")
