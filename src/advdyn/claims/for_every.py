r"""The lemmas of Section 4 that state a bound "for every" point (L4.2, L4.3 read literally, L4.4)
or that a trajectory "never" does something (L4.5): each read on sampled units (a direction, a
sphere point, a trajectory) as the fraction of units that keep it, with its Clopper–Pearson
interval against the minimum effect :data:`~advdyn.claims.rule_power.EVERY` (a deterministic
statement may miss at most 1 % of the sampled measure), one fraction per cell of the claim
(:func:`~advdyn.claims.rule_power.fraction_cells`, each at level ``1 − α/k``).

Declared once each with its rule and negative control; the arms are produced by
:mod:`advdyn.experiments.two_layer`."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from advdyn.claims.core import (
    INCONCLUSIVE,
    Claim,
    Effect,
    Judgement,
    Power,
    main_and_control,
    three_way_any,
    three_way_cells,
)
from advdyn.claims.lemmas import below_regime
from advdyn.claims.rule_power import ALPHA, EVERY, fraction_cells

Cells = dict[str, tuple[int, int]]
#: How the minimum effect reads in every claim of this module.
MIN_EVERY = (f"{EVERY} (fraction of sampled units that keep the statement, in every cell: a "
             "deterministic 'for every' may miss at most 1 % of the sampled measure — well "
             "below any share of the measure where it would fail for a reason, such as the "
             "inward half of the directions)")


def count_cells(rows: Sequence[Mapping[str, Any]], cell: Callable[[Mapping[str, Any]], str],
                kept: str, units: str) -> Cells:
    """Per cell (``cell(row)``) the totals ``(Σ row[kept], Σ row[units])``."""
    out: Cells = {}
    for r in rows:
        k, n = out.get(cell(r), (0, 0))
        out[cell(r)] = (k + int(r[kept]), n + int(r[units]))
    return out


def decide_fractions(cells: Cells, units: str, unit: str, *, exists: bool = False
                     ) -> tuple[str, str, dict[str, Any], Effect, Power]:
    """The three-way decision on each cell's fraction against :data:`EVERY` (every cell must
    pass; with ``exists``, some cell): ``(verdict, phrase, per-cell effects as JSON, deciding
    effect, power of the cell that limits the rule)``."""
    effects, power = fraction_cells(cells, units, unit, floor=EVERY, exists=exists)
    verdict, phrase, effect = (three_way_any(effects) if exists
                               else three_way_cells(effects, partly=False))
    return verdict, phrase, {c: e.to_json() for c, e in effects.items()}, effect, power


def judge_l42(arm: Sequence[Mapping[str, Any]]) -> Judgement:
    """Rule of L4.2 (see :data:`L42`)."""
    rows = [r for r in arm if r["directions"]]
    if not rows:
        return Judgement(INCONCLUSIVE, "no directions", {})
    cells = count_cells(rows, lambda r: f"d = {r['dim']}, η/ε = {r['eta_over_eps']:g}",
                        "within_bound", "directions")
    verdict, phrase, per_cell, effect, power = decide_fractions(
        cells, "fraction within 4η²/ε", "(δ₀, v̂) pairs")
    values = {"max_ratio": max(r["max_ratio"] for r in rows),
              "directions": sum(r["directions"] for r in rows),
              "within_bound": sum(r["within_bound"] for r in rows),
              "max_error_over_eta": max(r["max_error_over_eta"] for r in rows),
              "cells": per_cell}
    return Judgement(verdict, f"{values['within_bound']} of {values['directions']} (δ₀, v̂, η) "
                     f"keep ‖P_B(δ₀+ηv̂) − (δ₀+ηP_Tv̂)‖ ≤ 4η²/ε (worst ratio "
                     f"{values['max_ratio']:.3g}, worst error/η "
                     f"{values['max_error_over_eta']:.3g}); {phrase}", values, power, effect)


L42_RULE = (f"Per cell (d, η/ε) the fraction of (δ₀, v̂) with error ≤ 4η²/ε and its two-sided "
            f"Clopper–Pearson interval at level 1 − α/k (k cells, α = {ALPHA}): supported if "
            "every cell's interval lies above the minimum effect, not supported if any lies "
            "below, else inconclusive.")

L42 = Claim(
    id="L4.2", section="Lemma 4.2",
    quote="For any v̂ ∈ S^{d−1}, let δ̃1 = δ0 + ηv̂ and δ̃2 = δ0 + ηP_T0·v̂, then "
          "‖P_B(0,ε)(δ̃1) − δ̃2‖ ≤ 4η²/ε.",
    measurement="At uniform sphere points δ₀ and unit directions v̂ pointing outward "
                "(⟨v̂, δ₀⟩ ≥ 0, the projection active; plus v̂ = δ̂₀), d = 2, 5, 20, η/ε = 10⁻³, "
                "10⁻², 10⁻¹: per (d, η/ε) how many (δ₀, v̂) keep the error within 4η²/ε, and "
                "the worst ratio of the error to 4η²/ε.",
    rule=L42_RULE, min_effect=MIN_EVERY,
    control="Inward directions (⟨v̂, δ₀⟩ < 0, including v̂ = −δ̂₀) of the same sample: the same "
            "points, steps and error, only the projection — the lemma's mechanism — never acts: "
            "δ₀ + ηv̂ stays in the ball and the error is η|⟨v̂, δ̂₀⟩|, of order η, not η²/ε, so "
            "most of each cell breaks the bound and the rule must reject. (The lemma's 'for "
            "any v̂' is therefore false as written; it holds for outward v̂: L4.2-literal.)",
    experiment="lemma42", arms=lambda r: (r["arms"]["outward"], r["arms"]["inward"]),
    judge=judge_l42)


L42_LITERAL = Claim(
    id="L4.2-literal", section="Lemma 4.2",
    quote="For any v̂ ∈ S^{d−1}, let δ̃1 = δ0 + ηv̂ and δ̃2 = δ0 + ηP_T0·v̂, then "
          "‖P_B(0,ε)(δ̃1) − δ̃2‖ ≤ 4η²/ε.",
    measurement="Per (d, η/ε) the fraction of every direction of L4.2's sample, outward and "
                "inward (⟨v̂, δ₀⟩ < 0, including v̂ = −δ̂₀), that keeps the error within 4η²/ε: "
                "'for any v̂' as written.",
    rule=L42_RULE + " (Expected not supported: the inward half of the directions keeps the "
                    "point in the ball, with an error of order η.)",
    min_effect=MIN_EVERY,
    control="The inward directions alone, where the projection never acts: the error is of "
            "order η, so the rule must reject.",
    experiment="lemma42",
    arms=lambda r: (list(r["arms"]["outward"]) + list(r["arms"]["inward"]), r["arms"]["inward"]),
    judge=judge_l42)


def judge_l43_literal(arm: Sequence[Mapping[str, Any]]) -> Judgement:
    """Rule of the literal one-sided reading of L4.3 (see :data:`L43_LITERAL`)."""
    rows = [r for r in arm if r["points"]]
    if not rows:
        return Judgement(INCONCLUSIVE, "no sphere point with cos∠ ≤ β", {})
    cells = count_cells(rows, lambda r: f"β = {r['beta']:g}", "holding", "points")
    verdict, phrase, per_cell, effect, power = decide_fractions(
        cells, "fraction with ‖P_T∇f‖ ≥ √(1−β²)‖∇f‖", "sphere points with cos∠ ≤ β")
    values = {"min_ratio": min(r["min_ratio"] for r in rows),
              "max_frac_failing": max(r["frac_failing"] for r in rows),
              "min_cos": min(r["min_cos"] for r in rows), "points_sets": len(rows),
              "cells": per_cell}
    return Judgement(verdict, f"min ‖P_T∇f‖/(√(1−β²)‖∇f‖) over cos∠ ≤ β is "
                     f"{values['min_ratio']:.3g} (cos∠ down to {values['min_cos']:.3f}); "
                     f"{phrase}", values, power, effect)


L43_LITERAL = Claim(
    id="L4.3-literal", section="Lemma 4.3",
    quote="for any δ ∈ εS^{d−1} and any 0 ≤ β ≤ 1 such that ∠[∂f(δ), δ] ≤ β, we have "
          "‖Γ(δ)‖ ≥ √(1−β²)‖∂f(δ)‖",
    measurement="At uniform sphere points, per β = 0.5, 0.9 (over seeds), how many of the points "
                "with cos∠[∇f, δ] ≤ β (the one-sided hypothesis as written) keep "
                "‖P_T∇f‖ ≥ √(1−β²)‖∇f‖; the smallest ratio of the two sides.",
    rule="Per β the fraction of hypothesis points keeping the inequality, with its two-sided "
         f"Clopper–Pearson interval at level 1 − α/2 (α = {ALPHA}): supported if both lie above "
         "the minimum effect, not supported if either lies below, else inconclusive. "
         "(‖P_T∇f‖ = ‖∇f‖√(1−cos²), so the reading fails exactly where cos∠ < −β: near points "
         "where ∇f is antiparallel to δ.)",
    min_effect=MIN_EVERY,
    control="A large input scale (10, ratio 1) of the same networks and β: the same points "
            "and inequality, but ∇f turns over the sphere and many critical points with "
            "cos∠ = −1 exist, so a large share of the hypothesis points break it and the rule "
            "must reject.",
    experiment="lemma43", arms=lambda r: (r["literal"]["main"], r["literal"]["control"]),
    judge=judge_l43_literal)


def judge_l44(arm: Sequence[Mapping[str, Any]]) -> Judgement:
    """Rule of L4.4 (see :data:`L44`)."""
    rows = [r for r in arm if r["points"]]
    if not rows:
        return Judgement(INCONCLUSIVE, "no sampled point with |cos∠| ≥ φ", {})
    cells = count_cells(rows, lambda r: f"φ = {r['phi']:g}", "positive", "points")
    verdict, phrase, per_cell, effect, power = decide_fractions(
        cells, "fraction with a positive margin", "points with |α| ≥ φ", exists=True)
    smallest = {f"{phi:g}": min(r["margin_unit"] for r in rows if r["phi"] == phi)
                for phi in sorted({r["phi"] for r in rows})}
    first = min(r["phi"] for r in rows)         # one row per (seed, ε) at each φ
    values = {"min_margin_unit": smallest, "cells": per_cell,
              "saddles_found": sum(r["saddles"] for r in rows if r["phi"] == first)}
    return Judgement(verdict, "smallest margin of sgn⟨−∇L,δ⟩·P_TΞP_T (units ‖∇L‖/ε) over "
                     "|cos∠| ≥ φ: " + ", ".join(f"φ = {k}: {v:.3g}" for k, v in smallest.items())
                     + f"; census saddles: {values['saddles_found']}; {phrase}",
                     values, power, effect)


L44 = Claim(
    id="L4.4", section="Lemma 4.4",
    quote="there exists universal constants φ, γ > 0, for any δ ∈ εS^{d−1}, such that "
          "∠[∂f(δ), δ] ≥ φ, then for all ‖v‖ = 1, sgn((y − u)δᵀ∂f(δ))·vᵀΞv ≥ γ.",
    measurement="At uniform sphere points and at every census critical point (d = 3): α = "
                "cos∠[−∇L, δ] and the smallest eigenvalue of sgn(α)·P_TΞP_T on the tangent "
                "space (the margin γ), over seeds and ε, for φ = 0.5, 0.9, 0.99 on |α| ≥ φ (the "
                "orientation of docs/concepts.md: near minima and near maxima of L): how many "
                "points have a positive margin, and the smallest margin.",
    rule="Per φ the fraction of points with |α| ≥ φ whose margin is positive, with its "
         f"two-sided Clopper–Pearson interval at level 1 − α/3 (α = {ALPHA}): 'there exists φ' "
         "— supported if some φ's interval lies above the minimum effect, not supported if "
         "every one lies below, else inconclusive.",
    min_effect=MIN_EVERY,
    control="ε far above the regime (input scale 10, ratio 3: ε = 30) on networks of the same "
            "kind, sampled and measured alike: the census finds saddles (|α| = 1, indefinite "
            "tangent Hessian) and indefinite regions around them, so at every φ more than 1 % "
            "of the points lack a positive margin and the rule must reject.",
    experiment="lemma44", arms=main_and_control,
    judge=judge_l44, regime=below_regime(judge_l44))


def l45_arms(result: Mapping[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Main: every setting of the uniform starts (the rule reads those where (6) holds).
    Control: the settings where (6) fails, marked as if it held (see :data:`L45`)."""
    main = list(result["arms"]["main"])
    return main, [{**r, "cond6": True} for r in main if not r["cond6"]]


