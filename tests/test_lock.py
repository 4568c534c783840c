"""A fresh install gets what CI tested: the locks match pyproject.toml, pin every package with a
hash, and are what this environment has installed."""

from __future__ import annotations

import tomllib
from importlib import metadata

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

from bot.ops.lockfile import ROOT, canonical, fingerprint, pins, stamped

LOCKS = {"requirements.lock": ("translate", "dev"), "requirements-core.lock": ("dev",)}


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


@pytest.mark.parametrize("lock", LOCKS)
def test_the_lock_was_made_from_this_pyproject(lock):
    assert stamped(ROOT / lock) == fingerprint(), (
        f"{lock} was locked from another pyproject.toml: run `make lock` and commit both locks")


@pytest.mark.parametrize("lock", LOCKS)
def test_every_dependency_is_pinned_within_its_range_with_hashes(lock):
    pinned = pins(ROOT / lock)
    project = _project()
    wanted = [Requirement(r) for r in project["dependencies"]]
    for extra in LOCKS[lock]:
        wanted += [Requirement(r) for r in project["optional-dependencies"][extra]]
    for req in wanted:
        name = canonical(req.name)
        assert name in pinned, f"{req.name} is in pyproject.toml but not in {lock}"
        version = Version(pinned[name][0])
        public = Version(version.public)  # 2.13.0+cpu satisfies ==2.13.0
        assert req.specifier.contains(public, prereleases=True), f"{lock}: {req.name}=={version} outside {req}"
    assert all(count > 0 for _, count in pinned.values()), f"{lock}: a pin without --hash"


def test_what_is_installed_is_what_the_lock_says():
    try:
        metadata.version("torch")
        lock = "requirements.lock"
    except metadata.PackageNotFoundError:
        lock = "requirements-core.lock"
    wrong = []
    for name, (version, _) in pins(ROOT / lock).items():
        try:
            have = metadata.version(name)
        except metadata.PackageNotFoundError:
            wrong.append(f"{name}: locked {version}, not installed")
            continue
        if Version(have) != Version(version):
            wrong.append(f"{name}: locked {version}, installed {have}")
    assert not wrong, f"this environment is not {lock} (reinstall with `make clean install`):\n" + "\n".join(wrong)
