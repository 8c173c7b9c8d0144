"""The paper's Figure 2 captions on a real network (MNIST CNN), each declared once; the
training-related rows (Q2, Figure 3, Q1) are in :mod:`advdyn.claims.real_network_training`.

Every Figure 2 judge decides on the **normalised** convention (α = ρε: scale-free, the fair
rule for comparing input scales, docs/experiments/index.md) and reports the raw conventions (fixed
η; η = cε²) beside it under the same rule, so the record says which conventions reproduce the
ordering. Escape times are those of certified starts with a gap to close
(:mod:`advdyn.experiments.escape`); censored runs stay censored (:mod:`advdyn.claims.survival`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from advdyn.claims.core import INCONCLUSIVE, NOT_SUPPORTED, SUPPORTED, Claim, Judgement
from advdyn.claims.real_network_training import TRAINING_CLAIMS
from advdyn.claims.survival import compare, difficult, easy, km, km_text, ordered

PRIMARY = "normalized"
Arm = Mapping[str, Any]


def _groups(result: Mapping[str, Any], arm: str) -> list[dict[str, Any]]:
    return [g for g in result["groups"] if g["arm"] == arm]


def _pick(groups: Sequence[Mapping[str, Any]], **where: Any) -> list[Mapping[str, Any]]:
    return [g for g in groups if all(g[k] == v for k, v in where.items())]


def _conventions(groups: Sequence[Mapping[str, Any]]) -> list[str]:
    return sorted({g["convention"] for g in groups}, key=lambda c: (c != PRIMARY, c))


Decision = tuple[str, str, Any]  # (verdict, text, details as JSON data)


def _per_convention(arm: Arm, decide: Callable[[list[Mapping[str, Any]]], Decision]
                    ) -> Judgement:
    """Apply ``decide`` (groups of one convention → verdict, text, details) to every
    convention; the verdict is the primary convention's."""
    verdicts, texts, details = {}, [], {}
    for conv in _conventions(arm["groups"]):
        verdict, text, detail = decide(_pick(arm["groups"], convention=conv))
        verdicts[conv] = verdict
        details[conv] = detail
        texts.append(f"{conv}: {verdict} ({text})")
    if PRIMARY not in verdicts:
        return Judgement(NOT_SUPPORTED, "no run of the normalised convention", verdicts)
    return Judgement(verdicts[PRIMARY], "; ".join(texts),
                     {"verdict_per_convention": verdicts, "where": arm["where"],
                      "details": details})


def _one_group(test: Callable[[Mapping[str, Any], int], bool]
               ) -> Callable[[Arm], Judgement]:
    def judge(arm: Arm) -> Judgement:
        def decide(groups: list[Mapping[str, Any]]) -> Decision:
            if not groups or not groups[0]["times"]:
                return INCONCLUSIVE, "no certified start with a gap to close", {}
            g = groups[0]
            return (SUPPORTED if test(g, arm["budget"]) else NOT_SUPPORTED,
                    f"{km_text(g)}, {g['certified']} certified / {g['rejected']} rejected "
                    f"starts, budget {arm['budget']}",
                    {"km": km(g), "certified": g["certified"], "rejected": g["rejected"]})
        return _per_convention(arm, decide)
    return judge


def _cell(result: Mapping[str, Any], scale: str, ratio: str) -> Arm:
    """The plain arm's groups at the smallest/largest scale and ratio."""
    groups = _groups(result, "plain")
    s = (min if scale == "min" else max)(g["scale"] for g in groups)
    r = (min if ratio == "min" else max)(g["ratio"] for g in groups)
    return {"groups": _pick(groups, scale=s, ratio=r), "budget": result["budget"],
            "where": {"scale": s, "ratio": r}}


def _without_gradient(result: Mapping[str, Any], scale: str, ratio: str) -> Arm:
    """The same cell as :func:`_cell`, but the runs that step in random directions (the
    ``random`` convention: same step length ρε, no gradient), judged as the primary convention:
    a search that follows no gradient, on which "PGD escapes easily" must fail."""
    cell = _cell(result, scale, ratio)
    groups = [{**g, "convention": PRIMARY} for g in _pick(cell["groups"], convention="random")]
    return {**cell, "groups": groups, "where": {**cell["where"], "steps": "random directions"}}


def _middle_scale(groups: Sequence[Mapping[str, Any]]) -> float:
    """The probed scale nearest 10 on a log axis (Figure 2(b))."""
    return min({g["scale"] for g in groups}, key=lambda s: abs(math.log10(s) - 1))


def _ratio_arm(result: Mapping[str, Any], shuffled: bool) -> Arm:
    """Figure 2(b): the plain arm at the middle scale; ``shuffled``: the same runs with ratio
    labels permuted (seed 0) within each convention — a placebo with no ordering."""
    groups = _groups(result, "plain")
    s = _middle_scale(groups)
    mine = sorted(_pick(groups, scale=s), key=lambda g: g["ratio"])
    if shuffled:
        rng = np.random.default_rng(0)
        out: list[Mapping[str, Any]] = []
        for conv in _conventions(mine):
            conv_groups = _pick(mine, convention=conv)
            runs = [(t, e) for g in conv_groups for t, e in zip(g["times"], g["escaped"],
                                                                 strict=True)]
            order = rng.permutation(len(runs))
            start = 0
            for g in conv_groups:
                take = [runs[i] for i in order[start:start + len(g["times"])]]
                start += len(g["times"])
                out.append({**g, "times": [t for t, _ in take], "escaped": [e for _, e in take]})
        mine = out
    return {"groups": mine, "budget": result["budget"], "where": {"scale": s}}


