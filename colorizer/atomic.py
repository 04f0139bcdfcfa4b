"""Atomic file writes: a file appears complete under its final name or not at all, even if the process is killed.

The bytes go to a temporary file in the same folder (same file system, so the rename is atomic), are fsynced,
then renamed (or hard-linked, when an existing file must not be replaced). The temporary names follow
TEMP_PATTERN, `.<final name>.<pid>-<8 hex digits>.tmp`, so a later run can recognise and remove the ones a
killed process left behind (remove_stale_temps) without touching anyone else's files.
"""

from __future__ import annotations

import errno
import os
import re
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

TEMP_PATTERN = re.compile(r"\.(?P<name>.+)\.(?P<pid>\d+)-[0-9a-f]{8}\.tmp")
STALE_AGE = 3600.0  # seconds; only where a writer's process cannot be probed (not POSIX)


def temp_path(path: Path) -> Path:
    """A fresh temporary name beside `path` (unique per process and call, so threads never share one)."""
    return path.with_name(f".{path.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp")


def atomic_write(path: str | Path, data: bytes | Callable[[BinaryIO], object], overwrite: bool = True) -> None:
    """Write `data` (bytes, or a function that writes to the open binary file) to `path` atomically.

    With overwrite=False an existing `path` is never replaced: FileExistsError, and nothing is written.
    """
    path = Path(path)
    tmp = temp_path(path)
    try:
        with open(tmp, "xb") as f:
            if callable(data):
                data(f)
            else:
                f.write(data)
            f.flush()
            os.fsync(f.fileno())  # the data is on disk before the name points at it
        if overwrite:
            os.replace(tmp, path)
        else:
            _link_new(tmp, path)
        _fsync_dir(path.parent)  # the new name itself survives a power cut
    finally:
        tmp.unlink(missing_ok=True)  # after os.link the final name keeps the data


def _link_new(tmp: Path, path: Path) -> None:
    """Give `tmp`'s complete data the name `path`, failing with FileExistsError if `path` exists."""
    try:
        os.link(tmp, path)  # atomic, and refuses an existing name
    except FileExistsError:
        raise
    except OSError:  # a file system without hard links (some network and FAT ones): check, then rename
        if path.exists():
            raise FileExistsError(errno.EEXIST, "File exists", str(path)) from None
        os.replace(tmp, path)


def _fsync_dir(folder: Path) -> None:
    """fsync a folder's entry list where the platform allows it (not on Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _writer_gone(pid: int, tmp: Path) -> bool:
    """Whether the process that named `tmp` has ended (so the file is an abandoned half-write)."""
    if os.name != "posix":  # os.kill(pid, 0) would terminate the process on Windows: go by age instead
        return time.time() - tmp.stat().st_mtime > STALE_AGE
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, under another user
        return False
    return False


def remove_stale_temps(folder: str | Path) -> list[Path]:
    """Delete the temporary files of atomic_write in `folder` whose writing process has ended; the list removed.

    Only names matching TEMP_PATTERN are considered, and a live writer's files (another run writing to the same
    folder) are left alone.
    """
    removed = []
    for p in Path(folder).iterdir():
        m = TEMP_PATTERN.fullmatch(p.name)
        if m and p.is_file() and _writer_gone(int(m["pid"]), p):
            p.unlink(missing_ok=True)
            removed.append(p)
    return removed
