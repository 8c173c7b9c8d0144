"""Small helpers shared by the command modules (argument types, JSON output)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import types
import typing
from pathlib import Path
from typing import Any

import numpy as np
import torch

from advdyn.errors import fail

DTYPES = {"float32": torch.float32, "float64": torch.float64}


def add_dtype(p: argparse.ArgumentParser, default: str = "float64") -> None:
    p.add_argument("--dtype", choices=sorted(DTYPES), default=default,
                   help=f"floating point precision (default {default})")


def load_vector(path: str, field: str, shape: tuple[int, ...]) -> np.ndarray:
    """A ``.npy`` array of the given shape, loaded without pickle."""
    try:
        v = np.load(Path(path), allow_pickle=False)
    except FileNotFoundError:
        raise fail(field, f"no such file {path}") from None
    except (OSError, ValueError) as e:
        raise fail(field, f"cannot read {path} as .npy ({e})") from None
    v = np.asarray(v, dtype=np.float64)
    if v.shape != shape and v.size == int(np.prod(shape)) and v.squeeze().shape == shape:
        v = v.reshape(shape)
    if v.shape != shape:
        raise fail(field, f"expected shape {shape}, got {v.shape}")
    if not np.isfinite(v).all():
        raise fail(field, "has NaN or infinite entries")
    return v


def emit_json(obj: Any) -> None:
    """Print one JSON object on stdout (NaN/inf written as null)."""
    sys.stdout.write(json.dumps(_clean(obj)) + "\n")


def _clean(o: Any) -> Any:
    if isinstance(o, dict):
        return {k: _clean(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_clean(v) for v in o]
    if isinstance(o, torch.Tensor):
        return _clean(o.detach().cpu().tolist())
    if isinstance(o, np.ndarray):
        return _clean(o.tolist())
    if isinstance(o, np.generic):
        return _clean(o.item())
    if isinstance(o, float) and not np.isfinite(o):
        return None
    return o


def output_folder(value: str) -> Path:
    """``--out``: a folder, or a path where one can be made."""
    out = Path(value)
    if out.exists() and not out.is_dir():
        raise fail("--out", f"{value} exists and is not a folder")
    return out


def flag_type(hint: Any) -> tuple[type, bool]:
    """``(element type, is a list)`` of a config field's type hint (``X | None`` → ``X``)."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        hint = next(a for a in typing.get_args(hint) if a is not type(None))
    if typing.get_origin(hint) is tuple:
        return typing.get_args(hint)[0], True
    return hint, False


def config_values(config: type, args: argparse.Namespace) -> dict[str, Any]:
    """The fields of the ``config`` dataclass that were given as flags (lists as tuples)."""
    values = {}
    for f in dataclasses.fields(config):
        v = getattr(args, f.name)
        if v is not None:
            values[f.name] = tuple(v) if isinstance(v, list) else v
    return values
