r"""Summaries of censored escape times shared by the real-network claims.

- **Restricted mean survival time** ``RMST = ∫₀ᵀ S(t) dt`` (the Kaplan–Meier area: the mean
  escape time with censoring respected), and its bootstrap over runs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from advdyn.claims.stats import kaplan_meier

Group = Mapping[str, Any]  # {"times": [...], "escaped": [...], ...}


def km(group: Group) -> dict[str, Any]:
    """Kaplan–Meier summary of a group (``n = 0``: median ``inf``, nothing censored)."""
    if not group["times"]:
        return {"median": math.inf, "n": 0, "censored": 0, "survival_at_end": 1.0}
    return kaplan_meier(group["times"], group["escaped"])


def rmst(times: Sequence[float], escaped: Sequence[bool], budget: int) -> float:
    """``∫₀ᵀ S(t) dt`` for the Kaplan–Meier ``S`` of integer escape times (``T`` if nothing
    escapes; no runs: nan) — :func:`rmst_many` for one sample."""
    if len(times) == 0:
        return math.nan
    return float(rmst_many(np.asarray(times)[None], np.asarray(escaped)[None], budget)[0])


def rmst_many(times: np.ndarray, escaped: np.ndarray, budget: int) -> np.ndarray:
    """RMST of each row of ``times``/``escaped`` ``(R, n)`` (integer steps in ``0..T``):
    ``Σ_{t<T} Π_{k≤t} (1 - d_k/n_k)`` with ``d_k`` the escapes at step k and ``n_k`` the runs
    still at risk (time ≥ k) — the area under the Kaplan–Meier step function, vectorised over
    rows (bootstrap resamples)."""
    t = np.clip(np.rint(np.asarray(times, dtype=float)).astype(np.int64), 0, budget)
    e = np.asarray(escaped, dtype=bool)
    reps = t.shape[0]
    rows = np.repeat(np.arange(reps), t.shape[1])
    deaths = np.zeros((reps, budget + 1))
    np.add.at(deaths, (rows, t.ravel()), e.ravel())
    leaving = np.zeros((reps, budget + 1))
    np.add.at(leaving, (rows, t.ravel()), 1.0)
    at_risk = t.shape[1] - np.cumsum(leaving, axis=1) + leaving
    factor = np.where(at_risk > 0, 1 - deaths / np.maximum(at_risk, 1), 1.0)
    return np.cumprod(factor, axis=1)[:, :budget].sum(axis=1)


def rmst_bootstrap(group: Group, budget: int, reps: int, rng: np.random.Generator
                   ) -> np.ndarray:
    """RMST of ``reps`` bootstrap resamples of the group's runs."""
    t = np.asarray(group["times"], dtype=float)
    e = np.asarray(group["escaped"], dtype=bool)
    if t.size == 0:
        return np.full(reps, np.nan)
    picks = rng.integers(0, t.size, size=(reps, t.size))
    return rmst_many(t[picks], e[picks], budget)


def pooled(groups: Sequence[Group]) -> dict[str, list]:
    """The runs of several groups as one group."""
    return {"times": [t for g in groups for t in g["times"]],
            "escaped": [x for g in groups for x in g["escaped"]]}
