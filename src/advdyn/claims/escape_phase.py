r"""The escape claims of the phase diagram (§5.1.2 and the Figure 1 caption, two-layer model):
escape times from the local maxima of L compared by the one-sided **permutation** log-rank test
(:func:`advdyn.claims.power.permutation_logrank`: exact or Monte Carlo relabelling, valid at the
few runs per cell of a quick run, unlike the asymptotic test), Holm across comparisons; the power
of each rule is the Holm floor of those tests and the hazard ratio they detect
(:mod:`advdyn.claims.rule_power`)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from advdyn.claims.core import (
    NOT_SUPPORTED,
    PARTLY,
    SUPPORTED,
    Claim,
    Judgement,
    Power,
    main_and_control,
)
from advdyn.claims.power import permutation_logrank
from advdyn.claims.rule_power import ALPHA, floor_power, logrank_detectable
from advdyn.claims.scale import verdict_of
from advdyn.claims.stats import holm, kaplan_meier
from advdyn.claims.trends import rank_trend


def _runs(arm: Mapping[str, Any], conv: str, scale: float, ratio: float) -> Mapping[str, Any]:
    return next(c for c in arm["escape"][conv] if c["scale"] == scale and c["ratio"] == ratio)


def _sooner(arm: Mapping[str, Any], conv: str, a: tuple[float, float],
            b: tuple[float, float]) -> dict[str, float]:
    """``{"p", "min_p", "n_a", "n_b"}`` of the permutation log-rank "cell a escapes sooner than
    cell b" (p = 1, floor 1 when a cell has no runs or no run escapes)."""
    ra, rb = _runs(arm, conv, *a), _runs(arm, conv, *b)
    n_a, n_b = len(ra["times"]), len(rb["times"])
    if not n_a or not n_b:
        return {"p": 1.0, "min_p": 1.0, "n_a": n_a, "n_b": n_b}
    res = permutation_logrank(ra["times"], ra["escaped"], rb["times"], rb["escaped"])
    p = res["p"] if any(ra["escaped"]) or any(rb["escaped"]) else 1.0
    return {"p": p, "min_p": res["min_p"], "n_a": n_a, "n_b": n_b}


def _logrank_power(tests: list[dict[str, float]], k: int, unit: str) -> Power:
    """Power of "every one of these log-rank tests passes after Holm over ``k``"."""
    n_a, n_b = int(min(t["n_a"] for t in tests)), int(min(t["n_b"] for t in tests))
    detect = logrank_detectable(n_a, n_b, k) if n_a and n_b else math.inf
    return floor_power(min(n_a, n_b), max(t["min_p"] for t in tests), k, detect, unit)


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
    per_conv, tests = {}, {}
    for conv in arm["escape"]:
        tests[conv] = [_sooner(arm, conv, (scales[0], r), (scales[-1], r)) for r in ratios]
        per_conv[conv] = {str(r): p for r, p in
                          zip(ratios, holm([t["p"] for t in tests[conv]]), strict=True)}
    main = {r: {"rho": 0.0, "holm_p": p} for r, p in per_conv["normalized"].items()}
    values = {"holm_p_smallest_scale_escapes_sooner": per_conv, "km_medians": km_medians(arm)}
    reason = (f"log-rank, scale {scales[0]:g} escapes sooner than {scales[-1]:g}, Holm across "
              "ratios — " + "; ".join(
                  f"{conv}: " + ", ".join(f"r {r}: {p:.2g}" for r, p in ps.items())
                  for conv, ps in per_conv.items()))
    return Judgement(verdict_of(main), reason, values,
                     _logrank_power(tests["normalized"], len(ratios), "runs per cell"))


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
    rule="Per ratio, one-sided permutation log-rank test that runs at the smallest input scale "
         "escape sooner than at the largest (censored times, never the budget as a time), Holm "
         "across ratios, α = 0.05; normalised steps decide: supported if significant at every "
         "ratio, partly if at some, not supported if at none.",
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
    trend = rank_trend([r["ratio"] for r in rows], [r["minima"] for r in rows], alpha=ALPHA / 2)
    esc = _sooner(arm, "normalized", (big, ratios[0]), (big, ratios[-1]))
    adjusted = holm([trend["p"], esc["p"]])
    values = {"scale": big, "spearman_rho_minima_vs_ratio": trend["rho"],
              "holm_p_minima": adjusted[0], "holm_p_smaller_ratio_escapes_sooner": adjusted[1]}
    hits = sum(p <= ALPHA for p in adjusted)
    verdict = SUPPORTED if hits == 2 else PARTLY if hits else NOT_SUPPORTED
    minima_power = floor_power(trend["n"], trend["min_p"], 2, trend["critical"], "seeds")
    power = _logrank_power([esc], 2, "runs per cell (fewer of the two)")
    if not minima_power.adequate:
        power = minima_power
    return Judgement(verdict, f"at input scale {big:g}: minima rise with the ratio (ρ = "
                     f"{trend['rho']:.2f}, Holm p = {adjusted[0]:.2g}); ratio {ratios[0]:g} "
                     f"escapes sooner than {ratios[-1]:g} (log-rank, Holm p = {adjusted[1]:.2g})",
                     values, power)


FIG1_RATIO = Claim(
    id="fig1-ratio", section="Fig. 1 caption",
    quote="For large input scales, we have to reduce the perturbation ratio, so as to make the "
          "landscape become more regular and make escaping from the local maximums faster.",
    measurement="At the largest input scale of the phase diagram: the number of local minima "
                "per seed against the ratio, and the normalised-step escape times at the "
                "smallest and the largest ratio.",
    rule="Two one-sided tests, Holm over the two, α = 0.05: Spearman's ρ(ratio, minima) > 0 "
         "and permutation log-rank 'smallest ratio escapes sooner than largest'; supported if "
         "both, partly if one, not supported if neither.",
    control="The linear network of the phase diagram's control: one minimum and the same "
            "escape at every ratio; the rule must reject.",
    experiment="phase",
    arms=main_and_control, judge=judge_fig1_ratio)

CLAIMS: tuple[Claim, ...] = (ESCAPE, FIG1_RATIO)
