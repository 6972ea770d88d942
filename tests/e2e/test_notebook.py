"""The walkthrough notebook: committed without outputs, and run headless end to end in local mode.

The run uses a real Jupyter kernel on this virtualenv's Python (nbclient), in the notebook's own folder,
with the image named by BYOC_IMAGE. Every process the kernel starts carries a marker in its environment and
every local-mode container lives below the test's temporary folder, so the test can tell that the notebook
stopped all of it.
"""

from __future__ import annotations

import ast
import contextlib
import os
import re
import signal
import socket
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import nbformat
import pytest
from ipykernel.kernelspec import write_kernel_spec
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
from nbformat import NotebookNode

from lightsage_deploy.project import project
from lightsage_deploy.targets.docker import image_references, local_mode_containers, remove_containers

from testsupport import EXAMPLE_PROJECT_FILE, REPOSITORY_ROOT

NOTEBOOK = REPOSITORY_ROOT / "deploy" / "walkthrough.ipynb"
CELL_TIMEOUT_SECONDS = 600
MINIMUM_AUC = 0.85
RUN_MARKER = "BYOC_WALKTHROUGH_RUN"
STOP_TIMEOUT_SECONDS = 10.0

# Runs first in the kernel: the kernel must be this virtualenv's Python, and, as in conftest.py's
# loopback_only, any connection beyond 127.0.0.1/::1 fails instead of leaving the machine.
GUARD_CELL = """\
import ipaddress as _ipaddress
import socket as _socket
import sys as _sys

if _sys.prefix != {prefix!r}:
    raise RuntimeError(f"the kernel runs {{_sys.executable}}, not the test's virtualenv {prefix!r}")
_blocked_connections = []


def _guarded(connect):
    def guarded(sock, address):
        if sock.family in (_socket.AF_INET, _socket.AF_INET6):
            host = address[0]
            try:
                loopback = _ipaddress.ip_address(host).is_loopback
            except ValueError:
                loopback = host == "localhost"
            if not loopback:
                _blocked_connections.append(f"{{host}}:{{address[1]}}")
                raise OSError(f"the walkthrough test allows loopback connections only, not {{host}}")
        return connect(sock, address)

    return guarded


_socket.socket.connect = _guarded(_socket.socket.connect)
_socket.socket.connect_ex = _guarded(_socket.socket.connect_ex)
"""
BLOCKED_CHECK_CELL = "assert not _blocked_connections, f'blocked connections: {_blocked_connections}'"


def parameter_values(source: str) -> dict[str, Any]:
    """The NAME = literal assignments of a parameters cell (anything else there is an error)."""
    values: dict[str, Any] = {}
    for statement in ast.parse(source).body:
        assert isinstance(statement, ast.Assign), f"not a plain assignment: {ast.unparse(statement)}"
        assert len(statement.targets) == 1 and isinstance(statement.targets[0], ast.Name)
        values[statement.targets[0].id] = ast.literal_eval(statement.value)
    return values


def code_cells(notebook: NotebookNode) -> list[NotebookNode]:
    return [cell for cell in notebook.cells if cell.cell_type == "code"]


def with_parameters(notebook: NotebookNode, **values: Any) -> NotebookNode:
    """Papermill-style: an `injected-parameters` cell right after the `parameters` cell."""
    index = next(
        position
        for position, cell in enumerate(notebook.cells)
        if "parameters" in cell.metadata.get("tags", [])
    )
    source = "\n".join(f"{name} = {value!r}" for name, value in values.items())
    injected = nbformat.v4.new_code_cell(source, metadata={"tags": ["injected-parameters"]})
    notebook.cells.insert(index + 1, injected)
    return notebook


def execute(notebook: NotebookNode, environment: dict[str, str]) -> None:
    """Run every cell; when one fails, still run the notebook's last cell (its cleanup), then re-raise."""
    cleanup_cell = code_cells(notebook)[-1]
    client = NotebookClient(
        notebook,
        timeout=CELL_TIMEOUT_SECONDS,
        startup_timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOK.parent)}},
    )
    client.reset_execution_trackers()
    with client.setup_kernel(env=environment):
        try:
            for index, cell in enumerate(notebook.cells):
                client.execute_cell(cell, index, execution_count=client.code_cells_executed + 1)
        except CellExecutionError:
            index = next(position for position, cell in enumerate(notebook.cells) if cell is cleanup_cell)
            try:
                client.execute_cell(cleanup_cell, index)
            except CellExecutionError as cleanup_error:
                print(f"the cleanup cell failed too: {cleanup_error}", file=sys.stderr)
            raise


