"""`<data_dir>/homeroom.pid`: which process is the running bot, so `homeroom reload` knows whom
to signal and `homeroom db restore` knows not to pull the file from under it.

The file holds the pid and, where /proc exists, the process's start time: a pid left behind by a
crash and later reused by an unrelated process is then recognised as stale, not as "running".
"""

from __future__ import annotations

import os
from pathlib import Path

from bot.config import Settings

NAME = "homeroom.pid"


class AlreadyRunning(RuntimeError):
    """Another live Homeroom bot wrote the pid file."""

    def __init__(self, path: Path, pid: int) -> None:
        super().__init__(f"another Homeroom bot is running (pid {pid}, {path}); stop it first")
        self.pid = pid


def pid_path(settings: Settings) -> Path:
    return Path(settings.data_dir) / NAME


def _start_time(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (Linux), or None where unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # the command name (field 2) may hold spaces and parentheses: fields after the last ')'
    return stat.rpartition(")")[2].split()[19]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def running_pid(path: Path) -> int | None:
    """The pid in the file when that process still runs; None when absent, unreadable or stale."""
    try:
        parts = Path(path).read_text().split()
        pid = int(parts[0])
    except (OSError, ValueError, IndexError):
        return None
    if pid <= 0 or not _alive(pid):
        return None
    recorded = parts[1] if len(parts) > 1 else None
    if recorded is not None:
        current = _start_time(pid)
        if current is not None and current != recorded:
            return None  # the pid was reused by another process
    return pid


def write(path: Path) -> Path:
    """Record this process as the running bot. Raises AlreadyRunning when another live bot holds
    the file; a stale file is replaced."""
    path = Path(path)
    other = running_pid(path)
    if other is not None and other != os.getpid():
        raise AlreadyRunning(path, other)
    path.parent.mkdir(parents=True, exist_ok=True)
    pid = os.getpid()
    start = _start_time(pid)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(f"{pid}\n{start}\n" if start else f"{pid}\n")
    os.replace(tmp, path)
    return path


def remove(path: Path) -> None:
    """Remove the file if it is still ours (a newer bot may have replaced a stale one)."""
    path = Path(path)
    try:
        if int(path.read_text().split()[0]) == os.getpid():
            path.unlink()
    except (OSError, ValueError, IndexError):
        pass


class PidFile:
    """`with PidFile(pid_path(settings)):` around a runner's lifetime."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def __enter__(self) -> "PidFile":
        write(self.path)
        return self

    def __exit__(self, *exc: object) -> None:
        remove(self.path)
