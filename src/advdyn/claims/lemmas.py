r"""The lemmas of Section 4 (two-layer model): L4.1–L4.5, each declared once with its rule and
its negative control (the arms are produced by :mod:`advdyn.experiments.two_layer`)."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from advdyn.claims.calibrated import flat_margin, t_power
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
from advdyn.claims.rule_power import binomial_power, slope_effect
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


def judge_l43_literal(arm: Sequence[Mapping[str, Any]]) -> Judgement:
    """Rule of the literal one-sided reading of L4.3: no sphere point with cos∠ ≤ β violates
    ``‖P_T∇f‖ ≥ √(1−β²)‖∇f‖``."""
    ratios = [r["min_ratio"] for r in arm if r["min_ratio"] is not None]
    if not ratios:
        return Judgement(INCONCLUSIVE, "no sphere point with cos∠ ≤ β", {})
    failing = max(r["frac_failing"] for r in arm)
    values = {"min_ratio": min(ratios), "max_frac_failing": failing,
              "min_cos": min(r["min_cos"] for r in arm), "points_sets": len(arm)}
    verdict = SUPPORTED if min(ratios) >= 1 else NOT_SUPPORTED
    return Judgement(verdict, f"min ‖P_T∇f‖/(√(1−β²)‖∇f‖) over cos∠ ≤ β is {min(ratios):.3g}; "
                     f"up to {failing:.1%} of the sphere violates it (cos∠ down to "
                     f"{values['min_cos']:.3f})", values,
                     binomial_power(min(r["points"] for r in arm), "sphere points per set",
                                    all_pass=True))


L43_LITERAL = Claim(
    id="L4.3-literal", section="Lemma 4.3",
    quote="for any δ ∈ εS^{d−1} and any 0 ≤ β ≤ 1 such that ∠[∂f(δ), δ] ≤ β, we have "
          "‖Γ(δ)‖ ≥ √(1−β²)‖∂f(δ)‖",
    measurement="At uniform sphere points, the smallest ‖P_T∇f‖/(√(1−β²)‖∇f‖) over the points "
                "with cos∠[∇f, δ] ≤ β (the one-sided hypothesis as written), β = 0.5, 0.9.",
    rule="Supported iff the ratio is ≥ 1 at every sampled point satisfying the hypothesis; "
         "else not supported. (‖P_T∇f‖ = ‖∇f‖√(1−cos²), so the reading fails exactly where "
         "cos∠ < −β: near points where ∇f is antiparallel to δ.)",
    control="A large input scale (10, ratio 1) where ∇f turns over the sphere and many "
            "critical points with cos∠ = −1 exist: the rule must reject.",
    experiment="lemma43", arms=lambda r: (r["literal"]["main"], r["literal"]["control"]),
    judge=judge_l43_literal)


def judge_l44(arm: Sequence[Mapping[str, Any]]) -> Judgement:
    """Rule of L4.4 (see :data:`L44`)."""
    per_phi = {}
    for phi, g in sorted(_groups(arm, "phi").items()):
        if g and all(r["points"] > 0 for r in g):
            per_phi[phi] = {"min_margin": min(r["margin"] for r in g),
                            "min_margin_unit": min(r["margin_unit"] for r in g),
                            "points": sum(r["points"] for r in g)}
    if not per_phi:
        return Judgement(INCONCLUSIVE, "no sampled point with |cos∠| ≥ φ in some setting", {})
    good = [phi for phi, v in per_phi.items() if v["min_margin"] > 0]
    values = {"per_phi": {str(k): v for k, v in per_phi.items()},
              "smallest_phi_with_positive_margin": min(good) if good else None,
              "saddles_found": sum(r["saddles"] for r in arm if r["phi"] == min(per_phi))}
    reason = ("smallest margin of sgn⟨−∇L,δ⟩·P_TΞP_T (units ‖∇L‖/ε) over |cos∠| ≥ φ: "
              + ", ".join(f"φ = {k:g}: {v['min_margin_unit']:.3g} ({v['points']} points)"
                          for k, v in per_phi.items())
              + f"; census saddles: {values['saddles_found']}")
    deciding = min(good) if good else min(per_phi)
    return Judgement(SUPPORTED if good else NOT_SUPPORTED, reason, values,
                     binomial_power(per_phi[deciding]["points"], f"points with |α| ≥ {deciding:g}",
                                    all_pass=True))


L44 = Claim(
    id="L4.4", section="Lemma 4.4",
    quote="there exists universal constants φ, γ > 0, for any δ ∈ εS^{d−1}, such that "
          "∠[∂f(δ), δ] ≥ φ, then for all ‖v‖ = 1, sgn((y − u)δᵀ∂f(δ))·vᵀΞv ≥ γ.",
    measurement="At uniform sphere points and at every census critical point (d = 3): α = "
                "cos∠[−∇L, δ] and the smallest eigenvalue of sgn(α)·P_TΞP_T on the tangent "
                "space (the margin γ), per seed and ε, for φ = 0.5, 0.9, 0.99 on |α| ≥ φ (the "
                "orientation of docs/concepts.md: near minima and near maxima of L).",
    rule="Supported iff for some φ of the grid every (seed, ε) has points with |α| ≥ φ and the "
         "smallest margin over them is > 0; else not supported.",
    control="ε far above the regime (input scale 10, ratio 3: ε = 30), where the census finds "
            "saddles (|α| = 1, indefinite tangent Hessian): the rule must reject.",
    experiment="lemma44", arms=main_and_control,
    judge=judge_l44, regime=below_regime(judge_l44))


def l45_arms(result: Mapping[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Main: every setting of the uniform starts (the rule reads those where (6) holds).
    Control: the settings where (6) fails, marked as if it held (see :data:`L45`)."""
    main = list(result["arms"]["main"])
    return main, [{**r, "cond6": True} for r in main if not r["cond6"]]


