"""Jobs, their keys, and the keyed result store on disk.

A job is a pure function of its configuration: an importable function path
(``"package.module:function"``) and a JSON-able configuration dict. Its key is the SHA-256 of the
canonical JSON of ``{function, config, version, code}``, ``code`` being a fingerprint of the
source files a job can run (:func:`job_code_fingerprint`: the package without the judging,
drawing, reporting and command layers above ``experiments``), so a changed configuration, a
renamed function, a new advdyn version or an edited line of the code a job runs never reads an
old result.

Each result lives in its own folder ``ROOT/<key>/`` holding ``result.json`` (the job, its
scalar and nested JSON values, the time it took) and, when the result holds arrays,
``arrays.npz``. The folder is built under a temporary name and renamed into place whole
(:func:`advdyn.atomic.atomic_dir`), so a reader sees a complete result or none, whatever moment
the writer was killed at; leftovers of killed writers are removed when the store is opened.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from advdyn import __version__
from advdyn.atomic import atomic_dir, is_partial
from advdyn.experiments.base import Job, canonical_json

RESULT_FILE = "result.json"
ARRAYS_FILE = "arrays.npz"
PACKAGE_ROOT = Path(__file__).resolve().parent.parent  # the advdyn package folder


#: The packages above ``experiments`` that a job never runs: they judge, draw, render, compose
#: and parse (the layers contract in pyproject.toml keeps every job's imports below them; the
#: runner, which executes jobs, is not among them). An edit there cannot change a job's value.
JUDGING_PACKAGES = ("claims", "plots", "report", "pipeline", "cli")


@functools.cache
def code_fingerprint(root: Path = PACKAGE_ROOT, exclude: tuple[str, ...] = ()) -> str:
    """SHA-256 of the package's source: every ``*.py`` file under ``root`` (except in the
    top-level packages named in ``exclude``) in sorted order, each as its relative path, its
    length and its bytes. Computed once per process (per ``root`` and ``exclude``)."""
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(root)
        if relative.parts[0] in exclude:
            continue
        data = path.read_bytes()
        digest.update(f"{relative.as_posix()}\0{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest()


def job_code_fingerprint(root: Path = PACKAGE_ROOT) -> str:
    """The fingerprint of the code a job can run: :func:`code_fingerprint` without
    :data:`JUDGING_PACKAGES`. A job's key holds it, so editing how results are judged, drawn or
    reported re-judges the stored results instead of recomputing them, while any edit to an
    experiment, the engine, the models or the runner recomputes."""
    return code_fingerprint(root, JUDGING_PACKAGES)


def job_key(function: str, config: Mapping[str, Any], version: str = __version__,
            code: str | None = None) -> str:
    """SHA-256 hex digest of the canonical JSON of ``{function, config, version, code}``;
    ``code`` defaults to this process's :func:`job_code_fingerprint`."""
    text = canonical_json({"function": function, "config": dict(config), "version": version,
                           "code": job_code_fingerprint() if code is None else code})
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@functools.lru_cache(maxsize=1 << 16)
def key_of(job: Job) -> str:
    """The cache key of ``job``: :func:`job_key` of its function and configuration."""
    return job_key(job.function, job.config)


@dataclass(frozen=True)
class JobResult:
    """A finished job: the job, what it returned, and how long it took to compute (wall time
    and the CPU time of the process that ran it)."""

    job: Job
    value: dict[str, Any]
    elapsed_s: float
    cached: bool = False
    cpu_s: float = 0.0


def split_arrays(value: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Split a job's return value into its JSON part and its top-level arrays."""
    plain: dict[str, Any] = {}
    arrays: dict[str, np.ndarray] = {}
    for name, v in value.items():
        if isinstance(v, np.ndarray):
            arrays[name] = v
        elif hasattr(v, "detach") and hasattr(v, "numpy"):  # a torch tensor
            arrays[name] = v.detach().cpu().numpy()
        elif isinstance(v, np.generic):
            plain[name] = v.item()
        else:
            plain[name] = v
    return plain, arrays


class ResultStore:
    """Results of jobs on disk under ``root``, one folder per job key, written atomically."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def path(self, key: str) -> Path:
        """The folder that holds (or will hold) the result of ``key``."""
        return self.root / key

    def remove_leftovers(self) -> int:
        """Delete temporary folders left by writers that were killed; return how many.

        Only folders whose writing process (its id is in the name) is no longer alive are
        removed, so a concurrent run on the same folder is left alone.
        """
        if not self.root.is_dir():
            return 0
        removed = 0
        for entry in self.root.iterdir():
            if is_partial(entry) and not _pid_alive(_writer_pid(entry.name)):
                shutil.rmtree(entry, ignore_errors=True) if entry.is_dir() else entry.unlink(
                    missing_ok=True)
                removed += 1
        return removed

    def load(self, job: Job) -> JobResult | None:
        """The stored result of ``job``, or ``None`` if there is none (or it is unreadable)."""
        folder = self.path(key_of(job))
        try:
            record = json.loads((folder / RESULT_FILE).read_text(encoding="utf-8"))
            if record.get("key") != key_of(job) or record.get("function") != job.function:
                return None
            value = dict(record["result"])
            names = record.get("arrays", [])
            if names:
                with np.load(folder / ARRAYS_FILE, allow_pickle=False) as npz:
                    value.update({n: npz[n] for n in names})
            return JobResult(job, value, float(record["elapsed_s"]), cached=True,
                             cpu_s=float(record.get("cpu_s", 0.0)))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def save(self, job: Job, value: Mapping[str, Any], elapsed_s: float,
             cpu_s: float = 0.0) -> JobResult:
        """Store ``value`` as the result of ``job`` (a stale or unreadable entry is replaced)."""
        if not isinstance(value, Mapping):
            raise TypeError(f"job {job.function} returned {type(value).__name__}, not a mapping")
        plain, arrays = split_arrays(value)
        record = {"key": key_of(job), "function": job.function, "config": job.config,
                  "version": __version__, "code": job_code_fingerprint(), "elapsed_s": elapsed_s,
                  "cpu_s": cpu_s, "arrays": sorted(arrays), "result": plain}
        try:
            text = json.dumps(record, indent=1, ensure_ascii=False)
        except (TypeError, ValueError) as e:
            raise TypeError(f"job {job.function} returned a value that is not JSON data "
                            f"or arrays: {e}") from None
        folder = self.path(key_of(job))
        if folder.exists() and self.load(job) is None:
            shutil.rmtree(folder)
        with atomic_dir(folder) as tmp:
            (tmp / RESULT_FILE).write_text(text + "\n", encoding="utf-8")
            if arrays:
                np.savez(tmp / ARRAYS_FILE, allow_pickle=False, **arrays)
        stored = self.load(job)
        if stored is None:
            raise OSError(f"result of job {key_of(job)} could not be read back from {folder}")
        return JobResult(job, stored.value, elapsed_s, cached=False, cpu_s=cpu_s)


def _writer_pid(name: str) -> int:
    """The process id embedded in a temporary name ``.<target>.<random>.<pid>.part``."""
    parts = name.split(".")
    try:
        return int(parts[-2])
    except (IndexError, ValueError):
        return -1


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
