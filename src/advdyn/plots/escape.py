r"""Pictures of the real-network experiments: Figure 2 (``draw``) and adversarial training
across input scales with Figure 3 and Question 1 (``draw_training``).

Drawing only: every curve is a number of the experiment's result (Kaplan–Meier curves, mean
``log ℓ`` along the attack, per-epoch histories) and every verdict a claim record's.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any

import numpy as np
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from advdyn.plots.drawing import Drawing

CONVENTION_TEXT = {"normalized": "normalised α = ρε", "raw_fixed": "raw, one fixed η",
                   "raw_eps2": "raw, η = cε²", "random": "random directions (control)"}


def palette(values: Sequence[float]) -> dict[float, Any]:
    """One viridis colour per distinct value, in order (the real-network pictures' key)."""
    cmap = colormaps["viridis"]
    ordered = sorted(set(values))
    return {v: cmap(0.9 * i / max(len(ordered) - 1, 1)) for i, v in enumerate(ordered)}


def _verdicts(records: Sequence[Any], ids: Sequence[str]) -> str:
    found = {r.id: r for r in records}
    return "; ".join(f"{i}: {found[i].verdict} (control: {found[i].control['verdict']})"
                     for i in ids if i in found)


def _median_label(km: Mapping[str, Any]) -> str:
    m = "never" if math.isinf(km["median"]) else f"{km['median']:g}"
    return f"median {m}, {km['censored']}/{km['n']} censored"


def _fraction_axis(ax: Axes, entries: int) -> None:
    """A fraction axis (data in [0, 1]) with headroom above 1 for a legend of ``entries``
    entries in the upper right, in one column up to six entries and in columns of at most six
    rows beyond: the legend sits in empty space and hides no curve. A legend row takes about
    7.5 % of a 3.4-inch panel's height at font size 7."""
    columns = max(1, math.ceil(entries / 6))
    low, share = -0.03, 0.075 * math.ceil(entries / columns) + 0.05
    ax.set_ylim(low, low + (1.02 - low) / (1 - share))
    ax.set_yticks(np.linspace(0, 1, 6))
    if entries:
        ax.legend(fontsize=7, loc="upper right", framealpha=0.9, ncols=columns)


def _survival_panel(ax: Axes, curves: Sequence[tuple[str, Any, Mapping[str, Any]]]) -> None:
    for label, color, km in curves:
        if km["n"] == 0:  # nothing to estimate: a legend entry, no curve
            ax.plot([], [], color=color, ls=":", label=f"{label}: no certified start")
            continue
        ax.step(np.arange(len(km["curve"])), km["curve"], where="post", color=color, lw=1.5,
                label=f"{label}: {_median_label(km)}")
    ax.axhline(0.5, color="0.5", lw=0.7, ls=":")
    longest = max((len(km["curve"]) for _, _, km in curves if km["n"]), default=0)
    if longest:
        ax.set_xlim(0, longest - 1)
    else:  # no curve at all: say so instead of drawing an empty axis around 0
        ax.set_xticks([])
        ax.text(0.5, 0.5, "no certified start", transform=ax.transAxes, ha="center",
                va="center", color="0.4")
    ax.grid(alpha=0.3)
    _fraction_axis(ax, len(curves))


def draw(result: Mapping[str, Any], records: Sequence[Any]) -> list[Drawing]:
    """Figure 2: Kaplan–Meier curves of the escape time (rows: step conventions, columns:
    input scales, one curve per ratio; plain arm), and the mean ``log ℓ`` along the attack."""
    groups = [g for g in result["groups"] if g["arm"] == "plain"]
    scales = sorted({g["scale"] for g in groups})
    conventions = [c for c in CONVENTION_TEXT if any(g["convention"] == c for g in groups)]
    colors = palette([g["ratio"] for g in groups])
    fig = Figure(figsize=(4.6 * len(scales), 3.4 * len(conventions)), layout="constrained")
    axes = fig.subplots(len(conventions), len(scales), squeeze=False, sharex=True)
    for i, conv in enumerate(conventions):
        for j, s in enumerate(scales):
            mine = sorted((g for g in groups if g["convention"] == conv and g["scale"] == s),
                          key=lambda g: g["ratio"])
            ax = axes[i, j]
            _survival_panel(ax, [(f"r={g['ratio']:g}", colors[g["ratio"]], g["km"])
                                 for g in mine])
            ax.set_title(f"scale {s:g} — {CONVENTION_TEXT[conv]}", fontsize=9)
            if j == 0:
                ax.set_ylabel("fraction not yet escaped")
            if i == len(conventions) - 1:
                ax.set_xlabel("attack step")
    fig.suptitle("Figure 2: escape from certified local maxima of L (Kaplan–Meier)")
    checks = result["checks"]
    caption = (f"Escape time = first step with ℓ ≥ (1−q)ℓ₀ + qℓ_ref; curves are Kaplan–Meier "
               f"estimates over the certified starts (censored runs kept). Starts: "
               f"{checks['certified']} of {checks['starts']} certified, {checks['rejected']} "
               f"rejected; rows with ℓ = 0: {checks['rows_with_zero_ell']}. Verdicts: "
               + _verdicts(records, ("fig2a", "fig2b", "fig2c", "fig2-scale")))
    out = [Drawing("fig2", fig, "Escape from local maxima across input scales", caption)]
    loss = Figure(figsize=(4.6 * len(scales), 3.4), layout="constrained")
    axes = loss.subplots(1, len(scales), squeeze=False)[0]
    for ax, s in zip(axes, scales, strict=True):
        for g in sorted((g for g in groups if g["convention"] == "normalized"
                         and g["scale"] == s), key=lambda g: g["ratio"]):
            ax.plot(np.asarray(g["curve"], dtype=float), color=colors[g["ratio"]],
                    label=f"r={g['ratio']:g}")
        ax.set_title(f"scale {s:g}, normalised steps", fontsize=9)
        ax.set_xlabel("attack step")
        ax.set_ylabel("mean log ℓ (certified starts)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    out.append(Drawing("fig2_loss", loss, "Adversarial loss along the attack",
                       "Mean natural log of the cross-entropy over the certified starts, per "
                       "ratio (log ℓ is exact at any margin: no row is 0)."))
    if result.get("calibration"):
        out.append(_floor_figure(result["calibration"], scales))
    return out


