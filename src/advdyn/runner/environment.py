"""Where and with what a run happened: versions, machine, time (display strings)."""

from __future__ import annotations

import datetime as _dt
import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from advdyn import __version__
from advdyn.machine import cpu_model


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def source_commit() -> dict[str, object]:
    """The git commit advdyn's source was taken from (``None`` outside a git checkout) and
    whether the source differed from it (uncommitted changes under ``src/``)."""
    root = Path(__file__).resolve().parents[3]

    def git(*words: str) -> str | None:
        try:
            done = subprocess.run(["git", "-C", str(root), *words], capture_output=True,
                                  text=True, timeout=30, check=True)
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip()

    commit = git("rev-parse", "HEAD")
    dirty = git("status", "--porcelain", "--", "src") if commit else None
    return {"sha": commit, "dirty": bool(dirty) if dirty is not None else None}


def environment() -> dict[str, str]:
    """Versions, machine and time of this run, as display strings."""
    env = {
        "advdyn": __version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpu": cpu_model(),
        "cpu cores": str(os.cpu_count()),
    }
    for package in ("torch", "numpy", "scipy", "matplotlib", "dask", "distributed"):
        env[package] = _version(package)
    env["date (UTC)"] = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
    return env
