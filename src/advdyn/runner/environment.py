"""Where and with what a run happened: versions, machine, time (display strings)."""

from __future__ import annotations

import datetime as _dt
import os
import platform
import sys
from importlib import metadata

from advdyn import __version__
from advdyn.machine import cpu_model


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


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
