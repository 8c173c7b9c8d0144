r"""The claims of §1.1, §3.1, §5.1 and Figure 1 about the input scale (two-layer model), each
declared once with its rule and negative control."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from itertools import combinations
from typing import Any

import numpy as np

from advdyn.claims.calibrated import flat_margin, paired
from advdyn.claims.core import (
    INCONCLUSIVE,
    NOT_SUPPORTED,
    SUPPORTED,
    Claim,
    Judgement,
    main_and_control,
    three_way,
    three_way_cells,
)
from advdyn.claims.rule_power import (
    ALPHA,
    HIGH,
    binomial_power,
    fraction_effect,
    slope_effect,
)
from advdyn.claims.stats import holm
from advdyn.claims.trends import slope_test


def judge_on_sphere(arm: Sequence[Mapping[str, Any]]) -> Judgement:
    """Rule of on-sphere (see :data:`ON_SPHERE`)."""
    per_rule = {rule: sum(r["on_sphere"] for r in arm if r["rule"] == rule)
                / max(1, sum(r["runs"] for r in arm if r["rule"] == rule))
                for rule in sorted({r["rule"] for r in arm})}
    arm = [r for r in arm if r["rule"] == "normalized"]
    if not arm:
        return Judgement(INCONCLUSIVE, "no runs", {})
    runs, on = sum(r["runs"] for r in arm), sum(r["on_sphere"] for r in arm)
    problems = {(r["seed"], r["scale"], r["ratio"]) for r in arm}
    most = sum(all(r["on_sphere"] * 2 > r["runs"] for r in arm
                   if (r["seed"], r["scale"], r["ratio"]) == p) for p in problems)
    effect = fraction_effect(on, runs, "fraction of runs ending on the sphere")
    values = {"runs": runs, "on_sphere": on, "fraction_lower_95": effect.low,
              "problems": len(problems), "problems_with_most_runs_on_sphere": most,
              "fraction_per_rule": per_rule}
    verdict, phrase = three_way(effect)
    return Judgement(verdict, f"{on}/{runs} runs: {phrase}; {most}/{len(problems)} problems have "
                     f"most runs there (normalised steps; raw η = ρε²: "
                     f"{per_rule.get('raw', float('nan')):.2f} of runs)", values,
                     binomial_power(runs, "runs"), effect)


ON_SPHERE = Claim(
    id="on-sphere", section="§3.1",
    quote="Besides, the minimizer is located on the sphere with high probability. ... the PGD "
          "will end up on the sphere for most samples in the implementation of adversarial "
          "training.",
    measurement="PGD with the normalised step α = ρε (the rule of practical attacks) from "
                "uniform starts on Xavier problems over seeds × input scales × ratios: the "
                "fraction of runs ending on the sphere, and of problems where most runs do; "
                "the raw rule η = ρε² reported beside it.",
    rule="Three-way on the fraction of normalised-step runs ending on the sphere with its "
         "two-sided 95 % Clopper–Pearson interval: supported if the interval lies above the "
         "minimum effect, not supported if below, else inconclusive.",
    min_effect=f"{HIGH} (fraction of runs ending on the sphere: 'with high probability')",
    control="A concave network at x = 0 (rows ±w_r, equal negative output weights): the "
            "minimum of L over the ball is its centre, so runs end inside and the rule must "
            "reject.",
    experiment="on_sphere", arms=main_and_control,
    judge=judge_on_sphere)


#: The fewest extra local minima of L per decade of input scale (s5.1-minima).
MINIMA_PER_DECADE = 0.5
#: The least rise of the spread (fraction of the range of ℓ) per decade of input scale.
SPREAD_PER_DECADE = 0.05
#: The smallest exponent k of 1 − min cos ∝ ε^k that counts as "→ 0 as ε → 0" (angle).
ANGLE_EXPONENT = 0.5
#: The largest difference of 1 − min cos between two input scales at one ε (eps-only).
EPS_ONLY_BOUND = 0.05


def trend_judgement(rows: Sequence[Mapping[str, Any]], y: str, min_effect: float, what: str,
                    units: str) -> Judgement:
    """Per ratio, the least-squares slope of ``y`` on ``log₁₀ scale`` over (scale, seed) rows
    with its t interval at level ``1 − α/k`` (k ratios; one-sided p of slope > ``min_effect``,
    Holm across ratios, shown), decided three-way over the ratios with "partly"
    (:func:`~advdyn.claims.core.three_way_cells`); the power of the least powered ratio."""
    keys = sorted({r["ratio"] for r in rows})
    if not keys:
        return Judgement(INCONCLUSIVE, "no rows", {})
    fits = {f"ratio {k:g}": slope_test([r["scale"] for r in rows if r["ratio"] == k],
                                       [r[y] for r in rows if r["ratio"] == k], min_effect,
                                       log_y=False) for k in keys}
    judged = {c: slope_effect(f, min_effect, len(keys), units, "(scale, seed) pairs per ratio")
              for c, f in fits.items()}
    verdict, phrase, effect = three_way_cells({c: e for c, (e, _) in judged.items()},
                                              partly=True)
    adjusted = holm([f["p"] for f in fits.values()])
    values = {"slope_per_ratio": {c: e.to_json() for c, (e, _) in judged.items()},
              "holm_p_slope_above_minimum": dict(zip(fits, adjusted, strict=True))}
    power = max((pw for _, pw in judged.values()), key=lambda pw: pw.detectable_effect)
    return Judgement(verdict, f"{what}: {phrase}", values, power, effect)


def judge_concentration(arm: Mapping[str, Any]) -> Judgement:
    """Rule of concentration (see :data:`CONCENTRATION`)."""
    rows = [{**r, "spread": float("nan") if r["spread"] is None else r["spread"]}
            for r in arm["rows"]]
    j = trend_judgement(rows, "spread", SPREAD_PER_DECADE,
                        "spread of ℓ over the minima of L against the input scale",
                        "spread (fraction of the range of ℓ) per decade of input scale")
    return Judgement(j.verdict, j.reason, {"cells": arm["cells"], **j.values}, j.power, j.effect)


CONCENTRATION = Claim(
    id="concentration", section="§1.1",
    quote="Besides, a smaller input scale makes the local maximums concentrate better, which "
          "can partially explain why the loss value of local maximums share similar values "
          "(Madry et al., 2017).",
    measurement="Figure 1 family (d = 2, m = 256, bce, label 0) at input scales 0.01, 1, 100 × "
                "ratios 1, 10 over seeds, exact circle scan: the number of local maxima of ℓ "
                "(minima of L), the spread of their ℓ values over the range of ℓ on the sphere "
                "(0 with one), and the largest angle between them.",
    rule="Per ratio, the least-squares slope of the spread on log₁₀ input scale over (scale, "
         "seed) pairs with its t interval at level 1 − α/k (k ratios, α = 0.05; one-sided Holm "
         "p shown), three-way against the minimum effect: supported if every ratio's interval "
         "lies above it, not supported if every one lies below, partly if some lie above and "
         "the rest below, else inconclusive.",
    min_effect=f"{SPREAD_PER_DECADE:g} of the range of ℓ per decade of input scale (0.2 of the "
               "range over the four decades 0.01 → 100: a change the eye sees in Figure 1; less "
               "is within the seed-to-seed spread of one cell)",
    control="A width-1 network (f monotone along one direction: one minimum of L and spread 0 "
            "at every scale): no trend, so the rule must reject.",
    experiment="concentration",
    arms=lambda r: (r["concentration"]["main"], r["concentration"]["control"]),
    judge=judge_concentration)


def judge_eps_only(arm: Mapping[str, Any]) -> Judgement:
    """Rule of eps-only (see :data:`EPS_ONLY`): paired on the seed, every cell holding one turn
    per seed of ``arm["seeds"]``."""
    units = "1 − min cos∠[∂f, ∂f′]"
    unit = "seeds (paired across cells)"
    turn = {(c["eps"], c["scale"]): np.asarray(c["turn"], float) for c in arm["cells"]}
    eps_values, scales = sorted({e for e, _ in turn}), sorted({c for _, c in turn})
    pairs = [(e, a, b) for e in eps_values for a, b in combinations(scales, 2)]
    if not pairs:
        return Judgement(INCONCLUSIVE, "no two input scales at any fixed ε", {})
    k = len(pairs)
    judged = {f"ε {e:g}, scale {b:g} − {a:g}": paired(
        turn[e, b] - turn[e, a], 0.0, f"{units}: scale {b:g} minus {a:g}", EPS_ONLY_BOUND, unit,
        1 - ALPHA / k) for e, a, b in pairs}
    margins = {c: flat_margin(e, EPS_ONLY_BOUND) for c, (e, _) in judged.items()}
    verdict, phrase, effect = three_way_cells(margins, partly=False)
    top, low = max(eps_values), min(eps_values)
    seen = {f"scale {c:g}": paired(turn[top, c] - turn[low, c], EPS_ONLY_BOUND,
                                   f"{units}: ε {top:g} minus {low:g}", 2.0, unit,
                                   1 - ALPHA / len(scales))[0]
            for c in scales if top > low}
    visible = [c for c, e in seen.items() if three_way(e)[0] == SUPPORTED]
    if verdict == SUPPORTED and not visible:
        verdict, phrase = NOT_SUPPORTED, (f"{phrase}; but ε changes it by more than "
                                          f"{EPS_ONLY_BOUND:g} at no fixed input scale: the "
                                          "measurement sees no effect at all")
    values = {"seeds": len(arm["seeds"]), "pairs": k,
              "scale_margin_at_fixed_eps": {c: e.to_json() for c, e in margins.items()},
              "eps_effect_at_fixed_scale": {c: e.to_json() for c, e in seen.items()},
              "visible": visible}
    power = max((pw for _, pw in judged.values()), key=lambda pw: pw.detectable_effect)
    n = len(arm["seeds"])
    return Judgement(verdict, f"effect of the input scale at fixed ε (paired on {n} "
                     f"seeds, {k} pairs): {phrase}; ε visibly changes it at "
                     f"{', '.join(visible) or 'no scale'}", values, power, effect)


def eps_only_arms(result: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The two eps-only arms (``main``, ``control``): ``seeds`` and per (scale, ε) cell the
    turn per seed, from the experiment's cells and its ``eps_only_turn`` ``(arm, cell, seed)``."""
    grid, turn = result["eps_only"], result["eps_only_turn"]
    main, control = ({"seeds": grid["seeds"],
                      "cells": [{"scale": c["scale"], "eps": c["eps"], "turn": turn[a, i]}
                                for i, c in enumerate(grid["cells"])]} for a in (0, 1))
    return main, control


