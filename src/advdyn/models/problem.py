r"""Two-layer problem files (``.npz``): keys ``W`` (m×d), ``a`` (m), ``x`` (d), ``y`` (scalar),
``eps`` (scalar), optional ``loss`` (``"quadratic"`` | ``"bce"``, default quadratic).

Loaded with ``allow_pickle=False``: a problem file never executes code.
"""

from __future__ import annotations

import math
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from advdyn.errors import AdvdynError, check_choice, fail
from advdyn.losses import SCALAR_LOSSES
from advdyn.models.twolayer import TwoLayerNet, TwoLayerObjective

REQUIRED = ("W", "a", "x", "y", "eps")


@dataclass(frozen=True)
class Problem:
    """One two-layer adversarial problem: network ``(W, a)``, point ``(x, y)``, radius ``eps``."""

    W: np.ndarray
    a: np.ndarray
    x: np.ndarray
    y: float
    eps: float
    loss: str = "quadratic"

    def __post_init__(self) -> None:
        W, a, x = (np.asarray(v, dtype=np.float64) for v in (self.W, self.a, self.x))
        if W.ndim != 2:
            raise fail("W", f"expected shape (m, d), got {W.shape}")
        if a.shape != (W.shape[0],):
            raise fail("a", f"expected shape ({W.shape[0]},) to match W's m, got {a.shape}")
        if x.shape != (W.shape[1],):
            raise fail("x", f"expected shape ({W.shape[1]},) to match W's d, got {x.shape}")
        for name, v in (("W", W), ("a", a), ("x", x)):
            if not np.isfinite(v).all():
                raise fail(name, "has NaN or infinite entries", "pass finite values")
        for name in ("y", "eps"):
            v = np.asarray(getattr(self, name))
            if v.size != 1 or not np.issubdtype(v.dtype, np.number):
                raise fail(name, f"expected a scalar number, got shape {v.shape}")
            if not math.isfinite(float(v)):
                raise fail(name, "must be finite")
        if float(self.eps) <= 0:
            raise fail("eps", f"must be > 0, got {float(self.eps)}")
        check_choice("loss", self.loss, SCALAR_LOSSES)
        if self.loss == "bce" and not 0 <= float(self.y) <= 1:
            raise fail("y", f"bce needs a label in [0, 1], got {float(self.y)}")
        for name, value in (("W", W), ("a", a), ("x", x), ("y", float(np.asarray(self.y))),
                            ("eps", float(np.asarray(self.eps)))):
            object.__setattr__(self, name, value)

    @property
    def dim(self) -> int:
        return self.W.shape[1]

    @classmethod
    def load(cls, path: str | Path) -> Problem:
        """Read and validate a problem file; errors name the file and the key."""
        p = Path(path)
        try:
            with np.load(p, allow_pickle=False) as f:
                data = {k: f[k] for k in f.files}
        except FileNotFoundError:
            raise fail(str(p), "no such file") from None
        except (OSError, ValueError, zipfile.BadZipFile, EOFError) as e:
            raise fail(str(p), f"not a readable .npz problem file ({e})") from None
        missing = [k for k in REQUIRED if k not in data]
        if missing:
            raise fail(str(p), "missing key(s) " + ", ".join(missing),
                       "a problem file needs W, a, x, y, eps (and optionally loss)")
        loss = str(data["loss"]) if "loss" in data else "quadratic"
        try:
            return cls(data["W"], data["a"], data["x"], data["y"], data["eps"], loss)
        except AdvdynError as e:
            raise AdvdynError(f"{p}: {e}") from None

    def save(self, path: str | Path) -> None:
        """Write the problem as ``.npz`` (atomically: temporary file, then rename)."""
        p = Path(path)
        tmp = p.with_name(p.name + ".tmp.npz")
        np.savez(tmp, W=self.W, a=self.a, x=self.x, y=np.float64(self.y),
                 eps=np.float64(self.eps), loss=np.str_(self.loss))
        tmp.replace(p)

    def net(self, dtype: torch.dtype = torch.float64) -> TwoLayerNet:
        return TwoLayerNet(torch.tensor(self.W, dtype=dtype), torch.tensor(self.a, dtype=dtype))

    def objective(self, dtype: torch.dtype = torch.float64) -> TwoLayerObjective:
        """``L(δ) = -ℓ(y, f(x+δ))`` for this problem (one row, broadcast to any batch)."""
        return TwoLayerObjective(self.net(dtype), SCALAR_LOSSES[self.loss],
                                 torch.tensor(self.x, dtype=dtype), self.y)
