r"""Theorem 3.1, Corollary 3.1, Theorem 5.1 and the on-sphere remark of §3.1 (two-layer model),
each declared once with its rule and negative control."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from advdyn.claims.core import (
    INCONCLUSIVE,
    NOT_SUPPORTED,
    SUPPORTED,
    Claim,
    Effect,
    Judgement,
    Power,
    main_and_control,
    three_way,
)
from advdyn.claims.lemmas import below_regime
from advdyn.claims.rule_power import ALPHA, HIGH, binomial_power, fraction_effect
from advdyn.claims.stats import kaplan_meier
from advdyn.claims.trends import slope_test

#: The largest Good–Turing unseen basin mass of a census a verdict may rest on.
UNSEEN_LIMIT = 1e-2


def on_census(seen: Judgement, arm: Sequence[Mapping[str, Any]]) -> Judgement:
    """``seen`` with the largest census unseen mass of ``arm``'s rows (``unseen_mass``) in its
    values, made inconclusive when that exceeds :data:`UNSEEN_LIMIT`: a count or a distance
    to "the" minima that a census may have missed cannot decide."""
    unseen = max((float(r["unseen_mass"]) for r in arm), default=0.0)
    values = {**seen.values, "max_census_unseen_mass": unseen}
    if unseen <= UNSEEN_LIMIT:
        return Judgement(seen.verdict, seen.reason, values, seen.power, seen.effect)
    return Judgement(INCONCLUSIVE, f"incomplete census: Good–Turing unseen minima mass "
                     f"{unseen:.3g} > {UNSEEN_LIMIT:g} (it read: {seen.verdict}; {seen.reason})",
                     values, seen.power, seen.effect)


def judge_t31(arm: Sequence[Mapping[str, Any]]) -> Judgement:
    """Rule of T3.1 (see :data:`T31`)."""
    if not arm:
        return Judgement(INCONCLUSIVE, "no trajectories", {}, binomial_power(0, "trajectories"))
    ok_end = sum(r["close_end"] for r in arm)
    effect = fraction_effect(ok_end, len(arm), "fraction of trajectories close at the budget")
    low = effect.low
    cells: dict[tuple, list[Mapping[str, Any]]] = {}
    for r in arm:
        cells.setdefault((r["seed"], r["eps"], r["eta"]), []).append(r)
    med = {k: kaplan_meier([r["t_reach"] for r in g], [r["reached"] for r in g])["median"]
           for k, g in cells.items()}
    fit = slope_test([k[2] for k in med], [v if np.isfinite(v) else np.nan
                                           for v in med.values()], -2.0)
    values = {"trajectories": len(arm), "close_at_budget": ok_end,
              "fraction_close_lower_95": low, "slope_time_vs_eta": fit["slope"],
              "p_slope_above_-2": fit["p"],
              "max_dist_end_over_sqrt_eta": max(r["dist_end"] / np.sqrt(r["eta"]) for r in arm)}
    verdict, phrase = three_way(effect)
    if verdict == SUPPORTED and fit["p"] > ALPHA:
        verdict = NOT_SUPPORTED
    slope = "n/a" if fit["slope"] is None else f"{fit['slope']:.2f}"
    reason = (f"{ok_end}/{len(arm)} trajectories on the sphere within c·√η of a target after "
              f"C·η⁻² steps: {phrase}; KM median time to get there ∝ "
              f"η^{slope} (p for exponent > −2: {fit['p']:.2g}); max distance/√η at the budget "
              f"{values['max_dist_end_over_sqrt_eta']:.3g}")
    power = binomial_power(len(arm), "trajectories")
    if len(med) < 3:
        power = Power(len(arm), power.min_p, power.detectable_effect, False,
                      f"{len(med)} (seed, ε, η) cells: fewer than 3 to fit the time's slope")
    return on_census(Judgement(verdict, reason, values, power, effect), arm)


T31 = Claim(
    id="T3.1", section="Theorem 3.1",
    quote="Suppose m = Ω(d^{5/2}), ... if ε < εmax(m), for any η < ηmax(m, ε), with high "
          "probability, in O(η^{−2}) iterations, projected gradient descent will output a point "
          "δt on the sphere which is O(η^{1/2}) close to some local minimum δ*.",
    measurement="Raw PGD from uniform starts (d = 3, m = 256, ε inside (log m)^{-2}); along each "
                "trajectory the distance to the census's nearest local minimum; per trajectory "
                "whether after C·η⁻² steps it is on the sphere within c·√η (c = 0.1) of a "
                "minimum, and the time to first get there (censored at the budget), over η, ε and "
                "seeds.",
    rule="Three-way on the fraction of trajectories on the sphere within c·√η of a minimum "
         "after C·η⁻² steps with its two-sided 95 % Clopper–Pearson interval (supported above "
         "the minimum effect, not supported below, else inconclusive); a supported fraction "
         "also needs the log–log slope of the Kaplan–Meier median time against η to exceed −2 "
         "(one-sided t-test, α = 0.05: time grows no faster than η⁻²), else not supported; "
         f"inconclusive when a census's Good–Turing unseen minima mass exceeds {UNSEEN_LIMIT:g}.",
    control="The same trajectories measured against the census minima of an independent "
            "problem (another seed, same d, m, input scale and ε): the same sphere, recording "
            "and kind of targets, only the targets are not this L's minima, so the rule "
            "must reject.",
    min_effect=f"{HIGH} (fraction of trajectories close at the budget: 'with high "
               "probability')",
    experiment="theorem31", arms=main_and_control,
    judge=judge_t31, regime=below_regime(judge_t31))


def _decay(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    done = [r for r in rows if r["switched"]]
    slopes = [r["slope"] for r in done if r["slope"] is not None]
    return {"trajectories": len(rows), "switched": len(done),
            "max_DS_over_D0": max((r["DS_over_D0"] for r in done), default=None),
            "slope_range_D": [min(slopes), max(slopes)] if slopes else None,
            "slope_range_D2": [2 * min(slopes), 2 * max(slopes)] if slopes else None,
            "rate_per_step_range": [min(r["rate_per_step"] for r in done),
                                    max(r["rate_per_step"] for r in done)] if done else None}


#: D_s = O(1/(z+s)): a trajectory's tail slope of log D_s on log(z+s) must be at most this
#: (the exponent −1 within the 0.25 the slope claims allow a power law over a finite range).
C31_SLOPE = -0.75


def judge_c31(arm: Mapping[str, Any]) -> Judgement:
    """Rule of C3.1 (see :data:`C31`). A trajectory that never reached t̃ is outside the
    corollary's hypothesis but counted, not dropped: the interval's low end counts it as a
    failure, its high end as a success (and the estimate as a failure)."""
    seen, const = _decay(arm["rows"]), _decay(arm["constant"])
    rows = arm["rows"]
    good = sum(r["switched"] and r["slope"] is not None and r["slope"] <= C31_SLOPE
               and r["DS_over_D0"] <= 2 * r["z_over_z_plus_S"] for r in rows)
    unknown = seen["trajectories"] - seen["switched"]
    units = "fraction of trajectories with D_s = O(1/(z+s))"
    low = fraction_effect(good, len(rows), units)
    effect = Effect(low.estimate, low.low,
                    fraction_effect(good + unknown, len(rows), units).high, HIGH, units)
    verdict, phrase = three_way(effect)
    values = {**seen, "converging_at_rate": good, "constant_step": const}
    const_note = ("; a constant step (no shrinking) reaches D_S/D_0 ≤ "
                  f"{const['max_DS_over_D0']:.2g} at per-step rate "
                  f"{const['rate_per_step_range'][1]:.2g} or faster"
                  if const["switched"] else "")
    reason = (f"{seen['switched']} of {seen['trajectories']} trajectories reached t̃ (the rest "
              f"counted, not dropped); {good} end with D_S/D_0 ≤ 2z/(z+S) and a tail slope of "
              f"log D_s on log(z+s) ≤ {C31_SLOPE} (slopes in "
              + ("[n/a]" if seen["slope_range_D"] is None else
                 "[{:.2f}, {:.2f}]".format(*seen["slope_range_D"]))
              + f"; D_s² twice that): {phrase}" + const_note)
    return Judgement(verdict, reason, values, binomial_power(len(rows), "trajectories"), effect)


C31 = Claim(
    id="C3.1", section="Corollary 3.1",
    quote="let D_s := ‖δ_{t̃+s} − δ*‖₂, if we shrink the learning rate after t̃ ... as long as "
          "η_s → 0 as s → ∞ and Π_{i=0}^k (1 − γη_i/2) → 0 as k → ∞, we will have D_s → 0. ... "
          "if η_s = 2/(βs+βz) for large enough integer z, D_s ≤ O(1/(z+s)).",
    measurement="From t̃ (first step on the sphere with ‖Γ‖ < √η) the distance D_s = ‖δ − δ*‖ "
                "to the census minimum δ* the run converges to, under η_s = 2/(β(s+z)) (β the "
                "smallest tangent eigenvalue of Ξ at δ*); D_S/D_0 after S steps and the slope "
                "of log D_s on log(z+s) over the second half; the constant step side by side.",
    rule="Three-way on the fraction of trajectories that end with D_S/D_0 ≤ 2z/(z+S) (the "
         "bound O(1/(z+s)) with constant 2 at s = S) and a tail slope of log D_s on log(z+s) "
         f"≤ {C31_SLOPE} (D_s = O(1/(z+s)), so D_s → 0), with its two-sided 95 % "
         "Clopper–Pearson interval; a trajectory that never reached t̃ widens the interval "
         "(a failure at its low end, a success at its high end): supported if it lies above "
         "the minimum effect, not supported if below, else inconclusive.",
    min_effect=f"{HIGH} (fraction of trajectories: the corollary holds 'under the assumptions "
               "of Theorem 3.1', i.e. with high probability; the summable control's fraction "
               "is 0)",
    control="The same trajectories from the same t̃ with the summable schedule η_s = "
            "η/(1+s)²: the same distances, fits and bound, only the corollary's mechanism "
            "(η_s → 0 slowly enough that Π(1 − βη_s/2) → 0) removed — the product stays "
            "positive, D_s stalls near D_0, so the rule must reject.",
    experiment="corollary31", arms=main_and_control,
    judge=judge_c31, regime=below_regime(judge_c31))


def judge_t51(arm: Sequence[Mapping[str, Any]]) -> Judgement:
    """Rule of T5.1 (see :data:`T51`)."""
    power = binomial_power(len(arm), "problems")
    if not arm:
        return Judgement(INCONCLUSIVE, "no problems", {"problems": 0}, power)
    one = sum(bool(r["one_minimum"]) for r in arm)
    effect = fraction_effect(one, len(arm), "fraction of problems with exactly one minimum")
    values = {"problems": len(arm), "exactly_one_minimum": one, "fraction": one / len(arm),
              "fraction_lower_95": effect.low}
    verdict, phrase = three_way(effect)
    return on_census(Judgement(verdict, f"{one}/{len(arm)} problems have exactly one local "
                               f"minimum of L at every tested ε of the arm: {phrase}", values,
                               power, effect), arm)


T51 = Claim(
    id="T5.1", section="Theorem 5.1",
    quote="Under the settings of Theorem 3.1, there exists a threshold τε > 0, such that for "
          "ε < τε, there is only one local minimum on the sphere with high probability.",
    measurement="Per problem (seed × setting of d, m ≥ d^2.5, input scale) the number of local "
                "minima of L on a log grid of ε refined by bisection (d = 2: exact circle scan; "
                "d ≥ 3: multistart census, a lower bound): τ_ε = the first ε with not exactly "
                "one minimum; whether the problem has exactly one minimum at every tested ε below "
                "Theorem 3.1's ε < (log m)^{-2} (τ_ε above the regime).",
    rule="Three-way on the fraction of problems with exactly one minimum at every tested ε of "
         "the arm with its two-sided 95 % Clopper–Pearson interval: supported if it lies above "
         "the minimum effect (so at least 36 problems are needed), not supported if below, "
         "else inconclusive; inconclusive when a census's Good–Turing unseen minima mass "
         f"exceeds {UNSEEN_LIMIT:g} (d ≥ 3). "
         "(Judged once, here: the threshold experiment only measures.)",
    control="The same problems at ε = 10·τ_ε: past the threshold the count is no longer one, "
            "so the rule must reject.",
    min_effect=f"{HIGH} (fraction of problems with one minimum: 'with high probability')",
    experiment="threshold", arms=main_and_control,
    judge=judge_t51, regime=below_regime(judge_t51))

CLAIMS: tuple[Claim, ...] = (T31, C31, T51)