def judge_l45(arm: Sequence[Mapping[str, Any]]) -> Judgement:
    """Rule of L4.5 (see :data:`L45`)."""
    if not arm:
        return Judgement(INCONCLUSIVE, "no settings", {},
                         binomial_power(0, "trajectories where (6) held", all_pass=True))
    held = [r for r in arm if r["cond6"]]
    reached = sum(r["reached_sphere"] for r in held)
    values = {"settings": len(arm), "settings_with_cond6": len(held),
              "trajectories": sum(r["trajectories"] for r in held), "reached_sphere": reached,
              "entered_minus": sum(r["entered_minus"] for r in held),
              "left_plus": sum(r["left_plus"] for r in held),
              "entered_minus_without_cond6": sum(r["entered_minus"] for r in arm
                                                 if not r["cond6"])}
    power = binomial_power(values["trajectories"], "trajectories where (6) held",
                           all_pass=True)
    if not held or reached == 0:
        return Judgement(INCONCLUSIVE, "condition (6) held nowhere, or no trajectory reached "
                         "the sphere where it held", values, power)
    ok = values["entered_minus"] == 0 and values["left_plus"] == 0
    reason = (f"(6) held in {len(held)}/{len(arm)} settings; there {values['entered_minus']} of "
              f"{values['trajectories']} trajectories ({reached} reached the sphere) entered "
              f"Δ⁻_η and {values['left_plus']} left Δ⁺_η")
    return Judgement(SUPPORTED if ok else NOT_SUPPORTED, reason, values, power)


L45 = Claim(
    id="L4.5", section="Lemma 4.5",
    quote="For learning rate η such that η < min{1, LB_l}, if (6) holds for all δ, δ' ∈ "
          "εS^{d−1}, the trajectory initialized by drawing from a uniform distribution over "
          "B°(0, ε) will never reach Δ⁻_η. Meanwhile, if there exists t* such that δt* ∈ Δ⁺_η, "
          "then for all t > t*, δt ∈ Δ⁺_η.",
    measurement="Condition (6) estimated from samples (angle spread: sample maximum; L, B_l: "
                "sample minima) per seed and (scale, ratio); raw PGD with η = 0.01·(L̂B̂_l)²: how "
                "many trajectories enter Δ⁻_η, and how many leave Δ⁺_η after entering it.",
    rule="Over the settings where (6) holds: supported iff no trajectory enters Δ⁻_η and none "
         "leaves Δ⁺_η; inconclusive if (6) holds nowhere or no trajectory reaches the sphere; "
         "else not supported.",
    control="The main arm's uniform starts in the settings where (6) fails, judged as if it "
            "held: the same starts, steps and Δ^±_η bookkeeping, only condition (6) removed; if "
            "trajectories enter Δ⁻_η there the rule rejects, and if none does the rule cannot "
            "tell (6) from its absence at this size.",
    experiment="lemma45", arms=l45_arms,
    judge=judge_l45,
    regime=lambda r: "the regime of this lemma is condition (6) itself, estimated per setting")


