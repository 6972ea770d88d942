"""Reading the folders a job or endpoint is handed: the model folder, the warm-start channel, the checkpoints.

Only regular files directly inside the folder are read, and never through a symbolic link: a link named
`model.txt` that points at /etc/passwd, /proc/self/environ or another model's file is refused, not followed,
and so is a folder that is itself a link. Each file is opened with O_NOFOLLOW relative to the opened folder,
then checked to be a regular file on the open descriptor, so nothing can swap it for a link in between. A FIFO
or device is refused without blocking on it.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import BinaryIO

from lightsage.errors import UserError


class UnsafeFile(UserError, OSError):
    """A path in a folder that is not a regular file (a symbolic link, a folder, a FIFO, a device)."""


def kind_of(path: Path) -> str:
    """What a path is, without following a link: 'file', 'folder', 'symbolic link', 'missing' or 'special'."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return "missing"
    if stat.S_ISLNK(mode):
        return "symbolic link"
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISDIR(mode):
        return "folder"
    return "special"


def _refusal(path: Path, kind: str) -> UnsafeFile:
    return UnsafeFile(
        errno.EPERM, f"{path} is a {kind}, not a regular file: only regular files in the folder are read"
    )


def check_folder(folder: Path) -> None:
    """UnsafeFile when the folder is a symbolic link or not a folder; FileNotFoundError when it is absent."""
    kind = kind_of(folder)
    if kind == "missing":
        raise FileNotFoundError(errno.ENOENT, f"{folder} does not exist", str(folder))
    if kind != "folder":
        raise UnsafeFile(
            errno.EPERM, f"{folder} is a {kind}, not a folder: the folder is read only when it is one itself"
        )


def open_file(folder: Path, name: str) -> BinaryIO:
    """The regular file `name` directly inside `folder`, opened for reading without following any link.

    FileNotFoundError when there is no such entry; UnsafeFile when it, or the folder, is not what it must be.
    """
    if not name or "/" in name or name in (".", ".."):
        raise ValueError(f"{name!r} is not a file name")
    check_folder(folder)
    directory = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        descriptor = os.open(
            name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=directory
        )
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise _refusal(folder / name, "symbolic link") from None
        if error.errno == errno.ENOENT:
            raise FileNotFoundError(
                errno.ENOENT, f"{folder / name} does not exist", str(folder / name)
            ) from None
        raise
    finally:
        os.close(directory)
    mode = os.fstat(descriptor).st_mode
    if not stat.S_ISREG(mode):
        os.close(descriptor)
        raise _refusal(folder / name, "folder" if stat.S_ISDIR(mode) else "special file")
    os.set_blocking(descriptor, True)
    return os.fdopen(descriptor, "rb")


def read_bytes(folder: Path, name: str) -> bytes:
    with open_file(folder, name) as handle:
        return handle.read()


def regular_files(folder: Path) -> list[str]:
    """The names of the regular files directly inside the folder (links and folders left out), sorted."""
    check_folder(folder)
    with os.scandir(folder) as entries:
        return sorted(entry.name for entry in entries if entry.is_file(follow_symlinks=False))


def listing(folder: Path) -> list[str]:
    """Every entry of the folder for a message: folders end in '/', links in ' (symbolic link)'."""
    if kind_of(folder) != "folder":
        return []
    shown = []
    with os.scandir(folder) as entries:
        for entry in sorted(entries, key=lambda entry: entry.name):
            if entry.is_symlink():
                shown.append(f"{entry.name} (symbolic link)")
            elif entry.is_dir(follow_symlinks=False):
                shown.append(f"{entry.name}/")
            else:
                shown.append(entry.name)
    return shown
