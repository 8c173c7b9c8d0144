"""The output files of a run besides the cache: figures and results.

All writes are atomic (:mod:`advdyn.atomic`, whose :func:`~advdyn.atomic.write_json` is the
project's one conversion of arrays, tensors and non-finite numbers to JSON): a reader sees the
old file or the new one, never a part.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from advdyn.atomic import write_with

FIGURE_FORMATS = ("png", "pdf")


def save_figure(figure: Figure, folder: str | Path, stem: str,
                formats: Sequence[str] = FIGURE_FORMATS, dpi: int = 110) -> list[Path]:
    """Write ``figure`` as ``folder/stem.<format>`` for each format (PNG first), atomically."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for fmt in formats:
        path = folder / f"{stem}.{fmt}"
        write_with(path, partial(figure.savefig, format=fmt, dpi=dpi))
        out.append(path)
    return out


def json_part(result: Mapping[str, Any]) -> dict[str, Any]:
    """A result without its top-level arrays (those stay in the cache)."""
    return {k: v for k, v in result.items() if not isinstance(v, np.ndarray)}