def judge_l45(arm: Sequence[Mapping[str, Any]]) -> Judgement:
    """Rule of L4.5 (see :data:`L45`): the trajectories that reach the sphere are the units
    (one that never does cannot enter Δ⁻_η or leave Δ⁺_η); ``kept`` counts every trajectory
    that does neither, so those on the sphere are ``kept − (trajectories − reached)``."""
    held = [r for r in arm if r["cond6"]]
    reached = sum(r["reached_sphere"] for r in held)
    kept = sum(r["kept"] - r["trajectories"] + r["reached_sphere"] for r in held)
    values = {"settings": len(arm), "settings_with_cond6": len(held),
              "trajectories": sum(r["trajectories"] for r in held), "reached_sphere": reached,
              "kept_on_sphere": kept, "entered_minus": sum(r["entered_minus"] for r in held),
              "left_plus": sum(r["left_plus"] for r in held)}
    verdict, phrase, per_cell, effect, power = decide_fractions(
        {"(6) held": (kept, reached)}, "fraction never in Δ⁻_η nor out of Δ⁺_η",
        "trajectories on the sphere where (6) held")
    values["cells"] = per_cell
    return Judgement(verdict, f"(6) held in {len(held)}/{len(arm)} settings; there "
                     f"{values['entered_minus']} of {values['trajectories']} trajectories "
                     f"({reached} reached the sphere) entered Δ⁻_η and {values['left_plus']} "
                     f"left Δ⁺_η; {phrase}", values, power, effect)


