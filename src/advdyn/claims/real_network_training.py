"""Question 2, Figure 3 and Question 1 on an MNIST CNN under adversarial training, each claim
declared once (experiment ``at_scale``). The control of every scale claim is the same network
behind ``x/scale`` (the scale invisible to it), trained and probed identically.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from scipy import stats

from advdyn.claims.core import NOT_SUPPORTED, PARTLY, SUPPORTED, Claim, Judgement
from advdyn.claims.stats import holm, kaplan_meier
from advdyn.claims.survival import ALPHA, easy, km_text, pooled, rmst, rmst_bootstrap, sooner

Arm = Mapping[str, Any]
BOOTSTRAP = 1000
WITHIN = (10, 40, 100)


def _arm(result: Mapping[str, Any], arm: str) -> dict[str, Any]:
    """Everything the ``at_scale`` result holds for one arm."""
    return {"runs": [r for r in result["runs"] if r["arm"] == arm],
            "escape": [g for g in result["escape"] if g["arm"] == arm],
            "stationarity": [s for s in result["stationarity"] if s["arm"] == arm],
            "restarts": [s for s in result["restarts"] if s["arm"] == arm],
            "budget": result["budget"], "q1_budget": result["q1_budget"],
            "robust_level": result["robust_level"]}


def _arms(result: Mapping[str, Any]) -> tuple[Arm, Arm]:
    return _arm(result, "plain"), _arm(result, "invisible")


def _verdict(held: Sequence[bool]) -> str:
    return SUPPORTED if all(held) else PARTLY if any(held) else NOT_SUPPORTED


# ------------------------------------------------------------------------------- at-scale


def _run_metrics(run: Mapping[str, Any], level: float) -> dict[str, Any]:
    trained = [h for h in run["history"] if h["epoch"] > 0]
    reach = [h["epoch"] for h in run["history"] if h["robust_acc"] >= level]
    return {"scale": run["scale"], "seed": run["seed"],
            "auc_robust_loss": float(np.mean([h["robust_train_loss"] for h in trained])),
            "final_robust_acc": float(run["history"][-1]["robust_acc"]),
            "epochs_to_level": float(reach[0] if reach else run["history"][-1]["epoch"]),
            "reached": bool(reach)}


def judge_at_scale(arm: Arm) -> Judgement:
    """at-scale rule (see the declaration)."""
    m = [_run_metrics(r, arm["robust_level"]) for r in arm["runs"]]
    if len({x["scale"] for x in m}) < 2:
        return Judgement(NOT_SUPPORTED, "fewer than two scales trained", {})
    log_s = [math.log10(x["scale"]) for x in m]
    auc = stats.kendalltau(log_s, [x["auc_robust_loss"] for x in m], alternative="greater")
    end = stats.kendalltau(log_s, [x["final_robust_acc"] for x in m], alternative="less")
    small, large = min(log_s), max(log_s)
    a = [x for x, s in zip(m, log_s, strict=True) if s == small]
    b = [x for x, s in zip(m, log_s, strict=True) if s == large]
    faster = sooner([x["epochs_to_level"] for x in a], [x["reached"] for x in a],
                            [x["epochs_to_level"] for x in b], [x["reached"] for x in b])
    raw = [_p(auc.pvalue), _p(end.pvalue), faster]
    adj = holm(raw)
    reverse = holm([_p(stats.kendalltau(log_s, [x["auc_robust_loss"] for x in m],
                                        alternative="less").pvalue),
                    _p(stats.kendalltau(log_s, [x["final_robust_acc"] for x in m],
                                        alternative="greater").pvalue)])
    held = [p <= ALPHA for p in adj]
    per_scale = {}
    for s in sorted({x["scale"] for x in m}):
        mine = [x for x in m if x["scale"] == s]
        k = kaplan_meier([x["epochs_to_level"] for x in mine], [x["reached"] for x in mine])
        per_scale[f"{s:g}"] = {
            "auc_robust_loss": float(np.mean([x["auc_robust_loss"] for x in mine])),
            "final_robust_acc": float(np.mean([x["final_robust_acc"] for x in mine])),
            "epochs_to_level_median": k["median"], "censored": k["censored"], "runs": k["n"]}
    values = {"per_scale": per_scale, "kendall_tau_auc": _f(auc.statistic),
              "kendall_tau_final_robust_acc": _f(end.statistic),
              "p_holm": {"auc": adj[0], "final_robust_acc": adj[1], "faster": adj[2]},
              "p_holm_larger_scale_better": {"auc": reverse[0], "final_robust_acc": reverse[1]}}
    reason = (f"robust-loss AUC rises with scale: τ = {_f(auc.statistic):.2f}, p_Holm = "
              f"{adj[0]:.3g}; final robust accuracy falls with scale: τ = "
              f"{_f(end.statistic):.2f}, p_Holm = {adj[1]:.3g}; smallest scale reaches robust "
              f"accuracy {arm['robust_level']:g} sooner than the largest (log-rank over runs, "
              f"censored = never reached): p_Holm = {adj[2]:.3g}; the reverse (larger scale "
              f"better): p_Holm = {reverse[0]:.3g} (AUC), {reverse[1]:.3g} (final accuracy)")
    return Judgement(_verdict(held), reason, values)


def _p(p: float) -> float:
    return 1.0 if p is None or not math.isfinite(p) else float(p)


def _f(x: float) -> float:
    return 0.0 if x is None or not math.isfinite(x) else float(x)


# ------------------------------------------------------------------------------ sphere-at


def judge_sphere(arm: Arm) -> Judgement:
    """sphere-at rule: the fraction on the sphere ≥ 1/2 in every (scale, seed, epoch ≥ 1)."""
    cells = [(r["scale"], r["seed"], h["epoch"], h[arm["field"]]) for r in arm["runs"]
             for h in r["history"] if h["epoch"] > 0]
    if not cells:
        return Judgement(NOT_SUPPORTED, "no trained epoch", {})
    fractions = [c[3] for c in cells]
    most = [f >= 0.5 for f in fractions]
    per_scale = {f"{s:g}": float(np.mean([c[3] for c in cells if c[0] == s]))
                 for s in sorted({c[0] for c in cells})}
    verdict = SUPPORTED if all(most) else PARTLY if sum(most) * 2 >= len(most) else NOT_SUPPORTED
    boxed = [h.get("on_sphere_box") for r in arm["runs"] for h in r["history"]
             if h["epoch"] > 0 and h.get("on_sphere_box") is not None]
    box = float(np.mean(boxed)) if boxed else math.nan
    return Judgement(verdict, f"{sum(most)}/{len(most)} (scale, seed, epoch) cells have at "
                     f"least half of the PGD outputs on the sphere; lowest fraction "
                     f"{min(fractions):.3f}; mean per scale {per_scale}; with x + δ also kept "
                     f"in the pixel box: {box:.3f} on the sphere",
                     {"cells": len(most), "cells_with_most": sum(most),
                      "lowest": float(min(fractions)), "mean_per_scale": per_scale,
                      "on_sphere_with_pixel_box": box})


# ----------------------------------------------------------------------------- Figure 3


def _epoch_groups(arm: Arm, scale: float, epoch: int) -> dict[str, list]:
    return pooled([g for g in arm["escape"] if g["scale"] == scale and g["epoch"] == epoch])


def _fig3_arms(result: Mapping[str, Any]) -> tuple[Arm, Arm]:
    """Main: the plain arm at epochs 0, the second probe epoch ('a few') and the last ('many');
    control: the same with epoch 0 in place of the last (training that changed nothing)."""
    arm = _arm(result, "plain")
    epochs = sorted({g["epoch"] for g in arm["escape"]})
    few = epochs[1] if len(epochs) > 2 else epochs[0]
    return ({**arm, "epochs": (epochs[0], few, epochs[-1])},
            {**arm, "epochs": (epochs[0], few, epochs[0])})


def judge_fig3(arm: Arm) -> Judgement:
    """fig3 rule (see the declaration), at the smallest scale, ratios pooled."""
    if not arm["escape"]:
        return Judgement(NOT_SUPPORTED, "no probe", {})
    s = min(g["scale"] for g in arm["escape"])
    first, few, last = (_epoch_groups(arm, s, e) for e in arm["epochs"])
    still_easy = easy(few, arm["budget"])
    p = sooner(first["times"], first["escaped"], last["times"], last["escaped"])
    harder = p <= ALPHA
    verdict = SUPPORTED if harder and still_easy else PARTLY if harder else NOT_SUPPORTED
    e0, ef, el = arm["epochs"]
    return Judgement(verdict, f"scale {s:g}: epoch {e0} {km_text(first)}, epoch {ef} "
                     f"{km_text(few)} ({'easy' if still_easy else 'not easy'}), epoch {el} "
                     f"{km_text(last)}; epoch {el} escapes later than epoch {e0}: log-rank "
                     f"p = {p:.3g}", {"scale": s, "epochs": list(arm["epochs"]),
                                      "few_epochs_easy": still_easy, "p_later": p})


def judge_fig3_scale(arm: Arm) -> Judgement:
    """fig3-scale rule (see the declaration)."""
    if not arm["escape"]:
        return Judgement(NOT_SUPPORTED, "no probe", {})
    epochs = sorted({g["epoch"] for g in arm["escape"]})
    scales = sorted({g["scale"] for g in arm["escape"]})
    budget = arm["budget"]
    effect, boot = {}, {}
    rng = np.random.default_rng(0)
    for s in scales:
        a, b = _epoch_groups(arm, s, epochs[0]), _epoch_groups(arm, s, epochs[-1])
        effect[s] = rmst(b["times"], b["escaped"], budget) - rmst(a["times"], a["escaped"],
                                                                   budget)
        boot[s] = (rmst_bootstrap(b, budget, BOOTSTRAP, rng)
                   - rmst_bootstrap(a, budget, BOOTSTRAP, rng))
    diff = boot[scales[-1]] - boot[scales[0]]
    margin = budget / 100  # one step at a budget of 100: smaller differences mean nothing
    p = float((np.sum(~(diff > margin)) + 1) / (diff.size + 1))
    increasing = all(effect[x] < effect[y] for x, y in itertools.pairwise(scales))
    ends = p <= ALPHA
    verdict = SUPPORTED if ends and increasing else PARTLY if ends else NOT_SUPPORTED
    shown = ", ".join(f"{s:g}: {effect[s]:+.1f}" for s in scales)
    return Judgement(verdict, f"training's slow-down of escape (RMST at epoch {epochs[-1]} − "
                     f"epoch {epochs[0]}, steps) per scale: {shown}; largest vs smallest scale: "
                     f"bootstrap p = {p:.3g}; increasing at every scale: {increasing}",
                     {"effect_per_scale": {f"{s:g}": effect[s] for s in scales},
                      "p_largest_exceeds_smallest": p, "increasing": increasing})


# ------------------------------------------------------------------------------- Q1


def _within(records: Sequence[Mapping[str, Any]], rule: str, budget: int
            ) -> dict[str, dict[str, float]]:
    """Per (scale, epoch): the Kaplan–Meier fraction stationary within 10, 40, 100 steps and
    within the budget (nan beyond the budget, where censoring leaves it unknown)."""
    out = {}
    for r in records:
        if r["rule"] != rule:
            continue
        t = np.asarray(r["times"], dtype=float)
        e = np.asarray(r["hit"], dtype=bool)
        sf = stats.ecdf(stats.CensoredData(uncensored=t[e], right=t[~e])).sf if e.any() \
            else None
        out[f"scale {r['scale']:g}, epoch {r['epoch']}"] = {
            str(w): math.nan if w > budget else 0.0 if sf is None
            else float(1 - sf.evaluate(w)) for w in sorted({*WITHIN, budget})}
    return out


def judge_q1(arm: Arm) -> Judgement:
    """q1-cnn rule (see the declaration)."""
    budget = arm["q1_budget"]
    cells = {rule: _within(arm["stationarity"], rule, budget) for rule in arm["rules"]}
    primary, secondary = arm["rules"]
    if not cells[primary]:
        return Judgement(NOT_SUPPORTED, "no stationarity record", {})

    def all_at(rule: str, w: int) -> bool:
        return bool(cells[rule]) and all(c[str(w)] >= 0.9 for c in cells[rule].values())
    fast = all_at(primary, 40)
    eventually = all_at(primary, min(100, budget)) or all_at(secondary, 40)
    verdict = SUPPORTED if fast else PARTLY if eventually else NOT_SUPPORTED
    low = {rule: {str(w): min((c[str(w)] for c in cells[rule].values()), default=0.0)
                  for w in WITHIN} for rule in cells}
    return Judgement(verdict, "lowest fraction stationary (over scales × epochs) within "
                     "10/40/100 steps: " + "; ".join(
                         f"{r}: " + "/".join(f"{low[r][str(w)]:.2f}" for w in WITHIN)
                         for r in cells) + f" (budget {budget})",
                     {"lowest_fraction_within": low, "per_cell": cells})


# ---------------------------------------------------------------------------- concentration


def judge_concentration(arm: Arm) -> Judgement:
    """concentration-cnn rule (see the declaration)."""
    by = {(r["scale"], r["epoch"]): np.asarray(r["cv"], dtype=float) for r in arm["restarts"]}
    scales = sorted({s for s, _ in by})
    epochs = sorted({e for _, e in by})
    if len(scales) < 2:
        return Judgement(NOT_SUPPORTED, "fewer than two scales", {})
    sooner, later, labels = [], [], []
    for a, b in itertools.pairwise(scales):
        x = np.concatenate([by[(a, e)] for e in epochs])
        y = np.concatenate([by[(b, e)] for e in epochs])
        d = y - x
        if np.all(d == 0):
            sooner.append(1.0)
            later.append(1.0)
        else:
            sooner.append(float(stats.wilcoxon(x, y, alternative="less").pvalue))
            later.append(float(stats.wilcoxon(x, y, alternative="greater").pvalue))
        labels.append(f"{a:g} vs {b:g}")
    adj, rev = holm(sooner), holm(later)
    held = [p <= ALPHA for p in adj]
    verdict = (SUPPORTED if all(held) else
               PARTLY if any(held) and not any(p <= ALPHA for p in rev) else NOT_SUPPORTED)
    medians = {f"scale {s:g}, epoch {e}": float(np.median(by[(s, e)])) for s, e in by}
    distinct = {f"scale {r['scale']:g}, epoch {r['epoch']}": float(np.mean(r["distinct"]))
                for r in arm["restarts"]}
    return Judgement(verdict, "smaller scale has the smaller CV of the restarts' final ℓ "
                     "(Wilcoxon signed-rank by image, epochs pooled, Holm): " + ", ".join(
                         f"{lab}: p = {p:.3g}" for lab, p in zip(labels, adj, strict=True)),
                     {"p_holm": dict(zip(labels, adj, strict=True)), "median_cv": medians,
                      "mean_distinct_end_points": distinct})


_AT = "advdyn at_scale"
TRAINING_CLAIMS: tuple[Claim, ...] = (
    Claim(id="at-scale", section="abstract, §6",
          quote="A smaller input scale leads to faster convergence of adversarial training "
                "... a smaller input scale can help the adversarial training perform better.",
          measurement="Madry PGD training at each input scale (same network, optimiser, "
                      "schedule, ratio; several seeds): area under the robust training-loss "
                      "curve, final robust held-out accuracy (PGD with restarts), and epochs "
                      "until robust accuracy reaches the stated level (censored if never).",
          rule="Three one-sided tests, Holm-adjusted (α = 0.05): Kendall's τ of log-scale "
               "against the robust-loss AUC (> 0) and against the final robust accuracy (< 0) "
               "over all runs, and a log-rank test that the smallest scale reaches the robust "
               "level sooner than the largest. Supported iff all three reject; partly if one "
               "or two do; else not supported.",
          control="The same network behind x/scale, trained identically: the scale is "
                  "invisible, so the rule must find no effect.",
          experiment="at_scale", arms=_arms, judge=judge_at_scale),
    Claim(id="sphere-at", section="§3.1",
          quote="the PGD will end up on the sphere for most samples in the implementation of "
                "adversarial training.",
          measurement="Fraction of the training PGD outputs with ‖δ‖ = ε (to 64 ulp) per "
                      "scale, seed and epoch (the paper's ball constraint); beside it the "
                      "fraction when the attack also keeps x + δ in the pixel box.",
          rule="Supported iff at least half of the outputs are on the sphere in every (scale, "
               "seed, epoch ≥ 1); partly if in at least half of them; else not supported.",
          control="The PGD starts themselves (uniform points of the ball, no step taken): "
                  "they lie strictly inside, so the rule must reject.",
          experiment="at_scale",
          arms=lambda r: ({**_arm(r, "plain"), "field": "on_sphere"},
                          {**_arm(r, "plain"), "field": "start_on_sphere"}),
          judge=judge_sphere),
    Claim(id="fig3", section="Fig. 3 caption",
          quote="After a few epochs of adversarial training, escaping from local maxima is "
                "still easy for the small input scale as shown in Fig. 3(b). However, escaping "
                "from local maxima will be significantly harder after a lot of training epochs.",
          measurement="The Figure 2 probe (normalised convention) on the network at epoch 0, "
                      "a few and many epochs, smallest scale, ratios pooled.",
          rule="(c) one-sided log-rank 'epoch 0 escapes sooner than the last epoch' at α = "
               "0.05; (b) escape at the few-epoch checkpoint is easy (≤ 10 % censored, "
               "median ≤ budget/4). Supported iff (b) and (c); partly if (c) only; else not "
               "supported.",
          control="The same comparison with the epoch-0 network in place of the last "
                  "(training that changed nothing): (c) must fail.",
          experiment="at_scale", arms=_fig3_arms, judge=judge_fig3),
    Claim(id="fig3-scale", section="Fig. 3 caption",
          quote="This influence is more significant on large input scales compared to small "
                "ones.",
          measurement="Per scale, the slow-down of escape due to training: the restricted "
                      "mean escape time (area under the Kaplan–Meier curve up to the budget) "
                      "at the last probe epoch minus at epoch 0, ratios pooled.",
          rule="Bootstrap over runs (1000 resamples, seed 0): one-sided p that the slow-down "
               "at the largest scale exceeds that at the smallest by more than budget/100 "
               "steps; supported iff p ≤ 0.05 and "
               "the slow-down increases from each scale to the next; partly if only p ≤ 0.05; "
               "else not supported.",
          control="The same network behind x/scale: the slow-down cannot depend on the scale.",
          experiment="at_scale", arms=_arms, judge=judge_fig3_scale),
    Claim(id="q1-cnn", section="Question 1",
          quote="Does projected gradient ascent truly find a local maximum rapidly?",
          measurement="From uniform starts, per step of PGD ascent on ℓ: on the sphere "
                      "‖Γ‖/‖∇ℓ‖ and 1 − cos∠[∇ℓ, δ], inside ‖∇ℓ‖ relative to its start; "
                      "steps until stationary at tolerance 0.05 (the certification "
                      "tolerance), censored at the budget; at every scale and probe epoch.",
          rule="Supported iff with the normalised rule (α = ρε) the Kaplan–Meier fraction "
               "stationary within 40 steps (Madry's MNIST budget) is ≥ 0.9 at every scale and "
               "epoch; partly if that holds within 100 steps, or within 40 for the raw rule "
               "η = cε²; else not supported.",
          control="A search that follows no gradient (steps of ρε in random directions, "
                  "projected): it does not become stationary, so the rule must reject.",
          experiment="at_scale",
          arms=lambda r: ({**_arm(r, "plain"), "rules": ("normalized", "raw_eps2")},
                          {**_arm(r, "plain"), "rules": ("random", "random")}),
          judge=judge_q1),
    Claim(id="concentration-cnn", section="§1.1",
          quote="a smaller input scale makes the local maximums concentrate better, which can "
                "partially explain why the loss value of local maximums share similar values "
                "(Madry et al., 2017).",
          measurement="Per image, many normalised PGD restarts from uniform starts: the "
                      "coefficient of variation of their final ℓ, and the number of distinct "
                      "end points; at every scale and probe epoch.",
          rule="For consecutive scales, one-sided Wilcoxon signed-rank (paired by image and "
               "epoch) 'the smaller scale has the smaller CV', and its reverse, Holm-adjusted "
               "(α = 0.05): supported iff all pairs are significant; partly if some are and "
               "none is reversed; else not supported.",
          control="The same network behind x/scale: the spread cannot depend on the scale.",
          experiment="at_scale", arms=_arms, judge=judge_concentration),
)
