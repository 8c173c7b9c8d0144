"""Values as JSON data: the project's one conversion (used wherever a result, a record or a
command's output becomes JSON)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["plain"]


def plain(obj: Any) -> Any:
    """``obj`` as JSON data: the project's one conversion. Arrays and tensors become (nested)
    lists, NumPy scalars Python numbers, paths strings, tuples lists, and NaN and ±inf
    ``None`` (JSON has no such numbers)."""
    if isinstance(obj, Mapping):
        return {str(k): plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [plain(v) for v in obj]
    if hasattr(obj, "detach") and hasattr(obj, "cpu"):  # a torch tensor, without importing torch
        return plain(obj.detach().cpu().numpy())
    if isinstance(obj, np.ndarray):
        return plain(obj.tolist())
    if isinstance(obj, np.generic):
        return plain(obj.item())
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj
