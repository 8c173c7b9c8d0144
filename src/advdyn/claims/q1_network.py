"""Question 1 on a network (claim ``q1-cnn``): PGD's steps to stationarity and to the loss
plateau in units of the affine floor (docs/experiments/at_scale.md; normalised PGD needs ≈
ln(θ₀/τ)/ln(1+ρ) steps on any smooth landscape, so only the excess over that floor says something
about the network).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from scipy import stats

from advdyn.claims.calibrated import Z_POWER
from advdyn.claims.core import (
    INCONCLUSIVE,
    NOT_SUPPORTED,
    SUPPORTED,
    Effect,
    Judgement,
    Power,
    three_way,
)

Arm = Mapping[str, Any]
Q1_MULTIPLE = 2.0     # steps to 90 % stationary / at the plateau, in affine-floor units
Q1_TAU, Q1_PLATEAU = "0.05", "0.05"
BOOTSTRAP = 400
Z_TWO_SIDED = float(stats.norm.ppf(0.975))  # the bootstrap interval's 95 %


def _t90(rows: Sequence[Mapping[str, Any]], kind: str, key: str, use: np.ndarray | None
         ) -> float:
    """First step by which ≥ 90 % of the runs (of the images ``use``) are stationary / at the
    plateau (censored runs count as not yet): ``inf`` if never within the budget."""
    times, hit, image = [], [], []
    for r in rows:
        times += r[kind][key]["times"]
        hit += r[kind][key]["hit"]
        image += r["image"]
    t, h, im = np.asarray(times, float), np.asarray(hit, bool), np.asarray(image)
    if use is not None:
        pick = np.concatenate([np.nonzero(im == i)[0] for i in use])
        t, h = t[pick], h[pick]
    if t.size == 0:
        return math.inf
    done = np.sort(np.where(h, t, math.inf))
    return float(done[math.ceil(0.9 * t.size) - 1])


def _q1_ratio(main: Sequence[Mapping[str, Any]], floor: Sequence[Mapping[str, Any]],
              use: np.ndarray | None) -> tuple[float, float]:
    """Bounds on the worst, over cells and over (stationary at τ = 0.05, plateau within 5 %), of
    the main arm's T90 divided by the floor's. A cell where both T90 are censored (neither arm
    reaches 90 % within the budget) has an unknown ratio, anywhere in ``[0, ∞]``: it adds
    nothing to the lower bound and ``∞`` to the upper one; a censored main arm over a finite
    floor is ``∞`` in both."""
    low = high = 0.0
    for m in main:
        f = [r for r in floor if (r["scale"], r["epoch"]) == (m["scale"], m["epoch"])]
        for kind, key in (("stationary", Q1_TAU), ("plateau", Q1_PLATEAU)):
            a, b = _t90([m], kind, key, use), _t90(f, kind, key, use)
            if math.isfinite(a):
                ratio = a / max(b, 1.0)
                low, high = max(low, ratio), max(high, ratio)
            elif math.isfinite(b):
                low = high = math.inf
            else:
                high = math.inf
    return low, high


def judge_q1(arm: Arm) -> Judgement:
    """q1-cnn rule (see the declaration)."""
    main, floor = arm["q1"], arm["floor"]["q1"]
    if not main or not floor:
        return Judgement(INCONCLUSIVE, "no Question 1 record", {})
    budget = int(main[0]["budget"])
    n = len(set(main[0]["image"]))
    ratio_low, ratio = _q1_ratio(main, floor, None)
    rng = np.random.default_rng(0)
    boot = np.array([_q1_ratio(main, floor, rng.integers(0, n, n)) for _ in range(BOOTSTRAP)])
    lo = float(np.quantile(boot[:, 0], 0.025, method="inverted_cdf"))
    hi = float(np.quantile(boot[:, 1], 0.975, method="inverted_cdf"))
    unknown = float(np.mean(boot[:, 0] != boot[:, 1]))
    effect = Effect(Q1_MULTIPLE - ratio, Q1_MULTIPLE - max(hi, ratio),
                    Q1_MULTIPLE - min(lo, ratio_low), 0.0,
                    f"{Q1_MULTIPLE:g} minus the worst T90 in affine-floor units")
    verdict, phrase = three_way(effect)
    def maxima(rows: Sequence[Mapping[str, Any]]) -> dict[tuple[float, int], float]:
        return {(r["scale"], r["epoch"]): float(np.median(r["distinct"])) for r in rows}
    distinct, floor_distinct = maxima(arm["restarts"]), maxima(arm["floor"]["restarts"])
    several = any(v >= 2 and v > floor_distinct.get(k, 1.0) for k, v in distinct.items())
    if verdict == SUPPORTED and not several:
        verdict = NOT_SUPPORTED
        phrase += ("; but the restarts reach no more distinct maxima than on the affine arm "
                   "(a trivial landscape: the speed is the floor's)")
    floor_t90 = max(_t90([f], "stationary", Q1_TAU, None) for f in floor)
    short = [] if math.isfinite(floor_t90) and Q1_MULTIPLE * floor_t90 <= budget else [
        f"{Q1_MULTIPLE:g}× the floor's T90 ({floor_t90:g}) exceeds the {budget} steps followed"]
    short += [f"{n} images: fewer than 5"] if n < 5 else []
    short += [f"both arms' T90 censored at the {budget}-step budget in a cell of "
              f"{unknown:.0%} of the bootstrap resamples (ratio unknown there: more than 2.5 % "
              "keeps the interval open)"] if unknown > 0.025 else []
    taus = sorted({k for r in main for k in r["stationary"]}, key=float)
    curves = {f"scale {m['scale']:g}, epoch {m['epoch']}": {
        tau: {side: _t90(rows, "stationary", tau, None) for side, rows in (
            ("cnn", [m]), ("affine", [f for f in floor if (f["scale"], f["epoch"]) ==
                                      (m["scale"], m["epoch"])]),
            ("linearised", [x for x in arm["linearised"]["q1"] if (x["scale"], x["epoch"]) ==
                            (m["scale"], m["epoch"])]))} for tau in taus} for m in main}
    # detectable: the interval's half-width scaled from a 95 % test to power 0.8 (normal
    # approximation, (z₀.₉₇₅ + z₀.₈)/z₀.₉₇₅); infinite where the interval is open
    half = (effect.high - effect.low) / 2 if math.isfinite(effect.high - effect.low) \
        else math.inf
    power = Power(n, 0.0, half * (Z_TWO_SIDED + Z_POWER) / Z_TWO_SIDED, not short,
                  "; ".join(short))
    shown = {f"scale {s:g}, epoch {e}": [v, floor_distinct.get((s, e))]
             for (s, e), v in distinct.items()}
    cells = "; ".join(f"{c}: {v[0]:g}/{'–' if v[1] is None else f'{v[1]:g}'}"
                      for c, v in shown.items())
    values = {"worst_ratio": ratio, "resamples_with_unknown_ratio": unknown,
              "calibration": {"t90_steps": curves, "median_distinct_maxima": shown}}
    return Judgement(verdict, f"{phrase}; median distinct maxima of the restarts, CNN/affine: "
                     f"{cells}", values, power, effect)
