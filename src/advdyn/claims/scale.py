r"""The claims of §1.1, §3.1, §5.1 and Figure 1 about the input scale (two-layer model), each
declared once with its rule and negative control."""

from __future__ import annotations

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
    main_and_control,
)
from advdyn.claims.lemmas import ALPHA
from advdyn.claims.stats import escapes_sooner, holm, kaplan_meier
from advdyn.claims.theorems import HIGH
from advdyn.claims.trends import fraction_at_least, rank_trend


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
    low = fraction_at_least(on, runs)
    values = {"runs": runs, "on_sphere": on, "fraction_lower_95": low,
              "problems": len(problems), "problems_with_most_runs_on_sphere": most,
              "fraction_per_rule": per_rule}
    return Judgement(SUPPORTED if low >= HIGH else NOT_SUPPORTED,
                     f"{on}/{runs} runs end on the sphere (95 % lower bound {low:.3f}); "
                     f"{most}/{len(problems)} problems have most runs there (normalised steps; "
                     f"raw η = ρε²: {per_rule.get('raw', float('nan')):.2f} of runs)", values)


ON_SPHERE = Claim(
    id="on-sphere", section="§3.1",
    quote="Besides, the minimizer is located on the sphere with high probability. ... the PGD "
          "will end up on the sphere for most samples in the implementation of adversarial "
          "training.",
    measurement="PGD with the normalised step α = ρε (the rule of practical attacks) from "
                "uniform starts on Xavier problems over seeds × input scales × ratios: the "
                "fraction of runs ending on the sphere, and of problems where most runs do; "
                "the raw rule η = ρε² reported beside it.",
    rule=f"Supported iff the two-sided 95 % Clopper–Pearson lower bound of the fraction of "
         f"normalised-step runs ending on the sphere is ≥ {HIGH}; else not supported.",
    control="A concave network at x = 0 (rows ±w_r, equal negative output weights): the "
            "minimum of L over the ball is its centre, so runs end inside and the rule must "
            "reject.",
    experiment="on_sphere", arms=main_and_control,
    judge=judge_on_sphere)


def trend_per_group(rows: Sequence[Mapping[str, Any]], group: str, x: str, y: str,
                    alternative: str = "greater") -> dict[str, Any]:
    """Per value of ``group``: Spearman's ρ of ``y`` on ``x`` (one-sided), Holm across groups."""
    keys = sorted({r[group] for r in rows})
    tests = [rank_trend([r[x] for r in rows if r[group] == k],
                        [r[y] for r in rows if r[group] == k], alternative=alternative)
             for k in keys]
    adjusted = holm([t["p"] for t in tests]) if tests else []
    return {str(k): {"rho": t["rho"], "holm_p": p}
            for k, t, p in zip(keys, tests, adjusted, strict=True)}


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
        "spread of ℓ over the minima of L rises with the input scale", trends, "ratio"), values)


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

    def kruskal(by: str, across: str) -> dict[str, float]:
        out = {}
        for k in sorted({r[by] for r in rows}):
            samples = [[r["turn"] for r in rows if r[by] == k and r[across] == v]
                       for v in sorted({r[across] for r in rows if r[by] == k})]
            flat = [x for s in samples for x in s]
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
    return Judgement(SUPPORTED if ok else NOT_SUPPORTED, reason, values)


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
                     f"p = {trend['p']:.2g}); at ε = {smallest:g} it is ≤ {at_small:.3g}", values)


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
        "number of local minima of L rises with the input scale", trends, "ratio"), values)


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


def _runs(arm: Mapping[str, Any], conv: str, scale: float, ratio: float) -> Mapping[str, Any]:
    return next(c for c in arm["escape"][conv] if c["scale"] == scale and c["ratio"] == ratio)


def _sooner(arm: Mapping[str, Any], conv: str, a: tuple[float, float],
            b: tuple[float, float]) -> float:
    ra, rb = _runs(arm, conv, *a), _runs(arm, conv, *b)
    if not ra["times"] or not rb["times"]:
        return 1.0
    return escapes_sooner(ra["times"], ra["escaped"], rb["times"], rb["escaped"])


