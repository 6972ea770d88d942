"""`docker run IMAGE serve` behind nginx, as a SageMaker endpoint runs it."""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil
import socket
import time
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from requestcases import BAD_REQUESTS
from testsupport import (
    VALIDATION_CSV,
    Server,
    docker,
    free_port,
    healthy_server,
    in_process_scores,
    logs,
    start_server,
)

pytestmark = pytest.mark.container
COLUMNS = "PassengerId,Pclass,Name,Sex,Age,SibSp,Parch,Ticket,Fare,Cabin,Embarked".split(",")


@pytest.fixture(scope="module")
def model_root(trained_model_dir: Path) -> Path:
    return trained_model_dir.parent


@pytest.fixture(scope="module")
def server(image: str, model_root: Path) -> Iterator[Server]:
    with healthy_server(image, model_root) as running:
        yield running


def predicted_probabilities(body: bytes, content_type: str) -> list[float]:
    if content_type.startswith("application/jsonlines"):
        return [json.loads(line)["probability"] for line in body.decode().splitlines()]
    if content_type.startswith("application/json"):
        return [item["probability"] for item in json.loads(body)["predictions"]]
    return [float(line.split(",")[1]) for line in body.decode().splitlines()]


def request_bodies(frame: pd.DataFrame) -> dict[str, tuple[str, str]]:
    features = frame.drop(columns=["Survived"])
    records = json.loads(features.to_json(orient="records"))
    return {
        "csv with header": (frame.to_csv(index=False), "text/csv"),
        "csv without header": (
            features[COLUMNS].to_csv(index=False, header=False),
            "text/csv; charset=utf-8",
        ),
        "json instances": (json.dumps({"instances": records}), "application/json"),
        "json list": (json.dumps(records), "application/json"),
        "json lines": ("\n".join(json.dumps(record) for record in records), "application/jsonlines"),
    }


@pytest.mark.parametrize("accept", ["application/json", "text/csv", "application/jsonlines"])
def test_every_input_form_gives_the_in_process_probabilities(
    server: Server, trained_model_dir: Path, accept: str
) -> None:
    frame = pd.read_csv(VALIDATION_CSV)
    expected = in_process_scores(trained_model_dir, VALIDATION_CSV)
    for form, (body, content_type) in request_bodies(frame).items():
        status, answered_type, answer = server.request(
            "POST", "/invocations", body, {"Content-Type": content_type, "Accept": accept}
        )
        assert status == 200, (form, answer)
        assert answered_type.startswith(accept)
        np.testing.assert_allclose(predicted_probabilities(answer, accept), expected, rtol=0, atol=1e-12)


def test_single_passenger_json_record(server: Server) -> None:
    record = {
        "Pclass": 1, "Name": "Cumings, Mrs. John Bradley", "Sex": "female", "Age": 38, "SibSp": 1, "Parch": 0,
        "Ticket": "PC 17599", "Fare": 71.28, "Cabin": "C85", "Embarked": "C",
    }  # fmt: skip
    status, _, answer = server.request(
        "POST", "/invocations", json.dumps(record), {"Content-Type": "application/json"}
    )
    assert status == 200
    assert json.loads(answer)["predictions"][0]["label"] == 1


@pytest.mark.parametrize(
    ("encoding", "compress"),
    [("gzip", gzip.compress), ("deflate", zlib.compress), ("x-gzip", gzip.compress)],
)
def test_a_compressed_body_passes_nginx_and_gets_the_plain_answers(
    server: Server, encoding: str, compress: Callable[[bytes], bytes]
) -> None:
    frame = pd.read_csv(VALIDATION_CSV)
    for form, (body, content_type) in request_bodies(frame).items():
        headers = {"Content-Type": content_type, "Accept": "text/csv"}
        plain = server.request("POST", "/invocations", body, headers)
        compressed = server.request(
            "POST", "/invocations", compress(body.encode()), {**headers, "Content-Encoding": encoding}
        )
        assert plain[0] == 200 and compressed[:2] == plain[:2], (form, compressed[2][:300])
        # the compiled trees may answer one of the two once they are ready: equal within 1e-9 relative
        assert labels(compressed[2]) == labels(plain[2]), form
        np.testing.assert_allclose(
            predicted_probabilities(compressed[2], "text/csv"),
            predicted_probabilities(plain[2], "text/csv"),
            rtol=1e-9,
            atol=0,
        )


