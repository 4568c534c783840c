"""The lock files (requirements.lock, requirements-core.lock) against pyproject.toml.

`make lock` re-resolves them with pip-tools and then stamps each with a fingerprint of
pyproject's dependency tables; the tests check that the stamp still matches (a dependency
changed without `make lock` fails CI), that every pin satisfies pyproject and has a hash, and
that what is installed is what the lock says. Standard library only: `make lock` runs it with
the system Python.

    python -m bot.ops.lockfile stamp requirements.lock requirements-core.lock
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STAMP = "# pyproject-fingerprint: "
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def fingerprint(pyproject: Path = ROOT / "pyproject.toml") -> str:
    """A hash of what decides the lock: requires-python, dependencies, optional dependencies."""
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    decisive = {"requires-python": project.get("requires-python"),
                "dependencies": sorted(project.get("dependencies", [])),
                "optional-dependencies": {k: sorted(v) for k, v in
                                          sorted(project.get("optional-dependencies", {}).items())}}
    return hashlib.sha256(json.dumps(decisive, sort_keys=True).encode()).hexdigest()[:16]


def stamped(lock: Path) -> str | None:
    for line in lock.read_text(encoding="utf-8").splitlines():
        if line.startswith(STAMP):
            return line[len(STAMP):].strip()
    return None


def pins(lock: Path) -> dict[str, tuple[str, int]]:
    """Package (canonical name) -> (version, number of hashes) for every pin in `lock`."""
    out: dict[str, tuple[str, int]] = {}
    current = None
    for line in lock.read_text(encoding="utf-8").splitlines():
        match = _PIN.match(line)
        if match:
            current = canonical(match.group(1))
            out[current] = (match.group(2), 0)
        elif current and line.strip().startswith("--hash="):
            version, count = out[current]
            out[current] = (version, count + 1)
        elif not line.startswith(" "):
            current = None
    return out


def stamp(locks: list[Path], pyproject: Path = ROOT / "pyproject.toml") -> None:
    mark = STAMP + fingerprint(pyproject)
    for lock in locks:
        lines = [l for l in lock.read_text(encoding="utf-8").splitlines() if not l.startswith(STAMP)]
        lock.write_text("\n".join([mark, *lines]) + "\n", encoding="utf-8")


if __name__ == "__main__":
    if len(sys.argv) < 3 or sys.argv[1] != "stamp":
        sys.exit("usage: python -m bot.ops.lockfile stamp LOCK...")
    stamp([Path(p) for p in sys.argv[2:]])
