r"""The claims of §1.1, §3.1, §5.1 and Figure 1 about the input scale (two-layer model), each
declared once with its rule and negative control."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from scipy import stats

from advdyn.claims.core import (
    INCONCLUSIVE,
    NOT_SUPPORTED,
    PARTLY,
    SUPPORTED,
    Claim,
    Judgement,
    Power,
    main_and_control,
    three_way,
)
from advdyn.claims.rule_power import ALPHA, HIGH, binomial_power, floor_power, fraction_effect
from advdyn.claims.stats import holm
from advdyn.claims.trends import rank_trend


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


def trend_per_group(rows: Sequence[Mapping[str, Any]], group: str, x: str, y: str,
                    alternative: str = "greater") -> dict[str, Any]:
    """Per value of ``group``: Spearman's ρ of ``y`` on ``x`` (one-sided permutation test at
    α/k for the critical ρ, k groups), Holm across groups; with each test's floor, size and
    critical ρ (what :func:`trend_power` reads)."""
    keys = sorted({r[group] for r in rows})
    tests = [rank_trend([r[x] for r in rows if r[group] == k],
                        [r[y] for r in rows if r[group] == k], alternative=alternative,
                        alpha=ALPHA / max(1, len(keys)))
             for k in keys]
    adjusted = holm([t["p"] for t in tests]) if tests else []
    return {str(k): {"rho": t["rho"], "holm_p": p, "n": t["n"], "min_p": t["min_p"],
                     "critical": t["critical"]}
            for k, t, p in zip(keys, tests, adjusted, strict=True)}


def trend_power(trends: Mapping[str, Mapping[str, Any]], unit: str) -> Power:
    """Power of :func:`verdict_of`'s "supported" (every group's trend significant after Holm):
    the largest floor (by design: the ties of x) times the number of groups; detectable: the
    largest critical ρ among the groups whose y varies (a constant y has no null to read)."""
    if not trends:
        return Power(0, 1.0, math.inf, False, f"no {unit}")
    t = list(trends.values())
    return floor_power(min(g["n"] for g in t), max(g["min_p"] for g in t), len(t),
                       max((g["critical"] for g in t if math.isfinite(g["critical"])),
                           default=math.inf), unit)


def verdict_of(trends: Mapping[str, Mapping[str, Any]]) -> str:
    """Supported if every group's trend is significant (Holm), partly if some, else not."""
    hits = sum(t["holm_p"] <= ALPHA for t in trends.values())
    if not trends:
        return INCONCLUSIVE
    return SUPPORTED if hits == len(trends) else PARTLY if hits else NOT_SUPPORTED


def _trend_reason(what: str, trends: Mapping[str, Mapping[str, Any]], group: str) -> str:
    return f"{what}: " + "; ".join(f"{group} {k}: ρ = {t['rho']:.2f}, Holm p = {t['holm_p']:.2g}"
                                   for k, t in trends.items())


def judge_concentration(arm: Mapping[str, Any]) -> Judgement:
    """Rule of concentration (see :data:`CONCENTRATION`)."""
    rows = [{**r, "spread": float("nan") if r["spread"] is None else r["spread"]}
            for r in arm["rows"]]
    trends = trend_per_group(rows, "ratio", "scale", "spread")
    values = {"cells": arm["cells"], "trend_per_ratio": trends}
    return Judgement(verdict_of(trends), _trend_reason(
        "spread of ℓ over the minima of L rises with the input scale", trends, "ratio"), values,
        trend_power(trends, "(scale, seed) pairs per ratio"))


