r"""Trajectory recording, in memory or streamed to disk.

A :class:`Recorder` says what to keep: every ``stride``-th iterate (and always the first and
the last), which fields, which rows, and the storage dtype. With ``path`` set, each field is
streamed to ``path/<field>.npy`` as it is produced (records are appended in time order, which is
C order for shape ``(T, B, ...)``), so ``10⁴ × 10⁴`` trajectories never sit in memory at once;
the arrays come back as read-only memory maps.

Fields: ``delta`` (δ_t), ``L`` (minimisation form), ``ell`` (ℓ = -L), ``gamma_norm`` (‖Γ(δ_t)‖),
``lam`` (λ*(δ_t)), ``alignment`` (cos∠[-∇L, δ_t]), ``on_sphere`` (‖δ_t‖ = ε), ``eta`` (step used).
"""

from __future__ import annotations

import ast
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from advdyn.errors import check_number, fail

FIELDS = ("delta", "L", "ell", "gamma_norm", "lam", "alignment", "on_sphere", "eta")
DEFAULT_FIELDS = ("delta", "L", "ell", "gamma_norm", "lam", "alignment", "on_sphere")
_HEADER_LEN = 256  # fixed .npy header length so the shape can be rewritten in place


@dataclass(frozen=True)
class Recorder:
    """What to record. ``rows`` selects trajectories (default: all); ``path`` streams to disk."""

    stride: int = 1
    fields: tuple[str, ...] = DEFAULT_FIELDS
    dtype: str = "float32"
    rows: tuple[int, ...] | None = None
    path: str | Path | None = None
    chunk_bytes: int = 32 << 20

    def __post_init__(self) -> None:
        check_number("stride", self.stride, positive=True, integer=True)
        unknown = [f for f in self.fields if f not in FIELDS]
        if unknown:
            raise fail("fields", f"unknown field(s) {unknown}", f"choose from {list(FIELDS)}")
        if self.dtype not in ("float16", "float32", "float64"):
            raise fail("dtype", f"unknown storage dtype {self.dtype!r}",
                       "choose float16, float32 or float64")


@dataclass
class Trajectory:
    """Recorded iterates: ``t`` (T,) step indices and, per recorded field, an array ``(T, B, ...)``
    (``None`` for fields not recorded). ``rows`` are the recorded rows of the batch."""

    t: np.ndarray
    rows: np.ndarray
    delta: np.ndarray | None = None
    L: np.ndarray | None = None
    ell: np.ndarray | None = None
    gamma_norm: np.ndarray | None = None
    lam: np.ndarray | None = None
    alignment: np.ndarray | None = None
    on_sphere: np.ndarray | None = None
    eta: np.ndarray | None = None
    path: Path | None = None


class _NpyStream:
    """Append records of one shape to a ``.npy`` file; fix the leading dimension on close."""

    def __init__(self, path: Path, dtype: np.dtype, row_shape: tuple[int, ...]) -> None:
        self.path, self.dtype, self.row_shape, self.count = path, dtype, row_shape, 0
        self.f = open(path, "wb")  # noqa: SIM115 - closed in close()
        self._header()
        self.buffer: list[np.ndarray] = []
        self.buffered = 0

    def _header(self) -> None:
        d = {"descr": np.lib.format.dtype_to_descr(self.dtype), "fortran_order": False,
             "shape": (self.count, *self.row_shape)}
        text = repr(d).encode("latin1")
        pad = _HEADER_LEN - 10 - len(text) - 1
        if pad < 0:
            raise fail("record", "trajectory shape too large for the stream header")
        self.f.seek(0)
        self.f.write(b"\x93NUMPY\x01\x00" + (_HEADER_LEN - 10).to_bytes(2, "little") + text
                     + b" " * pad + b"\n")

    def append(self, a: np.ndarray, flush_bytes: int) -> None:
        self.buffer.append(np.array(a, dtype=self.dtype, copy=True))  # not a view of torch memory
        self.buffered += a.nbytes
        self.count += 1
        if self.buffered >= flush_bytes:
            self.flush()

    def flush(self) -> None:
        self.f.seek(0, os.SEEK_END)
        for a in self.buffer:
            self.f.write(a.tobytes())
        self.buffer, self.buffered = [], 0
        self.f.flush()

    def close(self) -> None:
        self.flush()
        self._header()
        self.f.close()


