r"""Rules on censored escape times shared by the real-network claims.

- **Easy / difficult** (fixed before any run, relative to the attack budget ``T``): a group of
  runs escapes *easily* when at most 10 % are censored and the Kaplan–Meier median is at most
  ``T/4``; escape is *difficult* when the Kaplan–Meier median exceeds ``T/2`` (or is never
  reached: more than half censored).
- **Ordered comparisons**: for consecutive groups ``g_1, g_2, …`` claimed to escape ever later,
  the one-sided log-rank p-value of "``g_k`` escapes sooner than ``g_{k+1}``" and of the reverse,
  Holm-adjusted over the family; the ordering is *supported* when every comparison is
  significant at α = 0.05, *partly supported* when at least one is and none is significantly
  reversed, else *not supported*.
- **Restricted mean survival time** ``RMST = ∫₀ᵀ S(t) dt`` (the Kaplan–Meier area: the mean
  escape time with censoring respected), and its bootstrap over runs.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from advdyn.claims.core import NOT_SUPPORTED, PARTLY, SUPPORTED
from advdyn.claims.stats import escapes_sooner, holm, kaplan_meier

ALPHA = 0.05
CENSORED_EASY = 0.1
Group = Mapping[str, Any]  # {"times": [...], "escaped": [...], ...}


def km(group: Group) -> dict[str, Any]:
    """Kaplan–Meier summary of a group (``n = 0``: median ``inf``, nothing censored)."""
    if not group["times"]:
        return {"median": math.inf, "n": 0, "censored": 0, "survival_at_end": 1.0}
    return kaplan_meier(group["times"], group["escaped"])


def easy(group: Group, budget: int) -> bool:
    """At most 10 % censored and Kaplan–Meier median ≤ budget/4 (and at least one run)."""
    s = km(group)
    return s["n"] > 0 and s["censored"] <= CENSORED_EASY * s["n"] and s["median"] <= budget / 4


def difficult(group: Group, budget: int) -> bool:
    """Kaplan–Meier median > budget/2 (never reached counts), with at least one run."""
    s = km(group)
    return s["n"] > 0 and s["median"] > budget / 2


def sooner(times_a: Sequence[float], escaped_a: Sequence[bool], times_b: Sequence[float],
           escaped_b: Sequence[bool]) -> float:
    """:func:`~advdyn.claims.stats.escapes_sooner`, with 1 where the log-rank statistic is
    undefined (no variance: e.g. every run of both groups escapes at the same step) or a group
    is empty."""
    if len(times_a) == 0 or len(times_b) == 0:
        return 1.0
    with np.errstate(invalid="ignore", divide="ignore"):
        p = escapes_sooner(times_a, escaped_a, times_b, escaped_b)
    return p if math.isfinite(p) else 1.0


def compare(pairs: Sequence[tuple[Group, Group]], labels: Sequence[tuple[str, str]]
            ) -> dict[str, Any]:
    """Is ``a`` escaping sooner than ``b`` for every pair ``(a, b)``? One Holm family (module
    docstring): ``{"verdict", "comparisons"}``; a pair with an empty group gives p = 1 both ways
    (:func:`sooner`)."""
    forward = [sooner(a["times"], a["escaped"], b["times"], b["escaped"]) for a, b in pairs]
    backward = [sooner(b["times"], b["escaped"], a["times"], a["escaped"]) for a, b in pairs]
    if not forward:
        return {"verdict": NOT_SUPPORTED, "comparisons": []}
    adj, rev = holm(forward), holm(backward)
    held = [p <= ALPHA for p in adj]
    reversed_ = [p <= ALPHA for p in rev]
    verdict = (SUPPORTED if all(held) else
               PARTLY if any(held) and not any(reversed_) else NOT_SUPPORTED)
    return {"verdict": verdict, "comparisons": [
        {"sooner": labels[k][0], "later": labels[k][1], "p_holm": adj[k],
         "p_reverse_holm": rev[k]} for k in range(len(adj))]}


def ordered(groups: Sequence[Group], labels: Sequence[str]) -> dict[str, Any]:
    """:func:`compare` over consecutive groups: ``groups[k]`` sooner than ``groups[k+1]``."""
    return compare(list(itertools.pairwise(groups)),
                   list(itertools.pairwise(labels)))


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


def km_text(group: Group) -> str:
    s = km(group)
    median = "never" if math.isinf(s["median"]) else f"{s['median']:g}"
    return f"median {median} ({s['censored']}/{s['n']} censored)"
