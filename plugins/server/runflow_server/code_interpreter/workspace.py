"""A session's `/mnt/data` seen from the server: put files in, find what the code wrote.

The code may leave anything there, symbolic links included, and may still be running in the
background while the server looks. So the server never follows a link: it walks the directory
by file descriptors (`os.fwalk`), opens with `O_NOFOLLOW` relative to its directory, and keeps
only regular files. A link to `/etc/shadow` named `out.csv` is skipped, never read, and never
written through.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .outputs import WrittenFile

__all__ = [
    "InputFile",
    "Snapshot",
    "changed",
    "read_written",
    "remove",
    "safe_name",
    "snapshot",
    "total_bytes",
    "write_input",
]

Snapshot = dict[str, tuple[int, int]]  # relative path -> (size, mtime_ns)
_UNSAFE = re.compile(r"[\x00-\x1f/\\]")
_MAX_ENTRIES = 10_000


@dataclass(frozen=True)
class InputFile:
    """A file to show the code at `/mnt/data/<name>`.

    Attributes:
        name: its file name (a path is cut to its last part).
        source_id: what it is (a file id): a session gets each source once.
        read: its bytes, read only when the session does not have it yet.
    """

    name: str
    source_id: str
    read: Callable[[], bytes]


def safe_name(name: str, fallback: str) -> str:
    """A file name that stays in `/mnt/data`: the last part of `name`, no control characters."""
    cleaned = _UNSAFE.sub("_", name.replace("\\", "/").rsplit("/", 1)[-1]).strip()
    return fallback if cleaned in ("", ".", "..") else cleaned[:255]


def snapshot(directory: Path) -> Snapshot:
    """The regular files under `directory` (at most 10,000), without following links."""
    found: Snapshot = {}
    for top, _dirs, files, top_fd in os.fwalk(directory):
        for name in files:
            try:
                info = os.stat(name, dir_fd=top_fd, follow_symlinks=False)
            except OSError:
                continue
            if stat.S_ISREG(info.st_mode):
                relative = os.path.relpath(os.path.join(top, name), directory)
                found[relative] = (info.st_size, info.st_mtime_ns)
            if len(found) >= _MAX_ENTRIES:
                return found
    return found


def total_bytes(files: Snapshot) -> int:
    """The size of all the files of a snapshot."""
    return sum(size for size, _ in files.values())


def changed(before: Snapshot, after: Snapshot) -> list[str]:
    """The files of `after` that are new or different since `before`, sorted."""
    return sorted(path for path, state in after.items() if before.get(path) != state)


def read_written(directory: Path, paths: list[str], *, max_bytes: int) -> list[WrittenFile]:
    """The contents of `paths` (relative to `directory`), up to `max_bytes` in all."""
    written: list[WrittenFile] = []
    budget = max_bytes
    for relative in paths:
        content = _read_regular(directory, relative, budget)
        if content is None:
            continue
        budget -= len(content)
        written.append(WrittenFile(f"/mnt/data/{relative}", content))
    return written


_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def _open_parent(directory: Path, relative: str) -> tuple[int, str] | None:
    """A descriptor of the directory holding `relative` and its last part, reached without
    following any link; None when there is no such directory."""
    parts = relative.split("/")
    try:
        fd = os.open(directory, _DIR_FLAGS)
    except OSError:
        return None
    for part in parts[:-1]:
        try:
            inner = os.open(part, _DIR_FLAGS, dir_fd=fd)
        except OSError:
            os.close(fd)
            return None
        os.close(fd)
        fd = inner
    return fd, parts[-1]


def _read_regular(directory: Path, relative: str, budget: int) -> bytes | None:
    """The bytes of a regular file, reached without following any link; None otherwise."""
    parent = _open_parent(directory, relative)
    if parent is None:
        return None
    fd, name = parent
    try:
        file_fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=fd)
    except OSError:
        return None
    finally:
        os.close(fd)
    with os.fdopen(file_fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode) or info.st_size > budget:
            return None
        return handle.read(budget + 1)[:budget]


def write_input(directory: Path, name: str, content: bytes, uid: int | None) -> None:
    """Write `content` as `directory/name`, replacing whatever is there (a link is removed,
    never followed), owned by the session's uid."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    dir_fd = os.open(directory, _DIR_FLAGS)
    try:
        try:
            os.unlink(name, dir_fd=dir_fd)
        except FileNotFoundError:
            pass
        except IsADirectoryError:
            raise FileExistsError(f"/mnt/data/{name} is a directory") from None
        fd = os.open(name, flags, 0o644, dir_fd=dir_fd)
        with os.fdopen(fd, "wb") as handle:
            if uid is not None:
                os.fchown(handle.fileno(), uid, uid)
            handle.write(content)
    finally:
        os.close(dir_fd)


def remove(directory: Path, relative: str) -> None:
    """Remove a file (never through a link); a missing one is fine."""
    parent = _open_parent(directory, relative)
    if parent is None:
        return
    fd, name = parent
    try:
        os.unlink(name, dir_fd=fd)
    except OSError:
        pass
    finally:
        os.close(fd)
