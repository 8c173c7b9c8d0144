"""Issue 18, the two-layer rules decided on a t interval of a least-squares slope (L4.1, L4.3,
concentration, s5.1-minima, angle, fig1-ratio) and on an RMST bootstrap interval
(s5.1-escape): at the edge of detectability each judge, fed through its claim's ``arms``
function, does what its power computation predicts.

A slope ``b`` fitted over ``n`` points with standard error ``se`` is decided on
``b ± t·se``, ``t = t_{1−α/2k, n−2}`` (``k`` slopes in the claim): supported iff
``b − t·se > Δ`` (for L4.3's equivalence margin, iff ``|b| + t·se < 0.25``). Adding an exact
trend to the data moves ``b`` and leaves ``se`` alone, so the verdict must flip exactly at
``b = Δ + t·se``; the reported detectable effect is ``Δ + (t + z₀.₈)·se``, and data drawn at it
pass with probability ≈ 0.8 (the noncentral t gives 0.797 at 34 degrees of freedom)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from scipy import stats

from advdyn.claims import INCONCLUSIVE, SUPPORTED, Judgement, claim
from advdyn.claims.power import DETECTION_POWER
from advdyn.claims.rule_power import ALPHA
from advdyn.claims.survival import rmst_bootstrap

Z = float(stats.norm.ppf(DETECTION_POWER))
#: A fixed noise pattern per (x, seed): 3 x values × 12 seeds, sample mean 0 per x.
NOISE = np.random.default_rng(7).standard_normal((3, 12))
NOISE -= NOISE.mean(axis=1, keepdims=True)


def _se(x: tuple[float, ...], noise: np.ndarray) -> float:
    """The slope's standard error of ``noise`` on ``log₁₀ x`` (one row of noise per x)."""
    lx = np.repeat(np.log10(x), noise.shape[1])
    return float(stats.linregress(lx, noise.ravel()).stderr)


def _t(k: int, n: int) -> float:
    return float(stats.t.ppf(1 - ALPHA / (2 * k), n - 2))


def _both(arm: object) -> dict:
    """The arms of a result with the same data in both (only the main arm is judged here)."""
    return {"main": arm, "control": arm}


# Each builder: (slope, noise) → a synthetic experiment result; with the claim's x values,
# its minimum Δ and its number k of slopes.

SCALES, WIDTHS, EPS = (0.01, 1.0, 100.0), (32, 256, 2048), (1e-3, 1e-2, 1e-1)


def _concentration(b: float, noise: np.ndarray) -> dict:
    rows = [{"ratio": 1.0, "scale": c, "seed": s, "spread": 0.5 + b * np.log10(c) + e}
            for c, row in zip(SCALES, noise, strict=True) for s, e in enumerate(row)]
    return {"concentration": _both({"rows": rows, "cells": []})}


def _minima(b: float, noise: np.ndarray) -> dict:
    rows = [{"ratio": 1.0, "scale": c, "seed": s, "minima": 4 + b * np.log10(c) + e}
            for c, row in zip(SCALES, noise, strict=True) for s, e in enumerate(row)]
    return {"arms": _both({"minima": rows, "mean_minima": []})}


def _angle(b: float, noise: np.ndarray) -> dict:
    rows = [{"eps": e, "seed": s, "turn": 1e-4 * 10 ** (b * np.log10(e / 1e-3) + n / 10)}
            for e, row in zip(EPS, noise, strict=True) for s, n in enumerate(row)]
    return {"angle": _both(rows)}


def _l41(b: float, noise: np.ndarray) -> dict:
    """Two η factors with the same fit; q01 = 10^(b·log₁₀ m + noise) (log–log slope b)."""
    rows = [{"width": m, "seed": s, "eta_factor": f, "eta": f, "interior_steps": 50,
             "frac_decrease": 1.0, "q01": 10 ** (b * np.log10(m) + e), "median": 1.0}
            for f in (0.5, 0.1) for m, row in zip(WIDTHS, noise, strict=True)
            for s, e in enumerate(row)]
    return {"arms": _both(rows)}


def _l43(b: float, noise: np.ndarray) -> dict:
    rows = [{"width": m, "seed": s, "B_l": 10 ** (b * np.log10(m) + e), "L_times_B_l": 0.1}
            for m, row in zip(WIDTHS, noise, strict=True) for s, e in enumerate(row)]
    return {"arms": _both(rows)}


#: Per claim: the result builder, the x values, the noise's scale, Δ and k.
SLOPES: dict[str, tuple[Callable[[float, np.ndarray], dict], tuple, float, float, int]] = {
    "concentration": (_concentration, SCALES, 0.05, 0.05, 1),
    "s5.1-minima": (_minima, SCALES, 1.0, 0.5, 1),
    "angle": (_angle, EPS, 1.0, 0.5, 1),
    "L4.1": (_l41, WIDTHS, 0.2, -0.25, 2),
}