def read_header_shape(path: Path) -> tuple[int, ...]:
    """The shape stored in a streamed ``.npy`` header (used by tests and tools)."""
    with open(path, "rb") as f:
        head = f.read(_HEADER_LEN)
    return tuple(ast.literal_eval(head[10:].decode("latin1").strip())["shape"])


@dataclass
class RecordSink:
    """Collects records during a run; :meth:`finish` returns the :class:`Trajectory`."""

    recorder: Recorder
    batch: int
    shape: tuple[int, ...]
    times: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        rows = self.recorder.rows
        self.row_index = np.arange(self.batch) if rows is None else np.asarray(rows)
        if self.row_index.size and (self.row_index.min() < 0 or
                                    self.row_index.max() >= self.batch):
            raise fail("record.rows", f"row indices must lie in [0, {self.batch})")
        self.rows_t = torch.as_tensor(self.row_index)
        self.storage = np.dtype(self.recorder.dtype)
        self.memory: dict[str, list[np.ndarray]] = {f: [] for f in self.recorder.fields}
        self.streams: dict[str, _NpyStream] = {}
        if self.recorder.path is not None:
            folder = Path(self.recorder.path)
            folder.mkdir(parents=True, exist_ok=True)
            n = len(self.row_index)
            for f in self.recorder.fields:
                dt = np.dtype(bool) if f == "on_sphere" else self.storage
                tail = (n, *self.shape) if f == "delta" else (n,)
                self.streams[f] = _NpyStream(folder / f"{f}.npy", dt, tail)

    def add(self, t: int, values: dict[str, torch.Tensor | None]) -> None:
        """Record step ``t``: ``values`` holds every recorded field (others may be ``None``)."""
        if self.times and self.times[-1] == t:
            return
        self.times.append(t)
        for f in self.recorder.fields:
            value = values[f]
            assert value is not None, f"field {f} is recorded but was not computed"
            v = value.detach()
            if v.ndim and v.shape[0] == self.batch and len(self.row_index) != self.batch:
                v = v[self.rows_t.to(v.device)]
            a = v.cpu().numpy()
            if f in self.streams:
                self.streams[f].append(a, self.recorder.chunk_bytes // max(1, len(self.streams)))
            else:
                self.memory[f].append(a.astype(bool if f == "on_sphere" else self.storage))

    def finish(self) -> Trajectory:
        t = np.asarray(self.times, dtype=np.int64)
        arrays: dict[str, np.ndarray] = {}
        if self.streams:
            folder = Path(self.recorder.path)  # type: ignore[arg-type]
            for f, s in self.streams.items():
                s.close()
                arrays[f] = np.load(s.path, mmap_mode="r")
            np.save(folder / "t.npy", t)
            np.save(folder / "rows.npy", self.row_index)
        else:
            arrays = {f: np.stack(v) for f, v in self.memory.items()}
        return Trajectory(t=t, rows=self.row_index, path=None if not self.streams else
                          Path(self.recorder.path), **arrays)  # type: ignore[arg-type]


def load_trajectory(path: str | Path) -> Trajectory:
    """Open a trajectory streamed to ``path`` (memory-mapped, read-only)."""
    folder = Path(path)
    if not (folder / "t.npy").exists():
        raise fail(str(folder), "no streamed trajectory here (t.npy missing)")
    arrays = {f: np.load(folder / f"{f}.npy", mmap_mode="r") for f in FIELDS
              if (folder / f"{f}.npy").exists()}
    return Trajectory(t=np.load(folder / "t.npy"), rows=np.load(folder / "rows.npy"),
                      path=folder, **arrays)