def labels(csv_answer: bytes) -> list[str]:
    return [line.split(",")[0] for line in csv_answer.decode().splitlines()]


@pytest.mark.parametrize(
    ("body", "encoding", "status", "fragment"),
    [
        # 5.6 KB of gzip that inflates to 6 MiB and one byte: over the limit only once decompressed.
        (gzip.compress(b" " * (6 * 1024 * 1024 + 1), 9), "gzip", 413, "6 MB limit once decompressed"),
        (gzip.compress(b"1,2,3\n"), "br", 415, "unsupported Content-Encoding 'br'"),
        (b"1,2,3\n", "gzip", 400, "not valid gzip data"),
    ],
    ids=["zip bomb", "br", "not gzip"],
)
def test_bad_compressed_bodies_get_a_json_error(
    server: Server, body: bytes, encoding: str, status: int, fragment: str
) -> None:
    answered_status, answered_type, answer = server.request(
        "POST", "/invocations", body, {"Content-Type": "text/csv", "Content-Encoding": encoding}
    )
    assert answered_status == status and answered_type.startswith("application/json")
    assert fragment in json.loads(answer)["error"]
    assert server.ping_status() == 200


TRANSPORT_CASES = [
    ("POST", "/invocations", b"x" * (7 * 1024 * 1024), "text/csv", 413, "6 MB limit"),
    ("GET", "/nowhere", None, "text/csv", 404, "not found"),
    ("GET", "/invocations", None, "text/csv", 405, "Method Not Allowed"),
    ("POST", "/ping", b"", "text/csv", 405, "Method Not Allowed"),
]


@pytest.mark.parametrize(("body", "content_type", "status", "fragment"), BAD_REQUESTS)
def test_bad_input_gets_a_json_error_and_the_server_keeps_serving(
    server: Server, body: bytes | str, content_type: str, status: int, fragment: str
) -> None:
    answered_status, answered_type, answer = server.request(
        "POST", "/invocations", body, {"Content-Type": content_type}
    )
    assert answered_status == status
    assert answered_type.startswith("application/json")
    assert fragment in json.loads(answer)["error"]
    assert server.ping_status() == 200


@pytest.mark.parametrize(("method", "path", "body", "content_type", "status", "fragment"), TRANSPORT_CASES)
def test_transport_errors_are_json_too(
    server: Server, method: str, path: str, body: bytes | None, content_type: str, status: int, fragment: str
) -> None:
    answered_status, answered_type, answer = server.request(
        method, path, body, {"Content-Type": content_type}
    )
    assert answered_status == status
    assert answered_type.startswith("application/json")
    assert fragment in json.loads(answer)["error"]
    assert server.ping_status() == 200


def test_unsupported_accept_is_406(server: Server) -> None:
    status, _, answer = server.request(
        "POST",
        "/invocations",
        VALIDATION_CSV.read_bytes(),
        {"Content-Type": "text/csv", "Accept": "image/png"},
    )
    assert status == 406 and "image/png" in json.loads(answer)["error"]


def test_execution_parameters(server: Server) -> None:
    status, _, answer = server.request("GET", "/execution-parameters")
    assert status == 200
    assert set(json.loads(answer)) == {"MaxConcurrentTransforms", "BatchStrategy", "MaxPayloadInMB"}


def test_larger_payload_limit_for_batch_transform(image: str, model_root: Path) -> None:
    running = start_server(image, model_root, "-e", "SAGEMAKER_MAX_PAYLOAD_IN_MB=20")
    try:
        running.wait_healthy()
        rows = VALIDATION_CSV.read_text().splitlines()
        body = "\n".join([rows[0]] + rows[1:] * 600)
        assert 6 * 1024 * 1024 < len(body) < 20 * 1024 * 1024
        status, _, answer = running.request("POST", "/invocations", body, {"Content-Type": "text/csv"})
        assert status == 200
        assert len(json.loads(answer)["predictions"]) == 179 * 600
        status, _, answer = running.request("GET", "/execution-parameters")
        assert json.loads(answer)["MaxPayloadInMB"] == 20
    finally:
        docker("rm", "-f", running.name, check=False)