def processes_with(marker: str) -> list[int]:
    """PIDs of the processes whose environment holds RUN_MARKER=marker (the kernel's descendants)."""
    needle = f"{RUN_MARKER}={marker}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environment = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if needle in environment:
            found.append(int(entry.name))
    return found


def stop_processes(pids: list[int]) -> None:
    """SIGTERM, then SIGKILL after STOP_TIMEOUT_SECONDS, for processes this test's kernel started."""
    for sent in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sent)
        deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
        while time.monotonic() < deadline and any(Path(f"/proc/{pid}").exists() for pid in pids):
            time.sleep(0.1)


def listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(1.0)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def outputs(notebook: NotebookNode) -> list[NotebookNode]:
    return [output for cell in code_cells(notebook) for output in cell.get("outputs", [])]


def printed_text(notebook: NotebookNode) -> str:
    return "".join(
        output.text
        for output in outputs(notebook)
        if output.output_type == "stream" and output.name == "stdout"
    )


def test_committed_notebook_has_no_outputs_and_one_parameters_cell() -> None:
    notebook = nbformat.read(NOTEBOOK, as_version=nbformat.NO_CONVERT)
    nbformat.validate(notebook)
    cells = code_cells(notebook)

    assert [cell.id for cell in cells if cell.outputs] == [], "clear all outputs before committing"
    assert [cell.id for cell in cells if cell.execution_count is not None] == []
    tagged = [cell for cell in notebook.cells if "parameters" in cell.metadata.get("tags", [])]
    assert len(tagged) == 1, "exactly one cell is tagged `parameters`"
    assert tagged[0] is cells[0], "the parameters cell is the first code cell"
    assert parameter_values(tagged[0].source)["MODE"] == "local"
    assert notebook.metadata.kernelspec.name == "python3"


@pytest.mark.e2e
@pytest.mark.timeout(1800)
def test_walkthrough_runs_end_to_end_in_local_mode(
    image: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A kernel spec on exactly this interpreter, so a user-level `python3` kernel cannot take over.
    write_kernel_spec(tmp_path / "jupyter" / "kernels" / "python3")
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    marker = uuid.uuid4().hex
    environment = {
        **os.environ,
        "TMPDIR": str(scratch),  # the notebook's scratch folders, hence its compose files, land here
        "IPYTHONDIR": str(tmp_path / "ipython"),
        RUN_MARKER: marker,
    }
    notebook = with_parameters(nbformat.read(NOTEBOOK, as_version=4), MODE="local", SOURCE_IMAGE=image)
    notebook.cells.insert(0, nbformat.v4.new_code_cell(GUARD_CELL.format(prefix=sys.prefix)))
    notebook.cells.append(nbformat.v4.new_code_cell(BLOCKED_CHECK_CELL))

    try:
        execute(notebook, environment)
    finally:
        nbformat.write(notebook, tmp_path / "walkthrough.executed.ipynb")
        leftover_processes = processes_with(marker)
        stop_processes(leftover_processes)
        leftover_containers = local_mode_containers(under=tmp_path)
        remove_containers(leftover_containers)

    text = printed_text(notebook)
    aucs = [float(value) for value in re.findall(r"^validation auc: ([0-9.]+)$", text, re.MULTILINE)]
    assert len(aucs) == 1, f"expected one `validation auc: ...` line in:\n{text}"
    assert aucs[0] >= MINIMUM_AUC
    images = [output for output in outputs(notebook) if "image/png" in output.get("data", {})]
    assert len(images) >= 2, "expected the ROC curve and the feature importances as PNG images"

    assert leftover_processes == [], "the notebook left processes running (registry, S3 emulator, ...)"
    assert leftover_containers == [], "the notebook left local-mode (*-algo-*) containers behind"
    registry = re.search(r"^registry \(for ECR\): (localhost:(\d+))$", text, re.MULTILINE)
    s3 = re.search(r"^S3 emulator: +http://127\.0\.0\.1:(\d+)$", text, re.MULTILINE)
    assert registry and s3, f"the notebook did not print its registry and S3 emulator:\n{text}"
    assert not listening(int(registry.group(2))) and not listening(int(s3.group(1)))
    repository = project.load(EXAMPLE_PROJECT_FILE, environ={}).repository
    assert image_references(f"{registry.group(1)}/{repository}") == []