EPS_ONLY = Claim(
    id="eps-only", section="§5.1.1",
    quote="the concentration results for all quantities such as sup ‖∂f(a, W, δ + x)/∂δ‖ and "
          "min_{δ,δ′∈B(0,ε)} ∠[∂f(δ), ∂f(δ′)] depend only on the scale of ε",
    measurement="1 − min cos∠[∂f(δ), ∂f(δ′)] over sampled ball and sphere points (the same "
                "points δ/ε in every cell), per seed (one network and direction, shared by every "
                "cell: pairs), on cells with the same ε (0.1, 1, 10) reached from input scales "
                "0.1, 1, 10, 100 (ratio = ε/scale), d = 2, m = 256.",
    rule="Three-way equivalence, paired on the seed: at every fixed ε, for every pair of input "
         "scales, the margin bound − |mean paired difference of 1 − min cos| with the interval "
         "its paired t interval at level 1 − α/k implies (k pairs over all ε, α = 0.05): "
         "supported if every pair's difference lies inside (−bound, bound), not supported if "
         "any lies wholly outside, else inconclusive; a supported equivalence also needs ε to "
         "change the angle by more than the bound at some fixed scale (largest minus smallest "
         "ε, paired t interval at level 1 − α/(number of scales) above the bound: the "
         "measurement can see an effect), else not supported. Power: the worst pair's "
         "detectable margin (t + z₀.₈)·se must be within the bound.",
    min_effect=f"a margin of 0, i.e. every difference between input scales at one ε within "
               f"±{EPS_ONLY_BOUND:g} in 1 − min cos (a fortieth of its range [0, 2]; at small "
               "angles 1 − cos ≈ θ²/2, so 0.05 is the gap between parallel gradients and 18° "
               "apart): 'depends only on ε' as a bounded, not a null, difference",
    control="The same networks, points, statistic and cells, with softplus's curvature scale "
            "moved with the input scale c: f_c(z) = c·f(z/c), so ∂f_c over B(c·u, ε) is ∂f over "
            "B(u, ε/c) and the turn depends on the ratio ε/c alone, never on ε by itself "
            "(what a bias-free ReLU network, positively homogeneous, does at every scale). At "
            "fixed ε the input scale then moves the turn from a ball around the origin (ratio "
            "≫ 1: the gradient turns fully) to a ball far from it (ratio ≪ 1: it barely "
            "turns), so the rule must reject.",
    experiment="concentration", arms=eps_only_arms, judge=judge_eps_only)