CONCENTRATION = Claim(
    id="concentration", section="§1.1",
    quote="Besides, a smaller input scale makes the local maximums concentrate better, which "
          "can partially explain why the loss value of local maximums share similar values "
          "(Madry et al., 2017).",
    measurement="Figure 1 family (d = 2, m = 256, bce, label 0) at input scales 0.01, 1, 100 × "
                "ratios 1, 10 over seeds, exact circle scan: the number of local maxima of ℓ "
                "(minima of L), the spread of their ℓ values over the range of ℓ on the sphere "
                "(0 with one), and the largest angle between them.",
    rule="Per ratio, Spearman's ρ between input scale and the spread over (scale, seed) pairs, "
         "one-sided (> 0), Holm across ratios, α = 0.05: supported if significant at every "
         "ratio, partly if at some, not supported if at none.",
    control="A width-1 network (f monotone along one direction: one minimum of L and spread 0 "
            "at every scale): no trend, so the rule must reject.",
    experiment="concentration",
    arms=lambda r: (r["concentration"]["main"], r["concentration"]["control"]),
    judge=judge_concentration)


def judge_eps_only(arm: Mapping[str, Any]) -> Judgement:
    """Rule of eps-only (see :data:`EPS_ONLY`)."""
    rows, group, level = arm["rows"], arm["group"], arm["level"]

    floors: list[float] = []
    sizes: list[int] = []
    groups: list[int] = []

    def kruskal(by: str, across: str) -> dict[str, float]:
        out = {}
        for k in sorted({r[by] for r in rows}):
            samples = [[r["turn"] for r in rows if r[by] == k and r[across] == v]
                       for v in sorted({r[across] for r in rows if r[by] == k})]
            flat = [x for s in samples for x in s]
            if by == level:
                floors.append(math.prod(math.factorial(len(x)) for x in samples)
                              / math.factorial(len(flat)))
                sizes.append(min(len(x) for x in samples))
                groups.append(len(samples))
            out[str(k)] = (1.0 if len(samples) < 2 or max(flat) == min(flat)
                           else float(stats.kruskal(*samples).pvalue))
        return dict(zip(out, holm(list(out.values())), strict=True))

    within, across = kruskal(group, level), kruskal(level, group)
    values = {f"holm_p_{level}_effect_at_fixed_{group}": within,
              f"holm_p_{group}_effect_at_fixed_{level}": across}
    ok = all(p > ALPHA for p in within.values()) and any(p <= ALPHA for p in across.values())
    reason = (f"1 − min cos∠[∂f, ∂f′]: effect of {level} at fixed {group} (Kruskal–Wallis, Holm) "
              + ", ".join(f"{k}: p = {p:.2g}" for k, p in within.items())
              + f"; effect of {group} at fixed {level}: "
              + ", ".join(f"{k}: p = {p:.2g}" for k, p in across.items()))
    k = max(1, len(floors))
    critical_h = float(stats.chi2.ppf(1 - ALPHA / k, max(1, min(groups, default=2) - 1)))
    power = floor_power(min(sizes, default=0), max(floors, default=1.0), k, critical_h,
                        f"seeds per ({group}, {level}) cell")
    return Judgement(SUPPORTED if ok else NOT_SUPPORTED, reason, values, power)


EPS_ONLY = Claim(
    id="eps-only", section="§5.1.1",
    quote="the concentration results for all quantities such as sup ‖∂f(a, W, δ + x)/∂δ‖ and "
          "min_{δ,δ′∈B(0,ε)} ∠[∂f(δ), ∂f(δ′)] depend only on the scale of ε",
    measurement="1 − min cos∠[∂f(δ), ∂f(δ′)] over sampled ball and sphere points, per seed, on "
                "cells with the same ε (0.1, 1, 10) reached from input scales 0.1, 1, 10, 100 "
                "(ratio = ε/scale), d = 2, m = 256.",
    rule="Supported iff at every fixed ε the input scale has no significant effect "
         "(Kruskal–Wallis across scales, Holm across ε, α = 0.05) while ε has a significant "
         "effect at some fixed scale (the test can see an effect); else not supported.",
    control="The same cells grouped the other way ('depends only on the input scale'): at "
            "fixed scale, ε changes the angle, so the rule must reject.",
    experiment="concentration", arms=lambda r: (r["eps_only"]["main"], r["eps_only"]["control"]),
    judge=judge_eps_only)


