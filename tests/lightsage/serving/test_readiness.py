import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from lightsage.serving.readiness import READINESS_DIR_VARIABLE, Readiness, is_live_child, report_model_loaded


@pytest.fixture
def children() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Stand-ins for gunicorn workers: real child processes of this test process."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for child in started:
        child.kill()
        child.wait()


def start_child(children: list[subprocess.Popen[bytes]], command: str = "/bin/sleep") -> int:
    child = subprocess.Popen([command, "60"])
    children.append(child)
    return child.pid


def mark_loaded(readiness: Readiness, pid: int) -> None:
    (readiness.markers_dir / f"{pid}.loaded").touch()


def test_a_worker_reports_into_the_folder_serve_names(tmp_path: Path) -> None:
    report_model_loaded({READINESS_DIR_VARIABLE: str(tmp_path)})
    assert [path.name for path in tmp_path.iterdir()] == [f"{os.getpid()}.loaded"]


def test_outside_serve_reporting_does_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    report_model_loaded({})
    assert list(tmp_path.iterdir()) == []


def test_live_child_of_the_named_parent_only(children: list[subprocess.Popen[bytes]], tmp_path: Path) -> None:
    pid = start_child(children)
    assert is_live_child(pid, os.getpid())
    assert not is_live_child(pid, os.getppid())
    assert not is_live_child(os.getpid(), os.getpid())
    # A command name holding ") (" cannot confuse the /proc/<pid>/stat parsing.
    odd_name = tmp_path / "a) S 1 (b"
    odd_name.symlink_to("/bin/sleep")
    assert is_live_child(start_child(children, str(odd_name)), os.getpid())


def test_a_killed_child_is_not_live_even_before_it_is_reaped(children: list[subprocess.Popen[bytes]]) -> None:
    pid = start_child(children)
    os.kill(pid, signal.SIGKILL)
    os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)  # exited, but still a zombie: not reaped yet
    assert not is_live_child(pid, os.getpid())
    children[-1].wait()
    assert not is_live_child(pid, os.getpid())


def test_ready_only_once_every_worker_has_loaded(
    children: list[subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    readiness = Readiness(tmp_path, workers=2)
    first, second = start_child(children), start_child(children)
    assert not readiness.update(os.getpid())
    mark_loaded(readiness, first)
    assert not readiness.update(os.getpid())
    assert not readiness.flag.exists()
    mark_loaded(readiness, second)
    assert readiness.update(os.getpid())
    assert readiness.flag.exists()
    assert readiness.loaded_workers(os.getpid()) == sorted([first, second])


def test_markers_of_dead_workers_or_other_processes_do_not_count(
    children: list[subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    readiness = Readiness(tmp_path, workers=2)
    loaded = start_child(children)
    mark_loaded(readiness, loaded)
    died = start_child(children)
    mark_loaded(readiness, died)
    children[-1].kill()
    children[-1].wait()
    mark_loaded(readiness, os.getppid())  # alive, but not a child of the "master"
    assert readiness.loaded_workers(os.getpid()) == [loaded]
    assert not readiness.update(os.getpid())
    replacement = start_child(children)
    mark_loaded(readiness, replacement)
    assert readiness.update(os.getpid())


def test_once_set_the_flag_stays_until_cleared(
    children: list[subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    readiness = Readiness(tmp_path, workers=1)
    mark_loaded(readiness, start_child(children))
    assert readiness.update(os.getpid())
    # A worker replaced later reloads the same model; if it cannot, gunicorn stops and serve clears the flag.
    children[-1].kill()
    children[-1].wait()
    assert readiness.update(os.getpid())
    readiness.clear()
    readiness.clear()
    assert not readiness.flag.exists()


def test_workers_report_through_the_environment_serve_gives_gunicorn(tmp_path: Path) -> None:
    readiness = Readiness(tmp_path, workers=1)
    subprocess.run(
        [
            sys.executable,
            "-c",
            "from lightsage.serving.readiness import report_model_loaded; report_model_loaded()",
        ],
        env={**os.environ, READINESS_DIR_VARIABLE: str(readiness.markers_dir)},
        check=True,
    )
    assert len(list(readiness.markers_dir.glob("*.loaded"))) == 1
