"""Hostile input against the running container: property-based payloads (plain, compressed, or claiming an
encoding they do not have), schemathesis over the OpenAPI file.

Passes when no request gets a 5xx, every error body is JSON, and the gunicorn workers that started are the
ones still serving afterwards (none crashed or was replaced).
"""

from __future__ import annotations

import gzip
import json
import re
import subprocess
import sys
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from testsupport import REPOSITORY_ROOT, Server, docker, healthy_server

pytestmark = pytest.mark.container
COLUMNS = "PassengerId,Pclass,Name,Sex,Age,SibSp,Parch,Ticket,Fare,Cabin,Embarked".split(",")
CONTENT_TYPES = [
    "text/csv",
    "application/json",
    "application/jsonlines",
    "text/plain",
    "application/json; charset=latin-1",
]
FUZZ_EXAMPLES = 400


def worker_pids(name: str) -> set[str]:
    processes = docker("top", name, "-eo", "pid,args").stdout.splitlines()[1:]
    workers = {line.split()[0] for line in processes if "gunicorn" in line}
    return workers


@pytest.fixture(scope="module")
def server(image: str, trained_model_dir: Path) -> Iterator[Server]:
    with healthy_server(image, trained_model_dir.parent) as running:
        yield running


field_text = st.one_of(
    st.text(max_size=30),
    st.sampled_from(
        ["", "NaN", "nan", "inf", "-Infinity", "1e309", "0x10", "\x00", '"', '""', "\n", "\r\n", ","]
    ),
    st.text(min_size=5000, max_size=20000, alphabet="ab\"',\n"),
)
json_scalar = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20),
    st.sampled_from([10**40, -(10**40), 1e308]),
)  # fmt: skip
json_value = st.recursive(
    json_scalar,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=30,
)


@st.composite
def csv_bodies(draw: st.DrawFn) -> bytes:
    width = draw(st.sampled_from([1, 10, 11, 12, 3000]))
    rows = draw(st.lists(st.lists(field_text, min_size=width, max_size=width), min_size=1, max_size=5))
    header = (
        [draw(st.sampled_from([*COLUMNS, "Survived", "junk"])) for _ in range(width)]
        if draw(st.booleans())
        else None
    )
    lines = ([",".join(header)] if header else []) + [",".join(row) for row in rows]
    return "\n".join(lines).encode(draw(st.sampled_from(["utf-8", "utf-16", "latin-1"])), errors="replace")


@st.composite
def json_bodies(draw: st.DrawFn) -> bytes:
    record = draw(st.dictionaries(st.sampled_from([*COLUMNS, "x"]), json_value, max_size=12))
    shape = draw(st.sampled_from(["record", "list", "instances", "deep", "constant"]))
    if shape == "deep":
        depth = draw(st.integers(min_value=100, max_value=50_000))
        return ("[" * depth + "]" * depth).encode()
    if shape == "constant":
        return (
            json.dumps({**record, "Age": "X"})
            .replace('"X"', draw(st.sampled_from(["NaN", "Infinity", "-Infinity"])))
            .encode()
        )
    document = {"record": record, "list": [record], "instances": {"instances": [record, draw(json_value)]}}[
        shape
    ]
    return json.dumps(document).encode()


bodies = st.one_of(st.binary(max_size=2000), csv_bodies(), json_bodies())


@settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    body=bodies,
    content_type=st.sampled_from(CONTENT_TYPES),
    accept=st.sampled_from(["*/*", "text/csv", "application/jsonlines", "x/y", ""]),
    encoding=st.sampled_from(["", "gzip", "deflate", "identity", "br", "gzip, deflate"]),
    compressed=st.booleans(),
)
def test_random_payloads_never_get_a_5xx(
    server: Server, body: bytes, content_type: str, accept: str, encoding: str, compressed: bool
) -> None:
    headers = {"Content-Type": content_type, "Accept": accept}
    if encoding:
        headers["Content-Encoding"] = encoding
    if compressed:
        body = zlib.compress(body) if encoding == "deflate" else gzip.compress(body)
    status, answered_type, answer = server.request("POST", "/invocations", body, headers)
    assert status < 500, answer[:300]
    if status >= 400:
        assert answered_type.startswith("application/json")
        assert json.loads(answer)["error"]


def test_no_worker_crashed_during_fuzzing(server: Server) -> None:
    before = worker_pids(server.name)
    for body in (b"\xff" * 100, b"[" * 100_000, b"a," * 200_000):
        status, _, _ = server.request("POST", "/invocations", body, {"Content-Type": "text/csv"})
        assert status < 500
    assert worker_pids(server.name) == before
    assert "Worker exiting" not in docker("logs", server.name).stderr
    assert server.ping_status() == 200


def test_schemathesis_finds_nothing_against_the_openapi_description(server: Server) -> None:
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "st"), "run", str(REPOSITORY_ROOT / "docs" / "openapi.yaml"),
            "--url", f"http://127.0.0.1:{server.port}", "--max-examples", "150", "--checks", "all",
            # CSV and JSON Lines bodies are strings whose grammar JSON Schema cannot express, so a random
            # "schema-valid" string is rightly rejected with 400.
            "--exclude-checks", "positive_data_acceptance", "--seed", "1",
        ],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:]
    generated = re.search(r"(\d+) generated, (\d+) passed", result.stdout)
    assert generated is not None, result.stdout[-2000:]
    print(f"schemathesis: {generated.group(0)}")
    assert int(generated.group(1)) >= 100