def judge_angle(arm: Sequence[Mapping[str, Any]]) -> Judgement:
    """Rule of angle (see :data:`ANGLE`)."""
    if not arm:
        return Judgement(INCONCLUSIVE, "no rows", {})
    fit = slope_test([r["eps"] for r in arm], [r["turn"] for r in arm], ANGLE_EXPONENT)
    effect, power = slope_effect(fit, ANGLE_EXPONENT, 1, "exponent k of 1 − min cos ∝ ε^k",
                                 "(ε, seed) pairs")
    verdict, phrase = three_way(effect)
    smallest = min(r["eps"] for r in arm)
    at_small = max(r["turn"] for r in arm if r["eps"] == smallest)
    values = {"exponent": fit["slope"], "p_exponent_above_minimum": fit["p"],
              "smallest_eps": smallest, "max_turn_at_smallest_eps": at_small,
              "mean_turn_per_eps": {str(e): float(sum(r["turn"] for r in arm if r["eps"] == e)
                                                  / sum(r["eps"] == e for r in arm))
                                    for e in sorted({r["eps"] for r in arm})}}
    if at_small > 0.01:
        verdict = NOT_SUPPORTED
    return Judgement(verdict, f"1 − min cos∠[∂f(δ), ∂f(δ′)] against ε: {phrase}; at ε = "
                     f"{smallest:g} it is ≤ {at_small:.3g}", values, power, effect)


