r"""The lemmas of Section 4 (two-layer model): L4.1–L4.5, each declared once with its rule and
its negative control (the arms are produced by :mod:`advdyn.experiments.claims`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from advdyn.claims.core import INCONCLUSIVE, NOT_SUPPORTED, SUPPORTED, Claim, Judgement
from advdyn.claims.stats import holm
from advdyn.claims.trends import slope_test

ALPHA = 0.05
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
    values = {"interior_steps": sum(r["interior_steps"] for r in rows),
              "min_frac_decrease": decrease,
              "min_q01": min(r["q01"] for r in rows),
              "slope_q01_vs_m": {str(f): fit["slope"] for f, fit in fits.items()},
              "holm_p_slope_above_floor": adjusted,
              "median_q01_ratio_small_over_large_eta": float(np.median(stable)) if stable
              else None}
    ok = (decrease >= 0.99 and max(adjusted) <= ALPHA
          and values["median_q01_ratio_small_over_large_eta"] is not None
          and values["median_q01_ratio_small_over_large_eta"] >= 0.5)
    reason = (f"{values['interior_steps']} interior steps, ≥ {decrease:.3f} of them decrease L "
              f"(1 % quantile of -ΔL/η ≥ {values['min_q01']:.3g}); slope of log q01 on log m: "
              + ", ".join(f"{s:.2f}" if s is not None else "n/a"
                          for s in values["slope_q01_vs_m"].values())
              + f" (Holm p for > {SLOPE_FLOOR}: " + ", ".join(f"{p:.2g}" for p in adjusted)
              + "); q01 at the smallest η / at the largest: "
              + (f"{values['median_q01_ratio_small_over_large_eta']:.2f}" if stable else "n/a"))
    return Judgement(SUPPORTED if ok else NOT_SUPPORTED, reason, values)


L41 = Claim(
    id="L4.1", section="Lemma 4.1",
    quote="For m = Ω(d^{5/2}), there exists εmax(m) = Θ((log m)^{-1/2}) and ηmax(m, ε) = "
          "min{Θ((log m)^{-1}), ε²}, if ε < εmax(m), η < ηmax(m, ε), with high probability, "
          "whenever δt+1 ∈ B°(0, ε), L(δt+1) − L(δt) ≤ −Ω(η).",
    measurement="Raw PGD from uniform starts; over the steps that end inside the open ball, "
                "the 1 % quantile q01 of -ΔL/η per width m (d^2.5 … 64·d^2.5), seed and η "
                "(two η factors), and the fraction of such steps that decrease L.",
    rule="Supported iff (a) in every setting ≥ 99 % of interior steps decrease L; (b) for each "
         f"η factor the slope of log q01 on log m exceeds {SLOPE_FLOOR} (one-sided t-test on "
         "the least-squares fit over widths × seeds, Holm across η factors, α = 0.05): the "
         "Ω(η) constant does not vanish as m grows; (c) the median over (seed, m) of "
         "q01(smallest η)/q01(largest η) is ≥ 0.5: the constant does not vanish as η shrinks. "
         "Else not supported; no interior step: inconclusive.",
    control="The same widths with output weights γ = 1/m instead of m^{-1/2}: ‖∇f‖ and so "
            "-ΔL/η ≈ ℓ'²‖∇f‖² shrink like 1/m, so (b) must fail.",
    experiment="lemma41", arms=lambda r: (r["arms"]["main"], r["arms"]["control"]),
    judge=judge_l41, regime=below_regime(judge_l41))


CLAIMS: tuple[Claim, ...] = (L41,)