L45 = Claim(
    id="L4.5", section="Lemma 4.5",
    quote="For learning rate η such that η < min{1, LB_l}, if (6) holds for all δ, δ' ∈ "
          "εS^{d−1}, the trajectory initialized by drawing from a uniform distribution over "
          "B°(0, ε) will never reach Δ⁻_η. Meanwhile, if there exists t* such that δt* ∈ Δ⁺_η, "
          "then for all t > t*, δt ∈ Δ⁺_η.",
    measurement="Condition (6) estimated from samples (angle spread: sample maximum; L, B_l: "
                "sample minima) per seed and (scale, ratio); raw PGD with η = 0.01·(L̂B̂_l)²: of "
                "the trajectories that reach the sphere, how many never enter Δ⁻_η and never "
                "leave Δ⁺_η after entering it.",
    rule="Over the settings where (6) holds, the fraction of trajectories on the sphere that "
         "keep both statements, with its two-sided 95 % Clopper–Pearson interval: supported "
         "above the minimum effect, not supported below, else inconclusive (no trajectory on "
         "the sphere: the interval is [0, 1], inconclusive).",
    min_effect=MIN_EVERY,
    control="The main arm's uniform starts in the settings where (6) fails, judged as if it "
            "held: the same starts, steps and Δ^±_η bookkeeping, only condition (6) — the "
            "lemma's mechanism — removed; if trajectories enter Δ⁻_η there the rule rejects, "
            "and if not (or too few reach the sphere) the rule cannot tell (6) from its absence "
            "at this size and the claim stays inconclusive. No arm found that keeps the ruler "
            "does better: a raw step from δ lands at εy/‖y‖, y = δ − η∇L(δ), with "
            "⟨−∇L(δ), y⟩ > 0, so a landing is in Δ⁻_η (α ≤ −1 + θ < 0) only if −∇L turns "
            "across the tangent plane within that one step, and θ ≤ 1 caps η at (L̂B̂_l)²: B̂_l "
            "shrinks as the angle spread grows, so the step is 10⁻⁴–10⁻³ ε where the spread "
            "is 1 rad (up to 0.5 ε only where it is 0.01 rad); larger steps (η up to "
            "0.9·(L̂B̂_l)², where (6) fails by its step term alone), larger ε/scale and "
            "narrower networks measured 0 entries and 0 exits in about 3,000 trajectories on "
            "the sphere (docs/claims/two-layer.md).",
    experiment="lemma45", arms=l45_arms,
    judge=judge_l45,
    regime=lambda r: "the regime of this lemma is condition (6) itself, estimated per setting")