FLOOR_ARMS = {"plain": ("CNN", "-", "o"), "affine": ("affine floor", "--", "s"),
              "linearised": ("linearised CNN", ":", "^")}


def _floor_figure(calibration: Sequence[Mapping[str, Any]], scales: Sequence[float]
                  ) -> Drawing:
    """Per scale, the Kaplan–Meier median escape steps against the ratio (normalised steps)
    of the CNN and its two single-maximum floors (more than half censored: not drawn)."""
    fig = Figure(figsize=(4.6 * len(scales), 3.4), layout="constrained")
    axes = fig.subplots(1, len(scales), squeeze=False, sharey=True)[0]
    for ax, s in zip(axes, scales, strict=True):
        rows = sorted((c for c in calibration if c["convention"] == "normalized"
                       and c["scale"] == s), key=lambda c: c["ratio"])
        for arm, (label, ls, marker) in FLOOR_ARMS.items():
            pts = [(c["ratio"], c[arm]["median"]) for c in rows if c.get(arm)
                   and c[arm]["median"] is not None and math.isfinite(c[arm]["median"])]
            ax.plot([p[0] for p in pts], [p[1] for p in pts], ls=ls, marker=marker,
                    label=label)
        ax.set_xscale("log")
        ax.set_title(f"scale {s:g}, normalised steps", fontsize=9)
        ax.set_xlabel("ratio r (ε = r · scale · mean‖x‖)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    axes[0].set_ylabel("median escape step (Kaplan–Meier)")
    return Drawing("fig2_floor", fig, "Escape beside the ruler's floor",
                   "Kaplan–Meier median escape steps of the CNN, an affine model and the CNN "
                   "linearised in its input (one maximum over the ball each), on the same "
                   "images and ruler; cells without certified starts, or more than half "
                   "censored, are left out.")


def _history_panel(ax: Axes, runs: Sequence[Mapping[str, Any]], key: str, label: str,
                   colors: Mapping[float, Any]) -> None:
    for r in runs:
        rows = [h for h in r["history"] if h[key] is not None]
        ax.plot([h["epoch"] for h in rows], [h[key] for h in rows], color=colors[r["scale"]],
                ls="-" if r["arm"] == "plain" else "--", lw=1.2, alpha=0.8,
                label=f"scale {r['scale']:g} ({r['arm']})" if r["seed"] == min(
                    x["seed"] for x in runs) else None)
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel(label)
    ax.grid(alpha=0.3)
    curves = [np.asarray([h[key] for h in r["history"] if h[key] is not None], dtype=float)
              for r in runs]
    curves = [c for c in curves if c.size]
    if not curves:
        _no_data(ax, f"no {label} recorded")
    else:
        _flat_note(ax, curves, lambda v: f"every run and epoch: {label} = {v:g}")


def draw_training(result: Mapping[str, Any], records: Sequence[Any]) -> list[Drawing]:
    """Training curves per scale (solid: plain, dashed: behind x/scale), Figure 3's
    Kaplan–Meier curves per scale and epoch, and PGD's stationarity per rule."""
    runs = result["runs"]
    colors = palette([r["scale"] for r in runs])
    fig = Figure(figsize=(15, 4), layout="constrained")
    axes = fig.subplots(1, 4)
    for ax, (key, label) in zip(axes, (("robust_train_loss", "robust training loss"),
                                       ("robust_acc", "robust held-out accuracy"),
                                       ("clean_acc", "clean held-out accuracy"),
                                       ("on_sphere", "PGD outputs on the sphere")),
                                strict=True):
        _history_panel(ax, runs, key, label, colors)
    if any(h["robust_train_loss"] for r in runs for h in r["history"]
           if h["robust_train_loss"] is not None):
        axes[0].set_yscale("log")  # the losses of scales that did not train span decades
    # one legend for the four panels, outside them: it hides no curve
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside right upper", fontsize=7)
    fig.suptitle("Adversarial training across input scales (one line per seed)")
    out = [Drawing("at_scale", fig, "Adversarial training across input scales",
                   "Per epoch, every scale and seed. Verdicts: "
                   + _verdicts(records, ("at-scale", "sphere-at")))]
    curves = [c for c in result["fig3_curves"] if c["arm"] == "plain"]
    scales = sorted({c["scale"] for c in curves})
    if scales:
        ecolors = palette([c["epoch"] for c in curves])
        f3 = Figure(figsize=(4.2 * len(scales), 3.4), layout="constrained")
        axes = f3.subplots(1, len(scales), squeeze=False)[0]
        for ax, s in zip(axes, scales, strict=True):
            _survival_panel(ax, [(f"epoch {c['epoch']}", ecolors[c["epoch"]], c)
                                 for c in curves if c["scale"] == s])
            ax.set_title(f"scale {s:g}", fontsize=9)
            ax.set_xlabel("attack step")
        axes[0].set_ylabel("fraction not yet escaped")
        f3.suptitle("Figure 3: escape from certified local maxima along training")
        out.append(Drawing("fig3", f3, "Escape along adversarial training",
                           "Kaplan–Meier curves of the escape time (ratios pooled), per "
                           "checkpoint epoch. Verdicts: "
                           + _verdicts(records, ("fig3", "fig3-scale"))))
    out.append(_stationarity_figure(result, records))
    return out


def _no_data(ax: Axes, why: str) -> None:
    """An axis with nothing to draw says why, instead of showing an empty frame."""
    ax.set_xticks([])
    ax.set_yticks([])
    ax.text(0.5, 0.5, why, transform=ax.transAxes, ha="center", va="center", color="0.4",
            wrap=True)


def _flat_note(ax: Axes, curves: Sequence[np.ndarray], meaning: Callable[[float], str]) -> None:
    """When every curve is one constant, say so on the axis (a flat line is a result, not a
    drawing error): ``meaning(value)`` says what that constant means."""
    values = {float(v) for c in curves for v in np.unique(c)}
    if curves and len(values) == 1:
        value = values.pop()
        low, high = ax.get_ylim()
        at = (value - low) / (high - low)  # the line's height in the axes; the note beside it
        ax.text(0.5, at + 0.25 if at < 0.5 else at - 0.25,
                f"{meaning(value)}\n(every curve is at {value:g})",
                transform=ax.transAxes, ha="center", va="center", fontsize=8, color="0.25",
                bbox={"facecolor": "white", "edgecolor": "0.7", "alpha": 0.9})


def _stationary_meaning(steps: int, value: float) -> str:
    """What a constant fraction stationary over ``steps`` PGD steps means."""
    if value == 0:
        return f"no run became stationary within {steps} steps"
    if value == 1:
        return "every run was stationary from the start"
    return f"the fraction stationary stays at {value:g} over {steps} steps"


def _stationarity_figure(result: Mapping[str, Any], records: Sequence[Any]) -> Drawing:
    rows = [r for r in result["stationarity"] if r["arm"] == "plain"]
    rules = [r for r in ("normalized", "raw_eps2", "random") if any(x["rule"] == r for x in rows)]
    last = max((r["epoch"] for r in rows), default=0)
    colors = palette([r["scale"] for r in rows])
    fig = Figure(figsize=(4.2 * max(len(rules), 1), 3.4), layout="constrained")
    axes = fig.subplots(1, max(len(rules), 1), squeeze=False)[0]
    for ax, rule in zip(axes, rules, strict=False):
        mine = [r for r in rows if r["rule"] == rule]
        for r in mine:
            s = np.asarray(r["survival"]["curve"])
            ax.step(np.arange(s.size), 1 - s, where="post", color=colors[r["scale"]],
                    ls="-" if r["epoch"] == last else ":",
                    label=f"scale {r['scale']:g}, epoch {r['epoch']}")
        ax.set_title(CONVENTION_TEXT[rule], fontsize=9)
        ax.set_xlabel("PGD step")
        ax.set_ylabel("fraction stationary")
        ax.grid(alpha=0.3)
        _fraction_axis(ax, len(mine))
        curves = [1 - np.asarray(r["survival"]["curve"], dtype=float) for r in mine]
        _flat_note(ax, curves, partial(_stationary_meaning,
                                       max((c.size for c in curves), default=1) - 1))
    if not rules:
        _no_data(axes[0], "no stationarity runs in this result")
    fig.suptitle("Question 1: steps until PGD is stationary\n(KKT residual ≤ 0.05)",
                 fontsize=10)
    return Drawing("q1_stationarity", fig, "Does PGD reach a local maximum rapidly?",
                   "Kaplan–Meier fraction of runs stationary by each step (where the ball "
                   "or the pixel box is active, the relative KKT residual of ball ∩ box ≤ "
                   "0.05; inside ‖∇ℓ_t‖/‖∇ℓ_0‖ ≤ 0.05); solid: "
                   "last probe epoch. Verdicts: "
                   + _verdicts(records, ("q1-cnn", "concentration-cnn")))
