"""Jobs, their keys, and the keyed result store on disk.

A job is a pure function of its configuration: an importable function path
(``"package.module:function"``) and a JSON-able configuration dict. Its key is the SHA-256 of the
canonical JSON of ``{function, config, version}``, so a changed configuration, a renamed function
or a new advdyn version never reads an old result.

Each result lives in its own folder ``ROOT/<key>/`` holding ``result.json`` (the job, its
scalar and nested JSON values, the time it took) and, when the result holds arrays,
``arrays.npz``. The folder is built under a temporary name and renamed into place whole
(:func:`advdyn.atomic.atomic_dir`), so a reader sees a complete result or none, whatever moment
the writer was killed at; leftovers of killed writers are removed when the store is opened.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from advdyn import __version__
from advdyn.atomic import atomic_dir, is_partial
from advdyn.errors import fail

RESULT_FILE = "result.json"
ARRAYS_FILE = "arrays.npz"


def canonical_json(obj: Any, field_name: str = "config") -> str:
    """Compact JSON with sorted keys; raise naming ``field_name`` if ``obj`` is not JSON data."""
    try:
        return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                          allow_nan=False)
    except (TypeError, ValueError) as e:
        raise fail(field_name, f"not plain JSON data ({e})",
                   "use numbers, strings, booleans, None, lists and string-keyed dicts") from None


def job_key(function: str, config: Mapping[str, Any], version: str = __version__) -> str:
    """SHA-256 hex digest of the canonical JSON of ``{function, config, version}``."""
    text = canonical_json({"function": function, "config": dict(config), "version": version})
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Job:
    """One unit of work: ``function(**config)`` returning a string-keyed mapping.

    ``function`` is ``"package.module:name"``; ``config`` must be JSON data (it is hashed into
    :attr:`key` and stored beside the result). Top-level NumPy arrays or tensors in the returned
    mapping are stored losslessly in ``arrays.npz``; everything else must be JSON data.
    """

    function: str
    config: Mapping[str, Any]
    key: str = field(init=False)

    def __hash__(self) -> int:
        return hash(self.key)

    def __post_init__(self) -> None:
        if ":" not in self.function:
            raise fail("job.function", f"{self.function!r} is not 'package.module:name'")
        object.__setattr__(self, "config", json.loads(canonical_json(self.config)))
        object.__setattr__(self, "key", job_key(self.function, self.config))


@dataclass(frozen=True)
class JobResult:
    """A finished job: the job, what it returned, and how long it took to compute."""

    job: Job
    value: dict[str, Any]
    elapsed_s: float
    cached: bool = False


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
        folder = self.path(job.key)
        try:
            record = json.loads((folder / RESULT_FILE).read_text(encoding="utf-8"))
            if record.get("key") != job.key or record.get("function") != job.function:
                return None
            value = dict(record["result"])
            names = record.get("arrays", [])
            if names:
                with np.load(folder / ARRAYS_FILE, allow_pickle=False) as npz:
                    value.update({n: npz[n] for n in names})
            return JobResult(job, value, float(record["elapsed_s"]), cached=True)
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def save(self, job: Job, value: Mapping[str, Any], elapsed_s: float) -> JobResult:
        """Store ``value`` as the result of ``job`` (a stale or unreadable entry is replaced)."""
        if not isinstance(value, Mapping):
            raise TypeError(f"job {job.function} returned {type(value).__name__}, not a mapping")
        plain, arrays = split_arrays(value)
        record = {"key": job.key, "function": job.function, "config": job.config,
                  "version": __version__, "elapsed_s": elapsed_s, "arrays": sorted(arrays),
                  "result": plain}
        try:
            text = json.dumps(record, indent=1, ensure_ascii=False)
        except (TypeError, ValueError) as e:
            raise TypeError(f"job {job.function} returned a value that is not JSON data "
                            f"or arrays: {e}") from None
        folder = self.path(job.key)
        if folder.exists() and self.load(job) is None:
            shutil.rmtree(folder)
        with atomic_dir(folder) as tmp:
            (tmp / RESULT_FILE).write_text(text + "\n", encoding="utf-8")
            if arrays:
                np.savez(tmp / ARRAYS_FILE, allow_pickle=False, **arrays)
        stored = self.load(job)
        if stored is None:
            raise OSError(f"result of job {job.key} could not be read back from {folder}")
        return JobResult(job, stored.value, elapsed_s, cached=False)


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