def judge_angle(arm: Sequence[Mapping[str, Any]]) -> Judgement:
    """Rule of angle (see :data:`ANGLE`)."""
    if not arm:
        return Judgement(INCONCLUSIVE, "no rows", {})
    trend = rank_trend([r["eps"] for r in arm], [r["turn"] for r in arm])
    smallest = min(r["eps"] for r in arm)
    at_small = max(r["turn"] for r in arm if r["eps"] == smallest)
    values = {"spearman_rho": trend["rho"], "p": trend["p"], "smallest_eps": smallest,
              "max_turn_at_smallest_eps": at_small,
              "mean_turn_per_eps": {str(e): float(sum(r["turn"] for r in arm if r["eps"] == e)
                                                  / sum(r["eps"] == e for r in arm))
                                    for e in sorted({r["eps"] for r in arm})}}
    ok = trend["p"] <= ALPHA and at_small <= 0.01
    return Judgement(SUPPORTED if ok else NOT_SUPPORTED,
                     f"1 − min cos∠[∂f(δ), ∂f(δ′)] rises with ε (Spearman ρ = {trend['rho']:.2f}, "
                     f"p = {trend['p']:.2g}); at ε = {smallest:g} it is ≤ {at_small:.3g}", values,
                     floor_power(trend["n"], trend["min_p"], 1, trend["critical"],
                                 "(ε, seed) pairs"))


ANGLE = Claim(
    id="angle", section="§5.1.1",
    quote="Moreover, min_{δ,δ′} ∠[∂f(δ), ∂f(δ′)] → 1, as ε → 0",
    measurement="1 − min cos∠[∂f(δ), ∂f(δ′)] over sampled ball and sphere points along ε = "
                "10⁻³ … 10 at input scale 1, over seeds (d = 2, m = 256).",
    rule="Supported iff Spearman's ρ between ε and 1 − min cos is positive (one-sided, α = "
         "0.05) and 1 − min cos ≤ 0.01 at the smallest ε for every seed; else not supported.",
    control="An even network at x = 0 (rows ±w_r, equal a_r): ∂f(0) = 0, so ∂f(δ) ≈ Hδ turns "
            "with δ at every ε: the rule must reject.",
    experiment="concentration", arms=lambda r: (r["angle"]["main"], r["angle"]["control"]),
    judge=judge_angle)


def judge_minima(arm: Mapping[str, Any]) -> Judgement:
    """Rule of §5.1 (minima) (see :data:`MINIMA`)."""
    trends = trend_per_group(arm["minima"], "ratio", "scale", "minima")
    values = {"trend_per_ratio": trends, "mean_minima": arm["mean_minima"]}
    return Judgement(verdict_of(trends), _trend_reason(
        "number of local minima of L rises with the input scale", trends, "ratio"), values,
        trend_power(trends, "(scale, seed) pairs per ratio"))


MINIMA = Claim(
    id="s5.1-minima", label="§5.1 (minima)", section="§5.1.1",
    quote="In Figure 1, we can see for a fixed r, smaller input scale make the landscape more "
          "regular, for instance, the upper left one has only one local minimum.",
    measurement="Phase diagram (d = 2, m = 256, bce, label 0, exact circle scan): the number of "
                "local minima of L on the sphere per seed and (input scale, ratio) cell.",
    rule="Per ratio, Spearman's ρ between input scale and the count over (scale, seed) pairs, "
         "one-sided (> 0), Holm across ratios, α = 0.05: supported if significant at every "
         "ratio, partly if at some, not supported if at none.",
    control="A linear network f = γ_c wᵀz (rows ±w, output weights ±γ_c): one minimum on every "
            "sphere, no trend; the rule must reject.",
    experiment="phase",
    arms=main_and_control, judge=judge_minima)


CLAIMS: tuple[Claim, ...] = (ON_SPHERE, CONCENTRATION, EPS_ONLY, ANGLE, MINIMA)
