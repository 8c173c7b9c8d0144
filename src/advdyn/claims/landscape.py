"""Claims read from the landscape of L on the sphere: Figure 1 (simulated data, d = 2)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from advdyn.claims.core import Arm, Claim, Judgement, three_way_cells
from advdyn.claims.rule_power import HIGH, binomial_power, fraction_effect


def _arm(networks: Mapping[str, Any], arm: str) -> dict[str, Any]:
    """What the Figure 1 rule reads of one arm's networks: how many have exactly one local
    minimum of L on the circle at every ratio of the smallest input scale, and how many have at
    least two at the largest scale and largest ratio (the corner)."""
    scales, ratios = list(networks["scales"]), list(networks["ratios"])
    small, big = scales.index(min(scales)), scales.index(max(scales))
    top = ratios.index(max(ratios))
    rows = networks[arm]
    return {"row_scale": scales[small], "corner_scale": scales[big],
            "corner_ratio": ratios[top], "networks": len(rows),
            "one_in_row": sum(all(n == 1 for n in r["minima"][small]) for r in rows),
            "several_at_corner": sum(r["minima"][big][top] >= 2 for r in rows)}


def fig1_arms(result: Mapping[str, Any]) -> tuple[Arm, Arm]:
    """Main arm: the counts of the Xavier networks; control arm: those of the linear networks
    ``f = γ_c w₁ᵀz`` of the same draws, on the same circles (experiment ``fig1``)."""
    return _arm(result["networks"], "main"), _arm(result["networks"], "control")


def fig1_judge(arm: Arm) -> Judgement:
    """A: the fraction of networks with exactly one local minimum of L at every ratio of the
    smallest scale; B: the fraction with at least two at the corner. Each with its two-sided
    95 % Clopper–Pearson interval against :data:`~advdyn.claims.rule_power.HIGH`, decided over
    the two cells without "partly" (:func:`~advdyn.claims.core.three_way_cells`); power of the
    counting rule on the networks (:func:`~advdyn.claims.rule_power.binomial_power`)."""
    n = arm["networks"]
    effects = {
        "A": fraction_effect(arm["one_in_row"], n, "fraction of networks with exactly one local "
                             f"minimum of L at every ratio of scale {arm['row_scale']:g}"),
        "B": fraction_effect(arm["several_at_corner"], n, "fraction of networks with at least "
                             f"two at scale {arm['corner_scale']:g}, ratio "
                             f"{arm['corner_ratio']:g}")}
    verdict, phrase, effect = three_way_cells(effects, partly=False)
    return Judgement(verdict, f"over {n} networks: {phrase}",
                     {**arm, **{f"fraction_{c}": e.to_json() for c, e in effects.items()}},
                     binomial_power(n, "networks"), effect)


def fig1_regime(result: Mapping[str, Any]) -> str:
    """The setting of the run, against the paper's Figure 1 (d = 2, Xavier two-layer net)."""
    c = result["config"]
    return (f"the paper's Figure 1 setting: d = 2, two-layer network at Xavier initialisation "
            f"(m = {c['width']}, {c['loss']} loss, label {c['label']:g}); {c['networks']} "
            f"networks and directions (seeds {c['seed']}…), the figure drawn for seed "
            f"{c['seed']}; exact counts per network")


FIG1 = Claim(
    id="fig1", label="Fig. 1", section="Figure 1 caption",
    quote="If the input scale is small enough (i.e. 0.01 here), the landscape has only one "
          "local minimum and PGD can easily escape the local maximal with few steps even with "
          "large perturbation ratio such as 10. On the other hand, if the input scale is not "
          "small enough, we will have a less regular landscape with a lot of local minimums.",
    measurement="Exact census (circle scan) of the local minima of L = -ℓ on the circle εS¹ "
                "for each panel (input scale × ratio, ε = ratio·scale) of each of many Xavier "
                "networks and directions (seeds; the figure shows the first).",
    rule="Fixed before the run. A: the fraction of networks with exactly one local minimum of "
         "L at every ratio of the smallest input scale; B: the fraction with at least two at "
         "the largest input scale and the largest ratio. Each with its two-sided 95 % "
         "Clopper–Pearson interval, three-way against the minimum effect: supported if both "
         "intervals lie above it, not supported if either lies below, else inconclusive (the "
         "caption's claim is the contrast: either half alone is not it). Power: the counting "
         "rule on n networks can pass only when n/n has a lower bound ≥ the minimum (n ≥ 36).",
    min_effect=f"{HIGH} for each fraction (the house reading of a landscape 'has' a property: "
               "with high probability over networks, as T3.1 and on-sphere; a caption drawn "
               "from one network claims what a typical network shows)",
    control="The linear network f = γ_c w₁ᵀz of each same draw (rows ±w₁, output weights ±γ_c, "
            "γ_c = 10⁻⁴), scanned on the same circles at the same scales and ratios with the "
            "same census: L has exactly one local minimum on every circle, so A holds and B "
            "fails in every network — the landscape without the mechanism (the kinks that a "
            "large input scale brings onto the circle); the rule must say not supported.",
    experiment="fig1", arms=fig1_arms, judge=fig1_judge, regime=fig1_regime)

CLAIMS: tuple[Claim, ...] = (FIG1,)
