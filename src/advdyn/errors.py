"""One error type and the validation helpers every layer uses (one place, named fields)."""

from __future__ import annotations

import math
import sys
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Literal, overload

if TYPE_CHECKING:  # torch is imported by the callers that pass tensors, not by this module
    import torch


class AdvdynError(ValueError):
    """Bad input. The message names the offending field and says how to fix it."""


def fail(field: str, problem: str, fix: str = "") -> AdvdynError:
    """Build an :class:`AdvdynError` reading ``"<field>: <problem>[; <fix>]"``."""
    text = f"{field}: {problem}"
    if fix:
        text += f"; {fix}"
    return AdvdynError(text)


def check_choice(field: str, value: Any, choices: Iterable[str]) -> str:
    """Return ``value`` if it is one of ``choices``, else raise naming them."""
    options = list(choices)
    if value not in options:
        raise fail(field, f"unknown option {value!r}", "choose one of " + ", ".join(options))
    return value


@overload
def check_number(field: str, value: Any, *, positive: bool = ..., nonnegative: bool = ...,
                 integer: Literal[False] = ...) -> float: ...


@overload
def check_number(field: str, value: Any, *, positive: bool = ..., nonnegative: bool = ...,
                 integer: Literal[True]) -> int: ...


def check_number(
    field: str,
    value: Any,
    *,
    positive: bool = False,
    nonnegative: bool = False,
    integer: bool = False,
) -> float:
    """Validate a finite scalar (optionally > 0, ≥ 0, integral) and return it."""
    torch_module = sys.modules.get("torch")  # a tensor exists only once torch is loaded
    if isinstance(value, bool) or (not isinstance(value, (int, float)) and not (
        torch_module is not None and isinstance(value, torch_module.Tensor)
        and value.numel() == 1
    )):
        try:
            value = float(value)
        except (TypeError, ValueError):
            raise fail(field, f"expected a number, got {value!r}") from None
    v = float(value)
    if not math.isfinite(v):
        raise fail(field, f"must be finite, got {v}")
    if integer and v != int(v):
        raise fail(field, f"must be a whole number, got {v}")
    if positive and v <= 0:
        raise fail(field, f"must be > 0, got {v}")
    if nonnegative and v < 0:
        raise fail(field, f"must be ≥ 0, got {v}")
    return int(v) if integer else v


def check_finite_tensor(field: str, t: torch.Tensor) -> torch.Tensor:
    """Raise if ``t`` has NaN or infinite entries."""
    if not t.isfinite().all():
        bad = int((~t.isfinite()).sum())
        raise fail(field, f"has {bad} NaN or infinite entries", "pass finite values")
    return t


def check_dim(field: str, t: torch.Tensor, ndim: int, what: str) -> torch.Tensor:
    """Raise unless ``t.ndim == ndim``; ``what`` describes the expected shape, e.g. ``'(m, d)'``."""
    if t.ndim != ndim:
        raise fail(field, f"expected shape {what}, got {tuple(t.shape)}")
    return t
