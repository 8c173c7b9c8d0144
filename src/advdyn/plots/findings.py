"""The paper's Figures 2 and 3 redrawn in the paper's layout from a run's results, with the
calibration floor drawn in (for the findings page; Figure 1 is the ``fig1`` experiment's own
picture, already in the paper's 3×3 layout).

- **Figure 2** (paper: "adversarial losses of each point on the trajectories from local maxima
  with three different input scales and five different perturbation ratios"): one panel per
  input scale (the paper's 0.1, 10, 1000 where the run has them), the mean ``log ℓ`` along the
  attack from the certified maxima, one colour per ratio; solid the CNN, dashed the same probe
  on the arms with a single maximum (affine, linearised) — the floor any smooth landscape
  reaches under the same step rule.
- **Figure 3** (paper: "the same setting as Figure 2 at input scale 0.1", epochs 0, 10, 100):
  one panel per probe epoch (first, middle, last), the paper's row at the smallest input scale
  and one row per other scale; the mean ``log ℓ`` along the attack; solid the CNN, dashed the
  affine arm.

Each curve is shown as the share of its own rise covered (:func:`risen`).

Drawing only: every curve is a number of the result.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from advdyn.plots.drawing import Drawing
from advdyn.plots.escape import palette

#: The paper's input scales of Figure 2.
PAPER_SCALES = (0.1, 10.0, 1000.0)
#: Arms of a single maximum (the calibration floor) and how they are drawn.
FLOOR_STYLES = {"affine": "--", "linearised": ":"}
MAIN_ARMS = ("plain", "cnn")


def _pick(available: Sequence[float], wanted: Sequence[float]) -> list[float]:
    """The available values nearest (in log) to each wanted one, without repeats."""
    if not available:
        return []
    out: list[float] = []
    for w in wanted:
        best = min(available, key=lambda a: abs(np.log(a) - np.log(w)))
        if best not in out:
            out.append(best)
    return out


def risen(curve: Any) -> np.ndarray:
    """The share of its own rise a mean ``log ℓ`` curve has covered at each step,
    ``(c_t − c_0)/(max_t c_t − c_0)``: 0 at the certified maximum, 1 at its highest point (all
    zeros where it does not rise). Arms whose losses differ by orders of magnitude (the affine
    floor's ℓ spans hundreds of nats at large ε) then share one axis, and the step at which a
    curve crosses ½ is the escape time of the claims (q = ½ of the gap)."""
    c = np.asarray(curve if curve is not None else [], dtype=float)
    if not c.size or not np.isfinite(c).any():
        return c
    rise = np.nanmax(c) - c[0]
    return (c - c[0]) / rise if rise > 1e-12 * max(1.0, abs(c[0])) else np.zeros_like(c)


def _curve(ax: Axes, y: Any, **style: Any) -> bool:
    y = risen(y)
    if not y.size or not np.isfinite(y).any():
        return False
    ax.plot(np.arange(y.size), y, **style)
    return True


def _finish(ax: Axes, drawn: int) -> None:
    ax.set_xlabel("attack step")
    ax.set_ylabel("share of the rise of log ℓ covered")
    ax.set_ylim(-0.05, 1.05)
    ax.axhline(0.5, color="0.5", lw=0.7, ls=":")
    ax.grid(alpha=0.3)
    if not drawn:
        ax.text(0.5, 0.5, "no certified start", transform=ax.transAxes, ha="center",
                va="center", color="0.4")


def _legend(fig: Figure, ax: Axes, colors: Mapping[float, Any] | None, floors: Sequence[str],
            main: str) -> None:
    """One legend under the panels: a colour per ratio, a line style per arm."""
    handles = [Line2D([], [], color=c, lw=1.6, label=f"r = {r:g}")
               for r, c in (colors or {}).items()]
    handles.append(Line2D([], [], color="0.2", lw=1.6, label=main))
    handles += [Line2D([], [], color="0.2", lw=1.0, ls=FLOOR_STYLES[a],
                       label=f"{a} model (floor: one maximum)") for a in floors]
    fig.legend(handles=handles, loc="outside lower center", ncols=min(len(handles), 6),
               fontsize=8, frameon=False)


def figure2(result: Mapping[str, Any], convention: str = "normalized") -> Drawing:
    """Figure 2 redrawn (module docstring) from the ``fig2`` experiment's result."""
    groups = [g for g in result["groups"] if g.get("convention") == convention]
    scales = _pick(sorted({g["scale"] for g in groups}), PAPER_SCALES)
    colors = palette([g["ratio"] for g in groups])
    fig = Figure(figsize=(4.4 * max(len(scales), 1), 4.0), layout="constrained")
    axes = fig.subplots(1, max(len(scales), 1), squeeze=False, sharey=True)[0]
    floors = sorted({g["arm"] for g in groups if g["arm"] in FLOOR_STYLES})
    for ax, s in zip(axes, scales, strict=False):
        drawn = 0
        for g in sorted((g for g in groups if g["scale"] == s), key=lambda g: g["ratio"]):
            if g["arm"] in MAIN_ARMS:
                drawn += _curve(ax, g.get("curve"), color=colors[g["ratio"]], lw=1.6)
            elif g["arm"] in FLOOR_STYLES:
                drawn += _curve(ax, g.get("curve"), color=colors[g["ratio"]], lw=1.0,
                                ls=FLOOR_STYLES[g["arm"]])
        ax.set_title(f"input scale {s:g}", fontsize=10)
        _finish(ax, drawn)
    _legend(fig, axes[0], colors, floors, "CNN")
    floor_text = (" and ".join(f"{a} ({FLOOR_STYLES[a]})" for a in floors)
                  if floors else "none in this run")
    fig.suptitle("Figure 2 (redrawn): adversarial loss along trajectories from certified "
                 f"local maxima, {convention} steps", fontsize=11)
    caption = (f"The mean natural log of the cross-entropy over the certified starts along "
               f"{result.get('budget', '?')} {convention} PGD steps, per input scale and "
               "ratio, as the share of its own rise covered (0 at the maximum; a curve "
               "crosses ½ where the claims' escape time is). Solid: the CNN. Calibration "
               f"floor (one maximum; same images, ε, step rule and budget): {floor_text}. "
               "Escape is judged against that floor, not against the budget.")
    return Drawing("findings_figure2", fig, "Figure 2 redrawn with the floor", caption)


def _epochs(rows: Sequence[Mapping[str, Any]]) -> list[int]:
    epochs = sorted({int(r["epoch"]) for r in rows})
    if len(epochs) <= 3:
        return epochs
    return [epochs[0], epochs[len(epochs) // 2], epochs[-1]]


def figure3(result: Mapping[str, Any]) -> Drawing:
    """Figure 3 redrawn (module docstring) from the ``at_scale`` experiment's result: the
    paper's row (the smallest input scale) on top, and below it the same panels at every other
    scale of the run."""
    escape = list(result.get("escape") or [])
    scales = sorted({r["scale"] for r in escape})
    epochs = _epochs(escape)
    rows, cols = max(len(scales), 1), max(len(epochs), 1)
    fig = Figure(figsize=(4.0 * cols, 2.9 * rows + 0.8), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False, sharex=True, sharey=True)
    arms = sorted({r["arm"] for r in escape})
    for i, scale in enumerate(scales):
        for j, epoch in enumerate(epochs):
            ax, drawn, main = axes[i, j], 0, 0
            for r in (r for r in escape if r["scale"] == scale and r["epoch"] == epoch):
                if r["arm"] in MAIN_ARMS:
                    if any(r.get("usable") or []):
                        main += _curve(ax, r.get("curve"), color="C0", lw=1.6)
                else:
                    drawn += _curve(ax, r.get("curve"), color="C0", lw=1.0,
                                    ls=FLOOR_STYLES.get(r["arm"], "-."))
            ax.set_title(f"input scale {scale:g}, epoch {epoch}", fontsize=10)
            _finish(ax, drawn + main)
            if drawn and not main:
                ax.text(0.97, 0.05, "CNN: no certified start", transform=ax.transAxes,
                        ha="right", va="bottom", color="0.3", fontsize=8)
            ax.set_xlabel("attack step" if i == rows - 1 else "")
            ax.set_ylabel("share of the rise of log ℓ covered" if j == 0 else "")
    _legend(fig, axes[0, 0], None, [a for a in arms if a in FLOOR_STYLES], "CNN")
    fig.suptitle("Figure 3 (redrawn): trajectories from certified local maxima during "
                 "adversarial training (top row: the paper's scale)", fontsize=11)
    caption = (f"Input scales {', '.join(f'{s:g}' for s in scales)} (rows; the paper's "
               f"Figure 3 is the top row), probe epochs {epochs} (columns): the mean log ℓ "
               f"over the certified starts along {result.get('budget', '?')} normalised PGD "
               "steps, as the share of its own rise covered. Solid: the CNN at its selected "
               "learning rate (first seed; a panel says so where no start was certified); "
               "dashed: the affine model trained the same way (the calibration floor)"
               + ("; dotted: the CNN linearised in its input at each image (one maximum: the "
                  "negative control)" if "linearised" in arms else "") + ".")
    return Drawing("findings_figure3", fig, "Figure 3 redrawn with the floor", caption)
