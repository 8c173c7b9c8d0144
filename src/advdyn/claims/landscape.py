"""Claims read from the landscape of L on the sphere: Figure 1 (simulated data, d = 2)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from advdyn.claims.core import NOT_SUPPORTED, PARTLY, SUPPORTED, Arm, Claim, Judgement, Power


def _arm(result: Mapping[str, Any], row_scale: float, corner_scale: float) -> dict[str, Any]:
    """The counts the Figure 1 rule reads: local minima of L on the circle at every ratio of
    the input scale ``row_scale``, and at (``corner_scale``, largest ratio)."""
    panels = result["panels"]
    top = max(p["ratio"] for p in panels)
    return {"row_scale": row_scale,
            "row_minima": {f"{p['ratio']:g}": p["minima"] for p in panels
                           if p["scale"] == row_scale},
            "corner_scale": corner_scale, "corner_ratio": top,
            "corner_minima": next(p["minima"] for p in panels
                                  if p["scale"] == corner_scale and p["ratio"] == top)}


def fig1_arms(result: Mapping[str, Any]) -> tuple[Arm, Arm]:
    """Main arm: the smallest input scale's row and the (largest scale, largest ratio) corner.
    Control arm: the same rule with the roles of the smallest and the largest scale swapped."""
    scales = [p["scale"] for p in result["panels"]]
    small, big = min(scales), max(scales)
    return _arm(result, small, big), _arm(result, big, small)


def fig1_judge(arm: Arm) -> Judgement:
    """A: exactly one local minimum at every ratio of the row's scale; B: at least two at the
    corner. Supported: A and B; partly supported: one of them; not supported: neither.

    Power: the counts are exact (circle scan of one network), so no p-value (``min_p = 0``) and
    a difference of one minimum is seen (``detectable_effect = 1``), over the row's panels and
    the corner (``n``); adequate whenever the row has a panel."""
    row = dict(arm["row_minima"])
    one = bool(row) and all(n == 1 for n in row.values())
    several = arm["corner_minima"] >= 2
    verdict = SUPPORTED if one and several else PARTLY if one or several else NOT_SUPPORTED
    counts = ", ".join(f"ratio {r}: {n}" for r, n in row.items())
    reason = (f"local minima of L on the circle at scale {arm['row_scale']:g}: {counts} "
              f"({'all one' if one else 'not all one'}); at scale {arm['corner_scale']:g}, "
              f"ratio {arm['corner_ratio']:g}: {arm['corner_minima']} "
              f"({'several' if several else 'fewer than two'})")
    panels = len(row) + 1
    power = Power(panels, 0.0, 1.0, bool(row), "" if row else "no panel in the row")
    return Judgement(verdict, reason, {**arm, "exactly_one_in_row": one,
                                       "several_at_corner": several}, power)


def fig1_regime(result: Mapping[str, Any]) -> str:
    """The setting of the run, against the paper's Figure 1 (d = 2, Xavier two-layer net)."""
    c = result["config"]
    return (f"the paper's Figure 1 setting: d = 2, two-layer network at Xavier initialisation "
            f"(m = {c['width']}, {c['loss']} loss, label {c['label']:g}); one network and "
            f"direction (seed {c['seed']}): exact counts, no sampling uncertainty")


FIG1 = Claim(
    id="fig1", label="Fig. 1", section="Figure 1 caption",
    quote="If the input scale is small enough (i.e. 0.01 here), the landscape has only one "
          "local minimum and PGD can easily escape the local maximal with few steps even with "
          "large perturbation ratio such as 10. On the other hand, if the input scale is not "
          "small enough, we will have a less regular landscape with a lot of local minimums.",
    measurement="Exact census (circle scan) of the local minima of L = -ℓ on the circle εS¹ "
                "for each panel (input scale × ratio, ε = ratio·scale) of one Xavier network "
                "and direction.",
    rule="Fixed before the run. A: every ratio at the smallest input scale has exactly one "
         "local minimum of L on the circle. B: at the largest input scale and the largest "
         "ratio there are at least two. Supported when A and B hold, partly supported when "
         "one does, not supported when neither does. Exact counts of one network: no test, "
         "no multiple-comparison correction.",
    control="The same rule with the roles of the smallest and the largest input scale "
            "swapped (A read at the largest scale, B at the smallest scale and largest "
            "ratio): if the counts did not depend on the input scale, this arm would pass too; "
            "the rule must say not supported there.",
    experiment="fig1", arms=fig1_arms, judge=fig1_judge, regime=fig1_regime)

CLAIMS: tuple[Claim, ...] = (FIG1,)