def _judge(cid: str, result: dict) -> Judgement:
    """The claim's judge on the main arm its ``arms`` function picks from ``result``."""
    c = claim(cid)
    return c.judge(c.arms(result)[0])


@pytest.mark.parametrize("cid", list(SLOPES))
def test_the_verdict_flips_where_the_interval_meets_the_minimum(cid: str) -> None:
    """b = Δ + t·se ± 10⁻⁶: supported just beyond, inconclusive just short; the reported
    detectable effect is Δ + (t + z₀.₈)·se at an adequate size."""
    build, x, scale_, delta, k = SLOPES[cid]
    noise = scale_ * NOISE
    se, t = _se(x, noise / (10 if cid == "angle" else 1)), _t(k, noise.size)
    edge = delta + t * se
    beyond, short = _judge(cid, build(edge + 1e-6, noise)), _judge(cid, build(edge - 1e-6, noise))
    assert beyond.verdict == SUPPORTED, beyond.reason
    assert short.verdict == INCONCLUSIVE and "straddles" in short.reason, short.reason
    assert beyond.power is not None and beyond.power.adequate
    assert beyond.power.detectable_effect == pytest.approx(delta + (t + Z) * se, rel=1e-9)


def test_a_slope_drawn_at_the_detectable_effect_passes_as_often_as_the_power_says() -> None:
    """concentration (one ratio, 36 (scale, seed) pairs): spreads drawn with Gaussian noise of
    sd 0.05 and the true slope at Δ + (t + z₀.₈)·σ_b (σ_b the slope's true standard error)
    pass 0.8 of 2000 draws (± 0.03); drawn at the minimum Δ itself, at most α/2."""
    sigma, n = 0.05, NOISE.size
    lx = np.repeat(np.log10(SCALES), NOISE.shape[1])
    sigma_b = sigma / np.sqrt(np.sum((lx - lx.mean()) ** 2))
    detect = 0.05 + (_t(1, n) + Z) * sigma_b
    rng = np.random.default_rng(0)

    def rate(b: float) -> float:
        verdicts = [_judge("concentration", _concentration(
            b, sigma * rng.standard_normal(NOISE.shape))).powered().verdict
            for _ in range(2000)]
        return float(np.mean([v == SUPPORTED for v in verdicts]))

    assert abs(rate(detect) - DETECTION_POWER) < 0.03
    assert rate(0.05) < ALPHA / 2 + 0.01


def test_l43_equivalence_flips_at_the_bound_and_its_power_at_the_margin() -> None:
    """L4.3: supported iff the slope's 95 % interval lies inside (−0.25, 0.25): b = 0.25 −
    t·se ∓ 10⁻⁶ flips it; adequate iff the detectable margin (t + z₀.₈)·se ≤ 0.25, so noise
    that puts it at 0.25·(1 ± 1 %) flips the power and turns equivalent data inconclusive."""
    noise = 0.2 * NOISE
    se, t = _se(WIDTHS, noise), _t(1, noise.size)
    inside = _judge("L4.3", _l43(0.25 - t * se - 1e-6, noise))
    outside = _judge("L4.3", _l43(0.25 - t * se + 1e-6, noise))
    assert inside.verdict == SUPPORTED and outside.verdict == INCONCLUSIVE, outside.reason
    assert inside.power is not None
    assert inside.power.detectable_effect == pytest.approx((t + Z) * se, rel=1e-9)
    for factor, adequate in ((0.99, True), (1.01, False)):
        scaled = noise * factor * 0.25 / ((t + Z) * se)
        seen = _judge("L4.3", _l43(0.0, scaled))
        assert seen.power is not None and seen.power.adequate is adequate
        assert seen.verdict == SUPPORTED        # equivalent data read supported …
        assert seen.powered().verdict == (SUPPORTED if adequate else INCONCLUSIVE)  # … if powered


def _phase(minima_slope: float, later: int, runs: int = 12) -> dict:
    """A phase result's main arm at one input scale (100) and ratios 0.1, 1, 10: the minima per
    seed rise by ``minima_slope`` per decade of the ratio (+ the fixed noise); escape times at
    ratio 10 are those at ratio 0.1 plus ``later`` steps (runs 10 + 3j, all escaping)."""
    ratios = (0.1, 1.0, 10.0)
    minima = [{"seed": s, "scale": 100.0, "ratio": r,
               "minima": 3 + minima_slope * np.log10(r) + e}
              for r, row in zip(ratios, NOISE, strict=True) for s, e in enumerate(row)]
    escape = {"normalized": [{"scale": 100.0, "ratio": r,
                              "times": [10 + 3 * j + (later if r == 10.0 else 0)
                                        for j in range(runs)], "escaped": [True] * runs}
                             for r in ratios] + [
        {"scale": 0.01, "ratio": r, "times": [10 + 3 * j for j in range(runs)],
         "escaped": [True] * runs} for r in ratios]}
    return {"arms": _both({"minima": minima, "escape": escape, "mean_minima": []})}


