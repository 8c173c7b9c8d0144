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
  one panel per probe epoch (first, middle, last) at the smallest input scale; the mean
  ``log ℓ`` along the attack where the result holds it, else the Kaplan–Meier curve of the
  escape time; solid the CNN, dashed the affine arm.

Drawing only: every curve is a number of the result.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from advdyn.plots.drawing import Drawing

#: The paper's input scales of Figure 2.
PAPER_SCALES = (0.1, 10.0, 1000.0)
#: Arms of a single maximum (the calibration floor) and how they are drawn.
FLOOR_STYLES = {"affine": "--", "linearised": ":"}
MAIN_ARMS = ("plain", "cnn")


def _colors(values: Sequence[float]) -> dict[float, Any]:
    cmap, ordered = colormaps["viridis"], sorted(set(values))
    return {v: cmap(0.9 * i / max(len(ordered) - 1, 1)) for i, v in enumerate(ordered)}


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


def _curve(ax: Axes, y: Any, **style: Any) -> bool:
    y = np.asarray(y if y is not None else [], dtype=float)
    if not y.size or not np.isfinite(y).any():
        return False
    ax.plot(np.arange(y.size), y, **style)
    return True


def _finish(ax: Axes, drawn: int, ylabel: str) -> None:
    ax.set_xlabel("attack step")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    if drawn:
        ax.legend(fontsize=7, loc="best", framealpha=0.9)
    else:
        ax.text(0.5, 0.5, "no certified start", transform=ax.transAxes, ha="center",
                va="center", color="0.4")


def figure2(result: Mapping[str, Any], convention: str = "normalized") -> Drawing:
    """Figure 2 redrawn (module docstring) from the ``fig2`` experiment's result."""
    groups = [g for g in result["groups"] if g.get("convention") == convention]
    scales = _pick(sorted({g["scale"] for g in groups}), PAPER_SCALES)
    colors = _colors([g["ratio"] for g in groups])
    fig = Figure(figsize=(4.4 * max(len(scales), 1), 3.6), layout="constrained")
    axes = fig.subplots(1, max(len(scales), 1), squeeze=False)[0]
    floors = sorted({g["arm"] for g in groups if g["arm"] in FLOOR_STYLES})
    for ax, s in zip(axes, scales, strict=False):
        drawn = 0
        for g in sorted((g for g in groups if g["scale"] == s), key=lambda g: g["ratio"]):
            if g["arm"] in MAIN_ARMS:
                drawn += _curve(ax, g.get("curve"), color=colors[g["ratio"]], lw=1.6,
                                label=f"r = {g['ratio']:g} (CNN)")
            elif g["arm"] in FLOOR_STYLES:
                drawn += _curve(ax, g.get("curve"), color=colors[g["ratio"]], lw=1.0,
                                ls=FLOOR_STYLES[g["arm"]], label=f"r = {g['ratio']:g} "
                                f"({g['arm']} floor)")
        ax.set_title(f"input scale {s:g}", fontsize=10)
        _finish(ax, drawn, "mean log ℓ along the attack")
    floor_text = (" and " .join(f"{a} ({FLOOR_STYLES[a]})" for a in floors)
                  if floors else "none in this run")
    fig.suptitle("Figure 2 (redrawn): adversarial loss along trajectories from certified "
                 f"local maxima, {convention} steps", fontsize=11)
    caption = (f"Mean natural log of the cross-entropy over the certified starts along "
               f"{result.get('budget', '?')} {convention} PGD steps, per input scale and "
               f"ratio. Solid: the CNN. Calibration floor (a single maximum, same images, ε, "
               f"step rule and budget): {floor_text}. Escape is judged against that floor, "
               "not against the budget.")
    return Drawing("findings_figure2", fig, "Figure 2 redrawn with the floor", caption)


def _epochs(rows: Sequence[Mapping[str, Any]]) -> list[int]:
    epochs = sorted({int(r["epoch"]) for r in rows})
    if len(epochs) <= 3:
        return epochs
    return [epochs[0], epochs[len(epochs) // 2], epochs[-1]]


def figure3(result: Mapping[str, Any]) -> Drawing:
    """Figure 3 redrawn (module docstring) from the ``at_scale`` experiment's result."""
    escape = list(result.get("escape") or [])
    scale = min((r["scale"] for r in escape), default=float("nan"))
    mine = [r for r in escape if r["scale"] == scale]
    epochs = _epochs(mine)
    with_loss = any(r.get("curve") is not None for r in mine)
    fig = Figure(figsize=(4.4 * max(len(epochs), 1), 3.6), layout="constrained")
    axes = fig.subplots(1, max(len(epochs), 1), squeeze=False)[0]
    colors = {"plain": "C0", "affine": "C3"}
    for ax, epoch in zip(axes, epochs, strict=False):
        drawn = 0
        for r in sorted((r for r in mine if r["epoch"] == epoch), key=lambda r: r["arm"]):
            name = "CNN" if r["arm"] == "plain" else f"{r['arm']} floor"
            style = {"color": colors.get(r["arm"], "0.3"), "lw": 1.6 if r["arm"] == "plain"
                     else 1.0, "ls": "-" if r["arm"] == "plain" else "--"}
            if with_loss:
                drawn += _curve(ax, r.get("curve"), label=name, **style)
            elif r["km"]["n"]:
                ax.step(np.arange(len(r["km"]["curve"])), r["km"]["curve"], where="post",
                        label=f"{name}: {r['km']['n']} starts", **style)
                drawn += 1
        ax.set_title(f"epoch {epoch}, input scale {scale:g}", fontsize=10)
        _finish(ax, drawn, "mean log ℓ along the attack" if with_loss
                else "fraction not yet escaped")
    fig.suptitle("Figure 3 (redrawn): trajectories from certified local maxima during "
                 "adversarial training", fontsize=11)
    what = ("the mean log ℓ over the certified starts" if with_loss
            else "the Kaplan–Meier fraction of certified starts not yet escaped")
    caption = (f"At input scale {scale:g} (the smallest of the run), epochs {epochs}: {what} "
               f"along {result.get('budget', '?')} normalised PGD steps. Solid: the CNN at "
               "its selected learning rate (first seed); dashed: the affine model trained the "
               "same way (the calibration floor).")
    return Drawing("findings_figure3", fig, "Figure 3 redrawn with the floor", caption)