def km_medians(arm: Mapping[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Per convention and cell: the Kaplan–Meier median escape time (None: no runs; inf as
    None too, with ``censored`` telling) and the censored count."""
    out: dict[str, list[dict[str, Any]]] = {}
    for conv, cells in arm["escape"].items():
        out[conv] = []
        for c in cells:
            km = (kaplan_meier(c["times"], c["escaped"]) if c["times"]
                  else {"median": None, "censored": 0, "n": 0})
            med = km["median"]
            out[conv].append({"scale": c["scale"], "ratio": c["ratio"], "n": km["n"],
                              "censored": km["censored"],
                              "median": None if med is None or med == float("inf") else med})
    return out


def judge_escape(arm: Mapping[str, Any]) -> Judgement:
    """Rule of §5.1 (escape) (see :data:`ESCAPE`)."""
    scales = sorted({c["scale"] for c in arm["escape"]["normalized"]})
    ratios = sorted({c["ratio"] for c in arm["escape"]["normalized"]})
    per_conv = {}
    for conv in arm["escape"]:
        ps = [_sooner(arm, conv, (scales[0], r), (scales[-1], r)) for r in ratios]
        per_conv[conv] = {str(r): p for r, p in zip(ratios, holm(ps), strict=True)}
    main = {r: {"rho": 0.0, "holm_p": p} for r, p in per_conv["normalized"].items()}
    values = {"holm_p_smallest_scale_escapes_sooner": per_conv, "km_medians": km_medians(arm)}
    reason = (f"log-rank, scale {scales[0]:g} escapes sooner than {scales[-1]:g}, Holm across "
              "ratios — " + "; ".join(
                  f"{conv}: " + ", ".join(f"r {r}: {p:.2g}" for r, p in ps.items())
                  for conv, ps in per_conv.items()))
    return Judgement(verdict_of(main), reason, values)


ESCAPE = Claim(
    id="s5.1-escape", label="§5.1 (escape)", section="§5.1.2",
    quote="we can see a smaller input scale leads to faster loss value decay in the initial "
          "phase of adversarial training; (Fig. 1) if the input scale is small enough, ... PGD "
          "can easily escape the local maximal with few steps",
    measurement="Phase diagram: PGD from every (kicked) local maximum of L until it stays near "
                "a local minimum (censored at the budget), under normalised steps ρε (the "
                "verdict), raw fixed η and raw η = ρε² (side by side in the values).",
    rule="Per ratio, one-sided log-rank test that runs at the smallest input scale escape "
         "sooner than at the largest (censored times, never the budget as a time), Holm across "
         "ratios, α = 0.05; normalised steps decide: supported if significant at every ratio, "
         "partly if at some, not supported if at none.",
    control="A linear network f = γ_c wᵀz with γ_c small enough that the loss never saturates: "
            "the escape crosses the disk in the same number of normalised steps at every scale, "
            "so the rule must reject.",
    experiment="phase",
    arms=main_and_control, judge=judge_escape)


def judge_fig1_ratio(arm: Mapping[str, Any]) -> Judgement:
    """Rule of fig1-ratio (see :data:`FIG1_RATIO`)."""
    big = max(r["scale"] for r in arm["minima"])
    rows = [r for r in arm["minima"] if r["scale"] == big]
    ratios = sorted({r["ratio"] for r in rows})
    trend = rank_trend([r["ratio"] for r in rows], [r["minima"] for r in rows])
    p_esc = _sooner(arm, "normalized", (big, ratios[0]), (big, ratios[-1]))
    adjusted = holm([trend["p"], p_esc])
    values = {"scale": big, "spearman_rho_minima_vs_ratio": trend["rho"],
              "holm_p_minima": adjusted[0], "holm_p_smaller_ratio_escapes_sooner": adjusted[1]}
    hits = sum(p <= ALPHA for p in adjusted)
    verdict = SUPPORTED if hits == 2 else PARTLY if hits else NOT_SUPPORTED
    return Judgement(verdict, f"at input scale {big:g}: minima rise with the ratio (ρ = "
                     f"{trend['rho']:.2f}, Holm p = {adjusted[0]:.2g}); ratio {ratios[0]:g} "
                     f"escapes sooner than {ratios[-1]:g} (log-rank, Holm p = {adjusted[1]:.2g})",
                     values)


FIG1_RATIO = Claim(
    id="fig1-ratio", section="Fig. 1 caption",
    quote="For large input scales, we have to reduce the perturbation ratio, so as to make the "
          "landscape become more regular and make escaping from the local maximums faster.",
    measurement="At the largest input scale of the phase diagram: the number of local minima "
                "per seed against the ratio, and the normalised-step escape times at the "
                "smallest and the largest ratio.",
    rule="Two one-sided tests, Holm over the two, α = 0.05: Spearman's ρ(ratio, minima) > 0 "
         "and log-rank 'smallest ratio escapes sooner than largest'; supported if both, partly "
         "if one, not supported if neither.",
    control="The linear network of the phase diagram's control: one minimum and the same "
            "escape at every ratio; the rule must reject.",
    experiment="phase",
    arms=main_and_control, judge=judge_fig1_ratio)

CLAIMS: tuple[Claim, ...] = (ON_SPHERE, CONCENTRATION, EPS_ONLY, ANGLE, MINIMA, ESCAPE,
                             FIG1_RATIO)
