r"""The claims of §1.1, §3.1, §5.1 and Figure 1 about the input scale (two-layer model), each
declared once with its rule and negative control."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from advdyn.claims.core import INCONCLUSIVE, NOT_SUPPORTED, SUPPORTED, Claim, Judgement
from advdyn.claims.theorems import HIGH
from advdyn.claims.trends import fraction_at_least


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
    experiment="on_sphere", arms=lambda r: (r["arms"]["main"], r["arms"]["control"]),
    judge=judge_on_sphere)

CLAIMS: tuple[Claim, ...] = (ON_SPHERE,)