def test_bind_to_port_on_the_host_network(image: str, model_root: Path) -> None:
    port = free_port()
    name = f"byoc-serve-port-{port}"
    docker(
        "run", "-d", "--name", name, "--network", "host", "-e", f"SAGEMAKER_BIND_TO_PORT={port}",
        "-v", f"{model_root}:/opt/ml", image, "serve",
    )  # fmt: skip
    try:
        Server(name, port).wait_healthy()
    finally:
        docker("rm", "-f", name, check=False)


def test_sigterm_lets_the_in_flight_request_finish_and_exits_0(image: str, model_root: Path) -> None:
    running = start_server(image, model_root)
    try:
        running.wait_healthy()
        body = VALIDATION_CSV.read_bytes()
        with socket.create_connection(("127.0.0.1", running.port), timeout=30) as client:
            head = (
                "POST /invocations HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\n"
                f"Content-Length: {len(body)}\r\n\r\n"
            )
            client.sendall(head.encode() + body[: len(body) // 2])
            time.sleep(0.3)
            docker("kill", "--signal", "TERM", running.name)
            stopped_at = time.monotonic()
            time.sleep(0.5)
            client.sendall(body[len(body) // 2 :])
            answer = b""
            while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
                chunk = client.recv(65536)
                if not chunk:
                    break
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
        assert len(json.loads(answer.split(b"\r\n\r\n", 1)[1])["predictions"]) == 179
        exit_code = int(docker("wait", running.name, timeout=40).stdout.strip())
        assert exit_code == 0, logs(running.name)
        assert time.monotonic() - stopped_at < 30
    finally:
        docker("rm", "-f", running.name, check=False)


def test_an_empty_model_folder_never_reports_healthy(image: str, tmp_path: Path) -> None:
    (tmp_path / "model").mkdir()
    running = start_server(image, tmp_path)
    try:
        statuses = set()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            state = docker("inspect", "--format", "{{.State.Status}}", running.name).stdout.strip()
            if state == "exited":
                break
            statuses.add(running.ping_status())
            time.sleep(0.1)
        assert 200 not in statuses
        assert docker("inspect", "--format", "{{.State.Status}}", running.name).stdout.strip() == "exited"
        assert int(docker("inspect", "--format", "{{.State.ExitCode}}", running.name).stdout) != 0
        assert "manifest.json is missing" in logs(running.name)
    finally:
        docker("rm", "-f", running.name, check=False)


def test_a_corrupt_model_never_reports_healthy(image: str, tmp_path: Path, trained_model_dir: Path) -> None:
    model_dir = tmp_path / "model"
    shutil.copytree(trained_model_dir, model_dir)
    (model_dir / "model.txt").write_text("garbage")
    running = start_server(image, tmp_path)
    try:
        exit_code = int(docker("wait", running.name, timeout=30).stdout.strip())
        assert exit_code != 0
        assert "model.txt is not the file this model was saved with" in logs(running.name)
    finally:
        docker("rm", "-f", running.name, check=False)


def never_healthy(running: Server, seconds: float = 30) -> str:
    """Poll /ping until the container exits: it must never answer 200. Returns the container's log."""
    statuses = set()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if docker("inspect", "--format", "{{.State.Status}}", running.name).stdout.strip() == "exited":
            break
        statuses.add(running.ping_status())
        time.sleep(0.1)
    assert 200 not in statuses
    assert int(docker("inspect", "--format", "{{.State.ExitCode}}", running.name).stdout) != 0
    return logs(running.name)


@pytest.mark.parametrize("target", ["/etc/passwd", "/proc/self/environ", "../../../etc/passwd"])
@pytest.mark.parametrize("name", ["model.txt", "recipe_state-1.parquet"])
def test_a_model_file_linked_out_of_the_folder_is_never_read(
    image: str, tmp_path: Path, trained_model_dir: Path, name: str, target: str
) -> None:
    """Issue 18, item 9: serve followed links out of /opt/ml/model. The link resolves inside the container."""
    model_dir = tmp_path / "model"
    shutil.copytree(trained_model_dir, model_dir)
    (model_dir / name).unlink()
    (model_dir / name).symlink_to(target)
    running = start_server(image, tmp_path)
    try:
        output = never_healthy(running)
        assert f"/opt/ml/model/{name} is a symbolic link, not a regular file" in output
        assert "root:x:0:0" not in output and "PATH=" not in output
    finally:
        docker("rm", "-f", running.name, check=False)


def test_a_state_that_does_not_fit_its_recipe_never_reports_healthy(
    image: str, tmp_path: Path, tabular_model_dir: Path
) -> None:
    """Issue 18, item 5: a category table missing from the state gave /ping 200, then a 500 per request."""
    model_dir = tmp_path / "model"
    shutil.copytree(tabular_model_dir, model_dir)
    state = json.loads((model_dir / "recipe_state.json").read_text())
    del state["categories"]["Embarked"]
    data = json.dumps(state).encode()
    (model_dir / "recipe_state.json").write_bytes(data)
    manifest = json.loads((model_dir / "manifest.json").read_text())
    manifest["files"]["recipe_state.json"] = "sha256:" + hashlib.sha256(data).hexdigest()
    (model_dir / "manifest.json").write_text(json.dumps(manifest))
    running = start_server(image, tmp_path)
    try:
        output = never_healthy(running)
        assert "recipe_state.json does not fit recipe 'tabular'" in output
        assert "the state has no category table for column(s) Embarked" in output
    finally:
        docker("rm", "-f", running.name, check=False)


def test_a_pickle_planted_in_the_model_folder_never_runs(
    image: str, tmp_path: Path, trained_model_dir: Path
) -> None:
    model_dir = tmp_path / "model"
    shutil.copytree(trained_model_dir, model_dir)
    payload = b"cos\nsystem\n(S'touch /opt/ml/model/pwned'\ntR."
    for name in ("model.joblib", "model.pkl", "recipe_state.pkl"):
        (model_dir / name).write_bytes(payload)
    running = start_server(image, tmp_path)
    try:
        running.wait_healthy()
        status, _, _ = running.request(
            "POST", "/invocations", VALIDATION_CSV.read_bytes(), {"Content-Type": "text/csv"}
        )
        assert status == 200
        assert not (model_dir / "pwned").exists()
    finally:
        docker("rm", "-f", running.name, check=False)


def test_an_old_model_gets_a_retrain_message(image: str, tmp_path: Path) -> None:
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    (model_dir / "model.joblib").write_bytes(b"\x80\x04old")
    (model_dir / "input_schema.json").write_text("{}")
    running = start_server(image, tmp_path)
    try:
        assert int(docker("wait", running.name, timeout=30).stdout.strip()) != 0
        assert "retrain the model with this image" in logs(running.name)
    finally:
        docker("rm", "-f", running.name, check=False)


def test_bad_serving_settings_stop_with_a_named_reason(image: str, model_root: Path) -> None:
    volume = f"{model_root}:/opt/ml"
    result = docker(
        "run", "--rm", "-e", "SAGEMAKER_MODEL_SERVER_WORKERS=lots", "-v", volume, image, "serve", check=False
    )  # fmt: skip
    assert result.returncode == 2
    assert "SAGEMAKER_MODEL_SERVER_WORKERS='lots' is not a whole number" in result.stderr


def test_the_rendered_nginx_config_is_valid(image: str) -> None:
    script = (
        "from pathlib import Path; from lightsage.serving.server import render_nginx_config; "
        "from lightsage.serving.settings import ServingSettings; "
        "Path('/tmp/n.conf').write_text(render_nginx_config(ServingSettings.from_environment({}), "
        "Path('/tmp'), Path('/tmp/s.sock'), Path('/tmp/ready')))"
    )
    result = docker(
        "run", "--rm", image, "bash", "-c", f'python3 -c "{script}" && nginx -t -c /tmp/n.conf', check=False
    )
    assert result.returncode == 0, result.stderr