def test_fig1_ratio_minima_slope_flips_at_its_interval_with_escape_supported() -> None:
    """fig1-ratio's two effects at level 1 − α/2: escape 100 steps later at ratio 10 (far
    beyond 5); the minima's slope at Δ + t·se ± 10⁻⁶ (t on 34 degrees of freedom at
    1 − α/4) → supported / inconclusive."""
    se, t = _se((0.1, 1.0, 10.0), NOISE), _t(2, NOISE.size)
    beyond = _judge("fig1-ratio", _phase(0.5 + t * se + 1e-6, 100))
    short = _judge("fig1-ratio", _phase(0.5 + t * se - 1e-6, 100))
    assert beyond.verdict == SUPPORTED, beyond.reason
    assert short.verdict == INCONCLUSIVE, short.reason


def test_rmst_difference_flips_where_the_bootstrap_interval_meets_five_steps() -> None:
    """s5.1-escape (scales 0.01 and 100, one ratio): shifting the slow cell's runs by c whole
    steps shifts every bootstrap RMST difference by c (same resamples, no censoring), so the
    verdict flips between the two shifts that put the interval's low end either side of 5; the
    detectable difference is 5 + (z_{0.975} + z₀.₈)·sd of the bootstrap."""
    def cells(shift: int) -> list[dict]:
        result = _phase(0.0, 0)
        return [{**c, "times": [t + shift for t in c["times"]]} if c["scale"] == 100.0 else c
                for c in result["arms"]["main"]["escape"]["normalized"] if c["ratio"] == 1.0]

    def judged(shift: int) -> Judgement:
        return _judge("s5.1-escape", {"arms": _both({"escape": {"normalized": cells(shift)},
                                                        "minima": [], "mean_minima": []})})

    base = judged(0)
    assert base.effect is not None and base.power is not None and base.power.adequate
    low0 = base.effect.low
    c = int(np.ceil(5 - low0 + 1e-9))           # the fewest steps that lift the low end past 5
    beyond, short = judged(c), judged(c - 1)
    assert beyond.effect is not None and beyond.effect.low == pytest.approx(low0 + c)
    assert beyond.verdict == SUPPORTED and short.verdict == INCONCLUSIVE, short.reason
    slow, fast = sorted(cells(0), key=lambda g: -g["scale"])
    rng, tau = np.random.default_rng(0), max(slow["times"])
    sd = np.std(rmst_bootstrap(slow, tau, 4000, rng) - rmst_bootstrap(fast, tau, 4000, rng))
    z = stats.norm.ppf(0.975) + Z
    assert base.power.detectable_effect == pytest.approx(5 + z * sd, rel=1e-9)


@pytest.mark.slow
def test_an_rmst_difference_at_the_detectable_effect_passes_as_often_as_the_power_says() -> None:
    """s5.1-escape (one ratio, 20 runs a cell, every run escaping, Gaussian times of sd 6): the
    bootstrap sd of the RMST difference is about σ√(2/n), so the detectable difference is about
    5 + (z_{0.975} + z₀.₈)·σ√(2/n); drawn there, 0.8 of 400 draws pass (± 0.06, three
    standard errors); drawn at the minimum 5 itself, about α/2 (of 200: at most 0.05)."""
    n, sd = 20, 6.0
    detect = 5 + (stats.norm.ppf(0.975) + Z) * sd * np.sqrt(2 / n)
    rng = np.random.default_rng(3)

    def cell(scale: float, mean: float) -> dict:
        times = np.maximum(np.round(mean + sd * rng.standard_normal(n)), 1)
        return {"scale": scale, "ratio": 1.0, "times": times.tolist(), "escaped": [True] * n}

    def rate(later: float, draws: int) -> float:
        return float(np.mean([_judge("s5.1-escape", {"arms": _both({"escape": {"normalized": [
            cell(100.0, 40 + later), cell(0.01, 40)]}, "minima": [], "mean_minima": []})}
                                     ).powered().verdict == SUPPORTED for _ in range(draws)]))

    assert abs(rate(detect, 400) - DETECTION_POWER) < 0.06
    assert rate(5.0, 200) < ALPHA
