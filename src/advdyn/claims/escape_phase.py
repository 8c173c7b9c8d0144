r"""The escape claims of the phase diagram (§5.1.2 and the Figure 1 caption, two-layer model):
escape times from the local maxima of L compared by the difference of their restricted mean
survival times (Kaplan–Meier areas: censored runs stay censored) with a percentile-bootstrap
interval at level ``1 − α/k`` over the claim's ``k`` comparisons, decided three-way against
:data:`~advdyn.claims.fig2_floor.MIN_STEPS` escape steps (:func:`advdyn.claims.survival.
rmst_difference`, :func:`advdyn.claims.core.three_way_cells`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from advdyn.claims.core import Claim, Effect, Judgement, Power, main_and_control, three_way_cells
from advdyn.claims.fig2_floor import MIN_STEPS
from advdyn.claims.rule_power import ALPHA, slope_effect
from advdyn.claims.stats import kaplan_meier
from advdyn.claims.survival import rmst_difference
from advdyn.claims.trends import slope_test

#: The fewest extra local minima per decade of the ratio (fig1-ratio).
MIN_MINIMA_PER_DECADE = 0.5


def _runs(arm: Mapping[str, Any], conv: str, scale: float, ratio: float) -> Mapping[str, Any]:
    return next(c for c in arm["escape"][conv] if c["scale"] == scale and c["ratio"] == ratio)


def _later(arm: Mapping[str, Any], conv: str, slow: tuple[float, float],
           fast: tuple[float, float], k: int) -> tuple[Effect, Power]:
    """RMST of cell ``slow`` minus cell ``fast`` (scale, ratio) under ``conv``, interval at
    level ``1 − α/k``, against :data:`MIN_STEPS`."""
    return rmst_difference(_runs(arm, conv, *slow), _runs(arm, conv, *fast), MIN_STEPS,
                           f"escape steps (RMST) at scale {slow[0]:g}, ratio {slow[1]:g} minus "
                           f"at scale {fast[0]:g}, ratio {fast[1]:g}", "runs per cell",
                           level=1 - ALPHA / k)


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
    judged = {conv: {f"ratio {r:g}": _later(arm, conv, (scales[-1], r), (scales[0], r),
                                            len(ratios)) for r in ratios}
              for conv in arm["escape"]}
    decided = {conv: three_way_cells({c: e for c, (e, _) in cs.items()}, partly=True)
               for conv, cs in judged.items()}
    verdict, phrase, effect = decided["normalized"]
    effects = {conv: {c: e.to_json() for c, (e, _) in cs.items()} for conv, cs in judged.items()}
    values = {"rmst_difference_largest_minus_smallest_scale": effects,
              "verdict_per_convention": {conv: d[0] for conv, d in decided.items()},
              "km_medians": km_medians(arm)}
    others = "; ".join(f"{conv}: {d[0]}" for conv, d in decided.items() if conv != "normalized")
    power = max((pw for _, pw in judged["normalized"].values()),
                key=lambda pw: pw.detectable_effect)
    return Judgement(verdict, f"normalised steps, scale {scales[-1]:g} minus {scales[0]:g} — "
                     f"{phrase} [{others}]", values, power, effect)


ESCAPE = Claim(
    id="s5.1-escape", label="§5.1 (escape)", section="§5.1.2",
    quote="we can see a smaller input scale leads to faster loss value decay in the initial "
          "phase of adversarial training; (Fig. 1) if the input scale is small enough, ... PGD "
          "can easily escape the local maximal with few steps",
    measurement="Phase diagram: PGD from every (kicked) local maximum of L; the escape time is "
                "the first step at which ℓ = −L covers half of its gap from the maximum's value "
                "to the deepest census minimum's (leaving the maximum, as in Figure 2; censored "
                "at the budget), under normalised steps ρε (the verdict), raw fixed η and raw "
                "η = ρε² (side by side in the values).",
    rule="Per ratio, the restricted mean escape time (Kaplan–Meier area up to the longer "
         "cell's last time; censored runs stay censored, never the budget as a time) at the "
         "largest input scale minus at the smallest, with its percentile-bootstrap interval at "
         "level 1 − α/k over the k ratios (α = 0.05); normalised steps decide three-way against "
         "the minimum effect: supported if every ratio's interval lies above it, not supported "
         "if every one lies below, partly if some lie above and the rest below, else "
         "inconclusive.",
    min_effect=f"{MIN_STEPS:g} normalised escape steps sooner at the smallest scale (the "
               "minimum of the Figure 2 claims: fewer steps are within a few PGD iterations of "
               "any run's jitter and would not make escaping 'easy' in practice)",
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
    fit = slope_test([r["ratio"] for r in rows], [r["minima"] for r in rows], 0.0, log_y=False)
    judged = {"minima": slope_effect(fit, MIN_MINIMA_PER_DECADE, 2,
                                     "local minima per decade of the ratio", "seeds"),
              "escape": _later(arm, "normalized", (big, ratios[-1]), (big, ratios[0]), 2)}
    verdict, phrase, effect = three_way_cells({c: e for c, (e, _) in judged.items()},
                                              partly=True)
    powers = [pw for _, pw in judged.values()]
    power = next((pw for pw in powers if not pw.adequate),
                 next(pw for e, pw in judged.values() if e is effect))
    values = {"scale": big, **{f"{c}_effect": e.to_json() for c, (e, _) in judged.items()}}
    return Judgement(verdict, f"at input scale {big:g}: {phrase}", values, power, effect)


FIG1_RATIO = Claim(
    id="fig1-ratio", section="Fig. 1 caption",
    quote="For large input scales, we have to reduce the perturbation ratio, so as to make the "
          "landscape become more regular and make escaping from the local maximums faster.",
    measurement="At the largest input scale of the phase diagram: the number of local minima "
                "per seed against the ratio, and the normalised-step escape times at the "
                "smallest and the largest ratio.",
    rule="Two effects, each with its interval at level 1 − α/2 (α = 0.05), decided three-way: "
         "the least-squares slope of the count of minima per seed on log₁₀ ratio (t interval) "
         "and the restricted mean escape time at the largest ratio minus at the smallest "
         "(normalised steps, censored runs kept censored, percentile bootstrap); supported if "
         "both lie above their minima, partly if one does and the other lies below, not "
         "supported if both lie below, else inconclusive.",
    min_effect=f"{MIN_MINIMA_PER_DECADE:g} more local minima per decade of the ratio (one more "
               f"over the two decades 0.1 → 10 would be a single extra minimum, within one "
               f"seed's census spread) and {MIN_STEPS:g} normalised escape steps sooner at the "
               "smallest ratio (the Figure 2 claims' minimum)",
    control="The linear network of the phase diagram's control: one minimum and the same "
            "escape at every ratio; the rule must reject.",
    experiment="phase",
    arms=main_and_control, judge=judge_fig1_ratio)

CLAIMS: tuple[Claim, ...] = (ESCAPE, FIG1_RATIO)