ANGLE = Claim(
    id="angle", section="§5.1.1",
    quote="Moreover, min_{δ,δ′} ∠[∂f(δ), ∂f(δ′)] → 1, as ε → 0",
    measurement="1 − min cos∠[∂f(δ), ∂f(δ′)] over sampled ball and sphere points along ε = "
                "10⁻³ … 10 at input scale 1, over seeds (d = 2, m = 256).",
    rule="Three-way on the least-squares slope of log 1 − min cos on log ε over (ε, seed) "
         "pairs (the exponent k of 1 − min cos ∝ ε^k) with its 95 % t interval against the "
         "minimum effect: supported if the interval lies above it, not supported if below, "
         "else inconclusive; a supported exponent also needs 1 − min cos ≤ 0.01 at the "
         "smallest ε for every seed, else not supported.",
    min_effect=f"exponent {ANGLE_EXPONENT:g} (1 − min cos vanishes at least like √ε; a smooth f "
               "gives ∂f(δ) − ∂f(0) = O(ε), so 1 − cos = O(ε²): the minimum accepts a quarter "
               "of that rate and rejects a turn that stays, exponent 0, the control's)",
    control="An even network at x = 0 (rows ±w_r, equal a_r): ∂f(0) = 0, so ∂f(δ) ≈ Hδ turns "
            "with δ at every ε: the rule must reject.",
    experiment="concentration", arms=lambda r: (r["angle"]["main"], r["angle"]["control"]),
    judge=judge_angle)


def judge_minima(arm: Mapping[str, Any]) -> Judgement:
    """Rule of §5.1 (minima) (see :data:`MINIMA`)."""
    j = trend_judgement(arm["minima"], "minima", MINIMA_PER_DECADE,
                        "number of local minima of L against the input scale",
                        "local minima per decade of input scale")
    return Judgement(j.verdict, j.reason, {**j.values, "mean_minima": arm["mean_minima"]},
                     j.power, j.effect)


MINIMA = Claim(
    id="s5.1-minima", label="§5.1 (minima)", section="§5.1.1",
    quote="In Figure 1, we can see for a fixed r, smaller input scale make the landscape more "
          "regular, for instance, the upper left one has only one local minimum.",
    measurement="Phase diagram (d = 2, m = 256, bce, label 0, exact circle scan): the number of "
                "local minima of L on the sphere per seed and (input scale, ratio) cell.",
    rule="Per ratio, the least-squares slope of the count on log₁₀ input scale over (scale, "
         "seed) pairs with its t interval at level 1 − α/k (k ratios, α = 0.05; one-sided Holm "
         "p shown), three-way against the minimum effect: supported if every ratio's interval "
         "lies above it, not supported if every one lies below, partly if some lie above and "
         "the rest below, else inconclusive.",
    min_effect=f"{MINIMA_PER_DECADE:g} more local minima of L per decade of input scale (two "
               "more over the four decades 0.01 → 100: fewer is one extra minimum, within a "
               "census's seed-to-seed spread, not a 'less regular landscape')",
    control="A linear network f = γ_c wᵀz (rows ±w, output weights ±γ_c): one minimum on every "
            "sphere, no trend; the rule must reject.",
    experiment="phase",
    arms=main_and_control, judge=judge_minima)


CLAIMS: tuple[Claim, ...] = (ON_SPHERE, CONCENTRATION, EPS_ONLY, ANGLE, MINIMA)
