"""Question 2, Figure 3 and Question 1 on an MNIST CNN under adversarial training, each claim
declared once (experiment ``at_scale``). Every effect is measured against a calibration arm
(docs/experiments/at_scale.md): the affine model trained with the same search, data, attack and
budget (one maximum of the loss over the ball: the paper's mechanism is absent, the ruler's
artifacts are kept), and for Question 1 the CNN linearised at each input beside it. Each claim's
control is the affine arm fed to the same judge.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from scipy import stats

from advdyn.claims.calibrated import difference, paired
from advdyn.claims.core import (
    INCONCLUSIVE,
    Claim,
    Effect,
    Judgement,
    three_way,
)
from advdyn.claims.escape_training import FIG3_MIN, judge_fig3, judge_fig3_scale
from advdyn.claims.q1_network import Q1_MULTIPLE, Q1_PLATEAU, Q1_TAU, judge_q1
from advdyn.claims.rule_power import ALPHA, binomial_power
from advdyn.claims.stats import kaplan_meier

Arm = Mapping[str, Any]
CLEAN_TARGET = 0.90
AT_SCALE_MIN = 0.05   # robust test accuracy, smallest minus largest scale
CONC_MIN = 0.05       # restarts' spread as a fraction of ℓ's range over the ball


def _rows(result: Mapping[str, Any], key: str, arm: str) -> list[dict[str, Any]]:
    return [r for r in result.get(key, []) if r["arm"] == arm]


def _pair(result: Mapping[str, Any], main: str, floor: str = "affine") -> dict[str, Any]:
    """One arm as a judge reads it: ``main``'s numbers, the affine floor's, the calibration."""
    return {"name": main, **{k: _rows(result, k, main) for k in
                             ("runs", "escape", "q1", "restarts", "affineness")},
            "floor": {k: _rows(result, k, floor) for k in ("runs", "escape", "q1", "restarts")},
            "linearised": {k: _rows(result, k, "linearised") for k in ("q1", "restarts")},
            **{k: result.get(k) for k in ("budget", "q1_budget", "robust_level",
                                          "constant_predictor_acc", "lr_search")}}


def _arms(result: Mapping[str, Any]) -> tuple[Arm, Arm]:
    return _pair(result, "plain"), _pair(result, "affine")


def _linearised_arms(result: Mapping[str, Any]) -> tuple[Arm, Arm]:
    """The CNN, and as the control the same CNN linearised at each probe image (both against
    the affine floor)."""
    return _pair(result, "plain"), _pair(result, "linearised")


def _final(run: Mapping[str, Any], key: str) -> float:
    return float(run["history"][-1][key])


# ------------------------------------------------------------------------------- at-scale


def _matched_robust_error(runs: Sequence[Mapping[str, Any]], level: float) -> float:
    """Mean robust test error at the first epoch whose clean test accuracy reaches ``level``
    (runs that never do are left out; nan when none does)."""
    errs = [1 - h["test_robust_acc"] for r in runs for h in
            [next((h for h in r["history"] if h["test_clean_acc"] >= level), None)] if h]
    return float(np.mean(errs)) if errs else math.nan


def _mechanism(arm: Arm) -> dict[str, dict[str, float]]:
    """The paper's proposed mechanism per scale and probe epoch: the median relative size of ℓ's
    second-order term over the ball, and the median number of distinct maxima."""
    distinct = {(r["scale"], r["epoch"]): float(np.median(r["distinct"]))
                for r in arm["restarts"]}
    return {f"scale {a['scale']:g}, epoch {a['epoch']}": {
        "second_order": float(np.median(a["second_order"])),
        "distinct_maxima": distinct.get((a["scale"], a["epoch"]), math.nan)}
        for a in arm["affineness"]}


def _search_text(arm: Arm, scale: float) -> str:
    """Why a scale fell short: the best validation clean accuracy over its learning-rate grid
    (no rate of the grid trained the network when it too is below the target)."""
    search = ((arm.get("lr_search") or {}).get(arm["name"]) or {}).get(f"{scale:g}")
    if not search:
        return "no learning-rate search recorded"
    best = max(search["per_lr"], key=lambda x: x["validation"]["clean"])
    grid = search["grid"]
    return (f"best validation clean accuracy over the {len(grid)} rates {min(grid):.2g}–"
            f"{max(grid):.2g}: {best['validation']['clean']:.2f} at {best['lr']:.2g}"
            + (": no rate of the grid trained it" if best["validation"]["clean"] < CLEAN_TARGET
               else "") + (", the selection at the grid's edge" if search["at_edge"] else ""))


def judge_at_scale(arm: Arm) -> Judgement:
    """at-scale rule (see the declaration)."""
    runs = arm["runs"]
    scales = sorted({r["scale"] for r in runs})
    if len(scales) < 2:
        return Judgement(INCONCLUSIVE, "fewer than two scales trained", {})
    acc = {s: [_final(r, "test_robust_acc") for r in runs if r["scale"] == s] for s in scales}
    clean = {s: [_final(r, "test_clean_acc") for r in runs if r["scale"] == s] for s in scales}
    effect, power = difference(acc[scales[0]], acc[scales[-1]], AT_SCALE_MIN,
                               f"robust test accuracy, scale {scales[0]:g} minus "
                               f"{scales[-1]:g}", 1.0)
    verdict, phrase = three_way(effect)
    level = arm["robust_level"]
    km = {f"{s:g}": kaplan_meier(*zip(*[next(((float(h["epoch"]), True) for h in r["history"]
                                              if h["test_robust_acc"] >= level),
                                             (float(r["history"][-1]["epoch"]), False))
                                        for r in runs if r["scale"] == s], strict=True))
          for s in scales}
    match = min(float(np.mean(clean[s])) for s in scales)
    untrained = [f"{s:g} (clean {np.mean(clean[s]):.2f}; {_search_text(arm, s)})"
                 for s in scales if np.mean(clean[s]) < CLEAN_TARGET]
    base = arm["constant_predictor_acc"]
    chance = [f"{s:g}" for s in scales if np.mean(acc[s]) <= base]
    log_s = [math.log10(r["scale"]) for r in runs]
    tau = stats.kendalltau(log_s, [_final(r, "test_robust_acc") for r in runs]).statistic
    tau = float(tau) if math.isfinite(tau) else 0.0
    per_scale = {f"{s:g}": {"test_robust_acc": float(np.mean(acc[s])),
                            "test_clean_acc": float(np.mean(clean[s])),
                            "seeds": len(acc[s]),
                            "epochs_to_level_median": km[f"{s:g}"]["median"],
                            "censored": km[f"{s:g}"]["censored"],
                            "robust_error_at_matched_clean": _matched_robust_error(
                                [r for r in runs if r["scale"] == s], match)}
                 for s in scales}
    reason = (f"{phrase}. Per scale (robust/clean test acc at the selected lr): " + "; ".join(
        f"{s}: {v['test_robust_acc']:.3f}/{v['test_clean_acc']:.3f}"
        for s, v in per_scale.items()) + f"; constant predictor {base:.3f}; Kendall τ of log "
        f"scale vs robust accuracy {tau:.2f}"
        + (f"; below clean accuracy {CLEAN_TARGET:g}: {', '.join(untrained)}" if untrained
           else "") + (f"; robust accuracy at or below the constant predictor at scale "
                       f"{', '.join(chance)}" if chance else ""))
    return Judgement(verdict, reason,
                     {"per_scale": per_scale, "matched_clean_accuracy": match,
                      "constant_predictor_acc": base, "not_trained_to_target": untrained,
                      "at_constant_predictor": chance,
                      "calibration": {"affine_test_robust_acc": {
                          f"{s:g}": float(np.mean([_final(r, "test_robust_acc") for r in
                                                   arm["floor"]["runs"] if r["scale"] == s]
                                                  or [math.nan])) for s in scales}},
                      "mechanism": _mechanism(arm),
                      "lr_search": arm.get("lr_search")}, power, effect)


# ------------------------------------------------------------------------------ sphere-at


def judge_sphere(arm: Arm) -> Judgement:
    """sphere-at rule: the lowest (scale, seed, epoch ≥ 1) fraction on the sphere, with the
    pixel box (deciding), beside it without (shown); power: the counting rule's on the images
    of a cell against 1/2 (:func:`~advdyn.claims.rule_power.binomial_power`)."""
    cells = [(h[arm["field"]], h.get(arm["shown"])) for r in arm["runs"]
             for h in r["history"] if h["epoch"] > 0 and h.get(arm["field"]) is not None]
    if not cells:
        return Judgement(INCONCLUSIVE, "no trained epoch", {})
    low = min(c[0] for c in cells)
    n, level = int(arm["images"]), 1 - ALPHA / len(cells)  # the lowest of k cells: α/k each
    ci = stats.binomtest(round(low * n), n).proportion_ci(level)
    effect = Effect(float(low), float(ci.low), float(ci.high), 0.5,
                    "lowest fraction of PGD outputs on the sphere")
    verdict, phrase = three_way(effect)
    shown = [c[1] for c in cells if c[1] is not None]
    floor = [h[arm["field"]] for r in arm.get("floor_runs", []) for h in r["history"]
             if h["epoch"] > 0 and h.get(arm["field"]) is not None]
    radius = arm.get("radius")
    radii = [h[radius] for r in arm["runs"] for h in r["history"]
             if radius and h["epoch"] > 0 and h.get(radius) is not None]
    return Judgement(verdict, f"{phrase} ({len(cells)} cells; without the box: lowest "
                     f"{min(shown):.3f})" if shown else phrase,
                     {"cells": len(cells), "lowest": float(low),
                      "lowest_other": float(min(shown)) if shown else None,
                      "radius_over_eps": [float(min(radii)), float(max(radii))] if radii
                      else None,
                      "calibration": {"affine_lowest": float(min(floor)) if floor else None}},
                     binomial_power(n, "images per cell", floor=0.5, level=level),
                     effect)



# ---------------------------------------------------------------------------- concentration


def _spread(rows: Sequence[Mapping[str, Any]], s: float) -> dict[tuple[int, int], float]:
    return {(r["epoch"], i): v for r in rows if r["scale"] == s
            for i, v in enumerate(r["spread"])}


def judge_concentration(arm: Arm) -> Judgement:
    """concentration-cnn rule (see the declaration)."""
    rows = arm["restarts"]
    scales = sorted({r["scale"] for r in rows})
    if len(scales) < 2:
        return Judgement(INCONCLUSIVE, "fewer than two scales", {})
    lo, hi = _spread(rows, scales[0]), _spread(rows, scales[-1])
    effect, power = paired([hi[k] - lo[k] for k in lo if k in hi], CONC_MIN,
                           f"restarts' spread / range of ℓ over the ball, scale "
                           f"{scales[-1]:g} minus {scales[0]:g}", 1.0, "image-epochs")
    verdict, phrase = three_way(effect)

    def table(rs: Sequence[Mapping[str, Any]], key: str) -> dict[str, float]:
        return {f"scale {r['scale']:g}, epoch {r['epoch']}": float(np.mean(r[key]))
                for r in rs}
    return Judgement(verdict, phrase, {
        "mean_spread": table(rows, "spread"), "mean_distinct_maxima": table(rows, "distinct"),
        "calibration": {"affine_spread": table(arm["floor"]["restarts"], "spread"),
                        "linearised_spread": table(arm["linearised"]["restarts"], "spread")}},
        power, effect)


_CONTROL = ("The affine model trained at every scale with the same lr search, data, attack and "
            "budget, fed to the same judge against its own floor: it keeps every artifact of "
            "the ruler (step rule, budget, ε growing with the scale, logits sharpening along "
            "training) and has a single maximum of the loss over the ball, so the mechanism "
            "the claim names is absent and the rule must say 'not supported'.")


_FIG3_CONTROL = ("The same CNN linearised in its input at each probe image and epoch "
                 "(f(x) + J_f(x)δ: the trained network's own logits and input-Jacobian, so "
                 "the sharpening along training is kept, and one maximum of ℓ over the ball), "
                 "probed with the same images, ratios and ruler and judged against the same "
                 "affine floor: what training does to the logits without several maxima, so "
                 "the rule must say 'not supported'. (The affine arm against its own floor "
                 "would read 0 by construction.)")


def _sphere_arms(result: Mapping[str, Any]) -> tuple[Arm, Arm]:
    arm = {"runs": _rows(result, "runs", "plain"), "images": result["box_images"],
           "floor_runs": _rows(result, "runs", "affine")}
    return ({**arm, "field": "on_sphere_box", "shown": "on_sphere"},
            {**arm, "field": "interior_on_sphere_box", "shown": None,
             "radius": "interior_radius_over_eps"})


_AT = "advdyn at_scale"
TRAINING_CLAIMS: tuple[Claim, ...] = (
    Claim(id="at-scale", section="abstract, §6",
          quote="A smaller input scale leads to faster convergence of adversarial training "
                "... a smaller input scale can help the adversarial training perform better.",
          measurement="Madry PGD training at each input scale, the first weight's learning "
                      "rate × s⁻¹ (Adam; s⁻² SGD), which undoes the reparameterisation "
                      "W₁' = s·W₁, each scale at the learning rate selected on a validation "
                      "split from one grid; at the selected lr, several "
                      "seeds: robust test accuracy (correct under every restart) at the last "
                      "epoch; shown beside it the epochs to the robust level (Kaplan–Meier over "
                      "seeds), the robust error at matched clean accuracy and the constant "
                      "predictor.",
          rule="Effect: mean robust test accuracy at the smallest scale minus at the largest, "
               "with a 95 % Welch interval over seeds. Supported iff the interval lies above "
               "the minimum effect; not supported iff below it (reversed when below 0); else "
               "inconclusive. Underpowered (fewer than 3 seeds per scale, or a detectable "
               "effect above 1) → inconclusive.",
          min_effect=f"{AT_SCALE_MIN:g} robust test accuracy (smallest minus largest scale)",
          control=_CONTROL, experiment="at_scale", arms=_arms, judge=judge_at_scale),
    Claim(id="sphere-at", section="§3.1",
          quote="the PGD will end up on the sphere for most samples in the implementation of "
                "adversarial training.",
          measurement="Fraction of the training attack's outputs with ‖δ‖ = ε (to 64 ulp) per "
                      "scale, seed and epoch when x + δ is kept in the pixel box (as MNIST "
                      "training is run; deciding), beside it without the box (shown: there one "
                      "step of ρε lands on the sphere by geometry).",
          rule="Effect: the lowest cell's fraction with the box, with its Clopper–Pearson "
               "interval at level 1 − 0.05/k (k cells: the lowest of k is picked); supported "
               "iff the interval lies above 1/2, not supported iff below.",
          min_effect="1/2 of the outputs on the sphere in every cell",
          control="The same boxed attack (network, images, starts, step rule, step size, budget, "
                  "box, tolerance) on ℓ̃(x + δ) − κ‖δ‖², ℓ̃ the loss the attack ascends and "
                  "κ = ‖∇ℓ̃(x)‖/ε per image: where the gradient keeps its clean size the maximum "
                  "lies at ‖δ‖ = ε/2, inside the ball. It keeps every artifact that could put "
                  "outputs on the sphere without a maximum there (steps of ρε that overshoot, "
                  "the projections onto ball and box, the 64-ulp tolerance) and lacks only the "
                  "mechanism, a maximum on the sphere, so the rule must say 'not supported'; "
                  "its mean ‖δ‖/ε is shown. The affine arm is no control here: its maxima lie "
                  "on the sphere too.",
          experiment="at_scale", arms=_sphere_arms, judge=judge_sphere),
    Claim(id="fig3", section="Fig. 3 caption",
          quote="After a few epochs of adversarial training, escaping from local maxima is "
                "still easy for the small input scale as shown in Fig. 3(b). However, escaping "
                "from local maxima will be significantly harder after a lot of training epochs.",
          measurement="The Figure 2 probe (normalised convention) on the network at epoch 0, "
                      "a few and many epochs, smallest scale: per image, the escape time minus "
                      "the affine arm's on the same image, epoch and scale (the floor).",
          rule="Effect: the mean over images of (excess at the last epoch − excess at epoch 0), "
               "paired t interval. Supported iff above the minimum effect and the median "
               "excess at the few-epoch checkpoint is at most the minimum effect (easy); "
               "partly if only the first; not supported iff the interval is below the minimum.",
          min_effect=f"{FIG3_MIN:g} steps beyond the affine floor",
          control=_FIG3_CONTROL, experiment="at_scale", arms=_linearised_arms,
          judge=judge_fig3),
    Claim(id="fig3-scale", section="Fig. 3 caption",
          quote="This influence is more significant on large input scales compared to small "
                "ones.",
          measurement="Per image, training's slow-down of escape over the affine floor (excess "
                      "at the last probe epoch minus at epoch 0), at the largest scale minus at "
                      "the smallest (the same images at every scale).",
          rule="Effect: the mean paired difference with its t interval; three-way against the "
               "minimum effect.",
          min_effect=f"{FIG3_MIN:g} steps",
          control=_FIG3_CONTROL, experiment="at_scale", arms=_linearised_arms,
          judge=judge_fig3_scale),
    Claim(id="q1-cnn", section="Question 1",
          quote="Does projected gradient ascent truly find a local maximum rapidly?",
          measurement="With the training's own step ρε and box, from uniform starts: per step "
                      "the box-aware KKT residual (τ ∈ {0.2, 0.1, 0.05, 0.01}) and ℓ against "
                      "the best of the restarts (plateau within 1 % / 5 %); T90 = steps until "
                      "90 % of the runs are stationary / at the plateau, divided by the same on "
                      "the affine arm (the floor: ≈ ln(θ₀/τ)/ln(1+ρ) steps on any smooth "
                      "landscape); the linearised CNN shown beside it; distinct maxima of the "
                      "restarts.",
          rule="'Rapidly', fixed before any run: at every scale and probe epoch, T90 at "
               f"τ = {Q1_TAU} and at the {Q1_PLATEAU} plateau ≤ {Q1_MULTIPLE:g}× the affine "
               "floor's. Effect: 2 − the worst ratio, with a bootstrap interval over images; "
               "supported iff above 0 and the restarts reach ≥ 2 distinct maxima (else the "
               "landscape is trivial and the speed is the floor's: not supported); not "
               "supported iff below 0. Underpowered where 2× the floor exceeds the steps "
               "followed.",
          min_effect=f"T90 ≤ {Q1_MULTIPLE:g}× the affine floor",
          control=_CONTROL, experiment="at_scale", arms=_arms, judge=judge_q1),
    Claim(id="concentration-cnn", section="§1.1",
          quote="a smaller input scale makes the local maximums concentrate better, which can "
                "partially explain why the loss value of local maximums share similar values "
                "(Madry et al., 2017).",
          measurement="Per image, ≥ 20 normalised PGD restarts: the standard deviation of their "
                      "final ℓ divided by the range of ℓ over the ball (best ascent minus best "
                      "descent run), and the number of distinct maxima (end points clustered "
                      "within merge·ε); at every scale and probe epoch.",
          rule="Effect: the mean over (image, epoch) of the normalised spread at the largest "
               "scale minus at the smallest, paired t interval; three-way against the minimum.",
          min_effect=f"{CONC_MIN:g} of the range of ℓ over the ball",
          control=_CONTROL, experiment="at_scale", arms=_arms, judge=judge_concentration),
)
