r"""The lemmas of Section 4 (two-layer model) decided on log–log slopes against the width, L4.1
and L4.3, each declared once with its rule and its negative control (the arms are produced by
:mod:`advdyn.experiments.two_layer`); the "for every" lemmas are in
:mod:`advdyn.claims.for_every`."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from advdyn.claims.calibrated import flat_margin, t_power
from advdyn.claims.core import (
    INCONCLUSIVE,
    NOT_SUPPORTED,
    Claim,
    Judgement,
    main_and_control,
    three_way,
    three_way_cells,
)
from advdyn.claims.rule_power import slope_effect
from advdyn.claims.stats import holm
from advdyn.claims.trends import slope_test

#: "does not vanish as m grows": the log–log slope against m must exceed this, significantly
SLOPE_FLOOR = -0.25


def below_regime(judge: Callable[[Any], Judgement], arm: str = "below"
                 ) -> Callable[[Mapping[str, Any]], str]:
    """A ``regime(result)`` that states the constants-1 convention and what ``judge`` (the
    claim's own) says on the arm outside the paper's width regime (``m < d^{5/2}``)."""

    def regime(result: Mapping[str, Any]) -> str:
        seen = judge(result["arms"][arm])
        return ("the paper's Θ/Ω constants are unknown: the main arm is inside its regime with "
                f"every constant 1; with m < d^2.5 the same rule says {seen.verdict!r} "
                f"({seen.reason})")

    return regime


def _groups(rows: Sequence[Mapping[str, Any]], key: str) -> dict[Any, list[Mapping[str, Any]]]:
    out: dict[Any, list[Mapping[str, Any]]] = {}
    for r in rows:
        out.setdefault(r[key], []).append(r)
    return out


def judge_l41(arm: Sequence[Mapping[str, Any]]) -> Judgement:
    """Rule of L4.1 (see :data:`L41`)."""
    rows = [r for r in arm if r["interior_steps"]]
    if not rows:
        return Judgement(INCONCLUSIVE, "no interior steps", {"settings": len(arm)})
    decrease = min(r["frac_decrease"] for r in rows)
    fits = {f: slope_test([r["width"] for r in g], [r["q01"] for r in g], SLOPE_FLOOR)
            for f, g in sorted(_groups(rows, "eta_factor").items())}
    adjusted = holm([fit["p"] for fit in fits.values()])
    stable = []
    for g in _groups(rows, "seed").values():
        for w in _groups(g, "width").values():
            by_eta = sorted(w, key=lambda r: r["eta"])
            if len(by_eta) > 1 and by_eta[-1]["q01"] and by_eta[-1]["q01"] > 0:
                stable.append(by_eta[0]["q01"] / by_eta[-1]["q01"])
    k = len(fits)
    judged = {f"η factor {f:g}": slope_effect(fit, SLOPE_FLOOR, k, "log–log slope of q01 on m",
                                              "(width, seed) points per η factor")
              for f, fit in fits.items()}
    verdict, phrase, effect = three_way_cells({c: e for c, (e, _) in judged.items()},
                                              partly=False)
    ratio = float(np.median(stable)) if stable else None
    values = {"interior_steps": sum(r["interior_steps"] for r in rows),
              "min_frac_decrease": decrease,
              "min_q01": min(r["q01"] for r in rows),
              "slope_q01_vs_m": {str(f): fit["slope"] for f, fit in fits.items()},
              "slope_effects": {c: e.to_json() for c, (e, _) in judged.items()},
              "holm_p_slope_above_floor": adjusted,
              "median_q01_ratio_small_over_large_eta": ratio}
    side = decrease >= 0.99 and ratio is not None and ratio >= 0.5
    if not side:
        verdict = NOT_SUPPORTED
    reason = (f"{values['interior_steps']} interior steps, ≥ {decrease:.3f} of them decrease L "
              f"(1 % quantile of -ΔL/η ≥ {values['min_q01']:.3g}); {phrase} (Holm p for > "
              f"{SLOPE_FLOOR}: " + ", ".join(f"{p:.2g}" for p in adjusted)
              + "); q01 at the smallest η / at the largest: "
              + (f"{ratio:.2f}" if ratio is not None else "n/a"))
    power = max((pw for _, pw in judged.values()), key=lambda pw: pw.detectable_effect)
    return Judgement(verdict, reason, values, power, effect)


L41 = Claim(
    id="L4.1", section="Lemma 4.1",
    quote="For m = Ω(d^{5/2}), there exists εmax(m) = Θ((log m)^{-1/2}) and ηmax(m, ε) = "
          "min{Θ((log m)^{-1}), ε²}, if ε < εmax(m), η < ηmax(m, ε), with high probability, "
          "whenever δt+1 ∈ B°(0, ε), L(δt+1) − L(δt) ≤ −Ω(η).",
    measurement="Raw PGD from uniform starts; over the steps that end inside the open ball, "
                "the 1 % quantile q01 of -ΔL/η per width m (d^2.5 … 64·d^2.5), seed and η "
                "(two η factors), and the fraction of such steps that decrease L.",
    rule="(b) decides three-way: for each η factor the least-squares slope of log q01 on log "
         "m over widths × seeds with its t interval at level 1 − α/k (k η factors, α = 0.05; "
         "one-sided Holm p shown) against the minimum effect; supported if every interval lies "
         "above it, not supported if any lies below, else inconclusive. A supported (b) also "
         "needs (a) ≥ 99 % of interior steps in every setting to decrease L and (c) the median "
         "over (seed, m) of q01(smallest η)/q01(largest η) ≥ 0.5 (the constant does not vanish "
         "as η shrinks); either failing: not supported. No interior step: inconclusive.",
    min_effect=f"log–log slope of q01 on m of {SLOPE_FLOOR} (a floor: the Ω(η) constant may "
               "shrink by at most 64^{1/4} ≈ 2.8 over the 64-fold range of widths; the "
               "γ = 1/m control decays like m⁻¹, and any polynomial decay faster than m^{-1/4} "
               "would make the constant vanish in the paper's m → ∞ regime)",
    control="The same widths with output weights γ = 1/m instead of m^{-1/2}: ‖∇f‖ and so "
            "-ΔL/η ≈ ℓ'²‖∇f‖² shrink like 1/m, so (b) must fail.",
    experiment="lemma41", arms=main_and_control,
    judge=judge_l41, regime=below_regime(judge_l41))


def judge_l43(arm: Sequence[Mapping[str, Any]]) -> Judgement:
    """Rule of L4.3 (see :data:`L43`): B̂_l neither vanishes nor grows with m."""
    if not arm:
        return Judgement(INCONCLUSIVE, "no widths", {})
    widths, bl = [r["width"] for r in arm], [r["B_l"] for r in arm]
    fit = slope_test(widths, bl, SLOPE_FLOOR, alternative="greater")
    high = slope_test(widths, bl, -SLOPE_FLOOR, alternative="less")
    adjusted = holm([fit["p"], high["p"]])
    slope, _ = slope_effect(fit, 0.0, 1, "log–log slope of B̂_l on m", "(width, seed) pairs")
    effect = flat_margin(slope, -SLOPE_FLOOR)
    verdict, phrase = three_way(effect)
    lb = [r["L_times_B_l"] for r in arm]
    if min(lb) <= 0:
        verdict = NOT_SUPPORTED
    values = {"slope_B_l_vs_m": fit["slope"], "stderr": fit["stderr"],
              "slope_interval": [slope.low, slope.high],
              "holm_p_slope_above_-0.25": adjusted[0], "holm_p_slope_below_0.25": adjusted[1],
              "B_l_range": [min(bl), max(bl)], "L_times_B_l_min": min(lb),
              "widths": sorted(set(widths))}
    reason = (f"log B̂_l on log m over {len(arm)} (width, seed) pairs, slope "
              f"{slope.estimate:.3f} in [{slope.low:.3g}, {slope.high:.3g}]: {phrase} (Holm p "
              f"for > {SLOPE_FLOOR}: {adjusted[0]:.2g}, for < {-SLOPE_FLOOR}: {adjusted[1]:.2g}); "
              f"B̂_l ∈ [{min(bl):.3g}, {max(bl):.3g}], L̂·B̂_l ≥ {min(lb):.3g}")
    se = math.inf if fit["stderr"] is None else float(fit["stderr"])
    power = t_power(fit["n"], se, fit["n"] - 2, 0.0, -SLOPE_FLOOR, "(width, seed) pairs")
    return Judgement(verdict, reason, values, power, effect)


L43 = Claim(
    id="L4.3", section="Lemma 4.3",
    quote="for any δ ∈ εS^{d−1} and any 0 ≤ β ≤ 1 such that ∠[∂f(δ), δ] ≤ β, we have ‖Γ(δ)‖ ≥ "
          "√(1−β²)‖∂f(δ)‖ > L·B_l√(1−β²), where B_l is of order Θ(1).",
    measurement="B̂_l = min ‖∇f‖ over sampled ball and sphere points (and L̂ = min |ℓ'|/2) per "
                "width m from d^2.5 to 64·d^2.5 and seed, at fixed d and ε.",
    rule="Three-way on the margin 0.25 − |b| of the least-squares slope b of log B̂_l on log "
         "m, with the interval its 95 % t interval implies (each end at α/2 = 0.025: the two "
         "one-sided tests of b > −0.25 and b < 0.25, Holm over the two, shown): supported if "
         "the slope's interval lies inside (−0.25, 0.25) — B_l neither vanishes nor grows "
         "polynomially with m —, not supported if it lies wholly outside, else inconclusive; a "
         "supported margin also needs L̂·B̂_l > 0 everywhere, else not supported.",
    min_effect="a margin 0.25 − |slope| of 0, i.e. |log–log slope of B̂_l on m| < 0.25: B̂_l "
               "changes by less than a factor 64^{1/4} ≈ 2.8 over the 64-fold range of widths "
               "(Θ(1)); the γ = 1/m control's slope is −1/2, twice the bound",
    control="Output weights γ = 1/m: ‖∇f‖ = Θ(m^{-1/2}), so the slope is about -1/2 and the "
            "rule must reject.",
    experiment="lemma43", arms=main_and_control,
    judge=judge_l43, regime=below_regime(judge_l43))


CLAIMS: tuple[Claim, ...] = (L41, L43)