def judge_l42(arm: Sequence[Mapping[str, Any]]) -> Judgement:
    """Rule of L4.2 (see :data:`L42`)."""
    rows = [r for r in arm if r["directions"]]
    if not rows:
        return Judgement(INCONCLUSIVE, "no directions", {})
    worst = max(r["max_ratio"] for r in rows)
    values = {"max_ratio": worst, "directions": sum(r["directions"] for r in rows),
              "max_error_over_eta": max(r["max_error_over_eta"] for r in rows)}
    return Judgement(SUPPORTED if worst <= 1 else NOT_SUPPORTED,
                     f"worst ‖P_B(δ₀+ηv̂) − (δ₀+ηP_Tv̂)‖/(4η²/ε) = {worst:.3g} over "
                     f"{values['directions']} (δ₀, v̂, η); worst error/η = "
                     f"{values['max_error_over_eta']:.3g}", values,
                     binomial_power(values["directions"], "(δ₀, v̂, η) triples", all_pass=True))


L42 = Claim(
    id="L4.2", section="Lemma 4.2",
    quote="For any v̂ ∈ S^{d−1}, let δ̃1 = δ0 + ηv̂ and δ̃2 = δ0 + ηP_T0·v̂, then "
          "‖P_B(0,ε)(δ̃1) − δ̃2‖ ≤ 4η²/ε.",
    measurement="At uniform sphere points δ₀ and unit directions v̂ pointing outward "
                "(⟨v̂, δ₀⟩ ≥ 0, the projection active; plus v̂ = δ̂₀), d = 2, 5, 20, η/ε = 10⁻³, "
                "10⁻², 10⁻¹: the worst ratio of the error to 4η²/ε.",
    rule="Supported iff the worst ratio is ≤ 1; else not supported.",
    control="Inward directions (⟨v̂, δ₀⟩ < 0, including v̂ = −δ̂₀): δ₀ + ηv̂ stays in the ball and "
            "the error is η|⟨v̂, δ̂₀⟩|, of order η, not η²/ε: the rule must reject. The lemma's "
            "'for any v̂' is therefore false as written; it holds for outward v̂ (the case where "
            "the projection acts).",
    experiment="lemma42", arms=lambda r: (r["arms"]["outward"], r["arms"]["inward"]),
    judge=judge_l42)


L42_LITERAL = Claim(
    id="L4.2-literal", section="Lemma 4.2",
    quote="For any v̂ ∈ S^{d−1}, let δ̃1 = δ0 + ηv̂ and δ̃2 = δ0 + ηP_T0·v̂, then "
          "‖P_B(0,ε)(δ̃1) − δ̃2‖ ≤ 4η²/ε.",
    measurement="The worst ratio of the error to 4η²/ε over every direction of L4.2's sample, "
                "outward and inward (⟨v̂, δ₀⟩ < 0, including v̂ = −δ̂₀): 'for any v̂' as written.",
    rule="The rule of L4.2 on all directions: supported iff the worst ratio is ≤ 1; else not "
         "supported. (Expected not supported: for inward v̂ the point stays in the ball and the "
         "error is η|⟨v̂, δ̂₀⟩|, of order η, not η²/ε.)",
    control="The inward directions alone, where the projection never acts: the error is of "
            "order η, so the rule must reject.",
    experiment="lemma42",
    arms=lambda r: (list(r["arms"]["outward"]) + list(r["arms"]["inward"]), r["arms"]["inward"]),
    judge=judge_l42)


CLAIMS: tuple[Claim, ...] = (L41, L42, L42_LITERAL, L43, L43_LITERAL, L44, L45)
