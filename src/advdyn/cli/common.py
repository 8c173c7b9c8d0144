"""Small helpers shared by the command modules (argument types, JSON output)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
import types
import typing
from pathlib import Path
from typing import Any

import numpy as np
import torch

from advdyn.errors import fail

DTYPES = {"float32": torch.float32, "float64": torch.float64}


def _number(text: str, kind: type, lower: float | None = None, strict: bool = False
            ) -> float | int:
    """``kind(text)``, finite, and ``> lower`` (``strict``) or ``≥ lower``; else the
    one-line ``argparse.ArgumentTypeError`` that argparse prints as ``argument --flag: ...``."""
    try:
        value = kind(text)
    except ValueError:
        what = "a whole number" if kind is int else "a number"
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be finite, got {text!r}")
    if lower is not None and (value <= lower if strict else value < lower):
        raise argparse.ArgumentTypeError(f"must be {'>' if strict else '≥'} {lower:g}, "
                                         f"got {text!r}")
    return value


def finite_float(text: str) -> float:
    """Argument type: any finite number (NaN and ±inf refused)."""
    return float(_number(text, float))


def positive_float(text: str) -> float:
    """Argument type: a finite number > 0 (a step size, a scale, a tolerance)."""
    return float(_number(text, float, 0.0, strict=True))


def nonneg_float(text: str) -> float:
    """Argument type: a finite number ≥ 0."""
    return float(_number(text, float, 0.0))


def positive_int(text: str) -> int:
    """Argument type: a whole number ≥ 1 (a count of steps, starts, workers, threads)."""
    return int(_number(text, int, 1.0))


def nonneg_int(text: str) -> int:
    """Argument type: a whole number ≥ 0 (a seed, an epoch, a count that may be zero)."""
    return int(_number(text, int, 0.0))


def number_type(kind: Any) -> Any:
    """The argument type of a configuration field of type ``kind``: ``float`` → finite
    numbers only, ``int`` → whole numbers; the configuration's own validation checks the range."""
    return {float: finite_float, int: int}.get(kind, kind)


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
