r"""Theorem 3.1, Corollary 3.1, Theorem 5.1 and the on-sphere remark of §3.1 (two-layer model),
each declared once with its rule and negative control."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from advdyn.claims.core import INCONCLUSIVE, NOT_SUPPORTED, SUPPORTED, Claim, Judgement
from advdyn.claims.lemmas import ALPHA, below_regime
from advdyn.claims.stats import kaplan_meier
from advdyn.claims.trends import fraction_at_least, slope_test

#: "with high probability": the lower 95 % confidence bound of the success fraction
HIGH = 0.9


def judge_t31(arm: Sequence[Mapping[str, Any]]) -> Judgement:
    """Rule of T3.1 (see :data:`T31`)."""
    if not arm:
        return Judgement(INCONCLUSIVE, "no trajectories", {})
    ok_end = sum(r["close_end"] for r in arm)
    low = fraction_at_least(ok_end, len(arm))
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
    ok = low >= HIGH and fit["p"] <= ALPHA
    slope = "n/a" if fit["slope"] is None else f"{fit['slope']:.2f}"
    reason = (f"{ok_end}/{len(arm)} trajectories on the sphere within c·√η of a target after "
              f"C·η⁻² steps (95 % lower bound {low:.2f}); KM median time to get there ∝ "
              f"η^{slope} (p for exponent > −2: {fit['p']:.2g}); max distance/√η at the budget "
              f"{values['max_dist_end_over_sqrt_eta']:.3g}")
    return Judgement(SUPPORTED if ok else NOT_SUPPORTED, reason, values)


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
    rule=f"Supported iff the two-sided 95 % Clopper–Pearson lower bound of the fraction of "
         f"trajectories on the sphere within c·√η of a minimum after C·η⁻² steps is ≥ {HIGH}, "
         "and the log–log slope of the Kaplan–Meier median time against η exceeds −2 "
         "(one-sided t-test, α = 0.05): time grows no faster than η⁻². Else not supported.",
    control="The same trajectories measured against the census's local maxima (PGD must not "
            "end near them): the rule must reject.",
    experiment="theorem31", arms=lambda r: (r["arms"]["main"], r["arms"]["control"]),
    judge=judge_t31, regime=below_regime(judge_t31))

CLAIMS: tuple[Claim, ...] = (T31,)