def judge_ratio_order(arm: Arm) -> Judgement:
    """fig2b rule: smaller ratio escapes sooner, consecutive ratios, Holm."""
    def decide(groups: list[Mapping[str, Any]]) -> Decision:
        groups = sorted(groups, key=lambda g: g["ratio"])
        o = ordered(groups, [f"r={g['ratio']:g}" for g in groups])
        text = ", ".join(f"r={g['ratio']:g} {km_text(g)}" for g in groups)
        return o["verdict"], text, o["comparisons"]
    return _per_convention(arm, decide)


def _scale_arm(result: Mapping[str, Any], arm: str) -> Arm:
    return {"groups": _groups(result, arm), "budget": result["budget"], "where": {"arm": arm}}


def judge_scale_order(arm: Arm) -> Judgement:
    """fig2-scale rule: at every ratio, smaller scale escapes sooner (consecutive scales); one
    Holm family over all ratios × scale pairs."""
    def decide(groups: list[Mapping[str, Any]]) -> Decision:
        chains = [sorted(_pick(groups, ratio=r), key=lambda g: g["scale"])
                  for r in sorted({g["ratio"] for g in groups})]
        pairs = [(c[k], c[k + 1]) for c in chains for k in range(len(c) - 1)]
        labels = [(f"s={a['scale']:g}, r={a['ratio']:g}", f"s={b['scale']:g}")
                  for a, b in pairs]
        o = compare(pairs, labels)
        medians = "; ".join(f"r={c[0]['ratio']:g}: " + ", ".join(
            f"s={g['scale']:g} {_median(g)}" for g in c) for c in chains)
        return o["verdict"], "KM medians " + medians, o["comparisons"]
    return _per_convention(arm, decide)


def _median(g: Mapping[str, Any]) -> str:
    """The Kaplan–Meier median (∞: more than half censored; –: no certified start)."""
    s = km(g)
    return "–" if s["n"] == 0 else "∞" if math.isinf(s["median"]) else f"{s['median']:g}"


_FIG2 = "Fig. 2 caption"
_MEASURE = ("Escape time from certified local maxima of L on the sphere (KKT residual ≤ "
            "tolerance; rejected starts counted), to a fraction of the gap to ℓ reached by a "
            "long PGD from a uniform start; censored runs kept as censored (Kaplan–Meier); "
            "normalised (α = ρε), raw fixed-η and raw η = cε² conventions side by side.")

CLAIMS_FIG2: tuple[Claim, ...] = (
    Claim(id="fig2a", section=_FIG2,
          quote="If the input scale is small enough (i.e. 0.1 here), PGD can easily escape the "
                "local maxima even with a large perturbation ratio such as 10.",
          measurement=_MEASURE + " Group: smallest scale, largest ratio.",
          rule="Supported iff, for the normalised convention, escape is easy: at most 10 % of "
               "runs censored and the Kaplan–Meier median ≤ budget/4; else not supported; "
               "inconclusive when no start of the group is certified. The raw conventions are "
               "judged by the same rule and reported.",
          control="The same cell and budget, with steps of the same length ρε in random "
                  "directions instead of along the gradient: a search that follows no gradient "
                  "must not escape easily, so the rule must say 'not supported'.",
          experiment="fig2",
          arms=lambda r: (_cell(r, "min", "max"), _without_gradient(r, "min", "max")),
          judge=_one_group(easy)),
    Claim(id="fig2b", section=_FIG2,
          quote="If the input scale is not small enough, escaping from a local maximum will be "
                "easier with a smaller perturbation ratio as shown in Fig. 2(b).",
          measurement=_MEASURE + " Groups: the scale nearest 10, every ratio.",
          rule="For consecutive ratios, one-sided log-rank 'the smaller ratio escapes sooner' "
               "and its reverse, Holm-adjusted over the pairs (α = 0.05): supported iff every "
               "pair is significant; partly if some are and none is significantly reversed; "
               "else not supported. Decided on the normalised convention.",
          control="A placebo: the same runs with ratio labels permuted at random (seed 0), "
                  "which carries no ordering.",
          experiment="fig2", arms=lambda r: (_ratio_arm(r, False), _ratio_arm(r, True)),
          judge=judge_ratio_order),
    Claim(id="fig2c", section=_FIG2,
          quote="If the input scale is too large, escaping from a local maximum will be "
                "difficult even with a small perturbation ratio 0.001 as shown in Fig. 2(c).",
          measurement=_MEASURE + " Group: largest scale, smallest ratio.",
          rule="Supported iff, for the normalised convention, escape is difficult: the "
               "Kaplan–Meier median exceeds budget/2 (or more than half are censored); else "
               "not supported; inconclusive when no start of the group is certified.",
          control="The same rule at the smallest scale and the same ratio: if escape is "
                  "difficult there too, a large scale is not what makes it difficult.",
          experiment="fig2", arms=lambda r: (_cell(r, "max", "min"), _cell(r, "min", "min")),
          judge=_one_group(difficult)),
    Claim(id="fig2-scale", section="Fig. 2 caption",
          quote="For a fixed perturbation ratio, a smaller input scale means that escaping "
                "from local maxima is easier.",
          measurement=_MEASURE + " Every ratio, consecutive scales.",
          rule="At every ratio and for consecutive scales, one-sided log-rank 'the smaller "
               "scale escapes sooner' and its reverse, one Holm family over all ratios × pairs "
               "(α = 0.05): supported iff all are significant; partly if some are and none is "
               "significantly reversed; else not supported. Decided on the normalised "
               "convention.",
          control="The same network behind x/scale (the scale is invisible to it): the rule "
                  "must find no ordering.",
          experiment="fig2", arms=lambda r: (_scale_arm(r, "plain"), _scale_arm(r, "invisible")),
          judge=judge_scale_order),
)

CLAIMS: tuple[Claim, ...] = CLAIMS_FIG2 + TRAINING_CLAIMS
