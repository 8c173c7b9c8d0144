r"""Figures 2 and 3: the adversarial loss ℓ along attacks started at local maxima of L.

Drawing only: every number comes from :func:`advdyn.experiments.escape.summarize` (per-step mean
and quartiles of ℓ and of the progress ``(ℓ_t - ℓ_0)/(max ℓ - ℓ_0)``, steps to escape) and the
claim verdicts computed there. One column per panel (an input scale for Figure 2, a checkpoint
epoch for Figure 3); top row ℓ, bottom row the progress with the escape threshold.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib import colormaps, rc_context
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from advdyn.plots.landscape import FONTS

LOG_DECADES = 1.0  # ℓ spanning more than this many decades in a panel gets a log axis
LOG_FLOOR = 1e-12  # on a log axis, smaller ℓ (e.g. an exactly saturated softmax) is drawn here
TITLE_WIDTH = 44   # characters per panel-title line (a 5.2-inch column)


def _ell_axis(ax: Axes, curves: Sequence[Mapping[str, Any]]) -> None:
    values = np.concatenate([np.asarray(c["curve"][k], dtype=float) for c in curves
                             for k in ("ell_mean", "ell_q25", "ell_q75")])
    top = float(values.max())
    positive = values[values > 0]
    low = float(positive.min()) if positive.size else top
    if top > 0 and np.log10(top / max(low, LOG_FLOOR * top)) > LOG_DECADES:
        ax.set_yscale("log")
        ax.set_ylim(bottom=max(low, LOG_FLOOR * top) / 2)
        ax.set_ylabel("adversarial loss ℓ (log)")
    else:
        ax.set_ylabel("adversarial loss ℓ")


def _panel(top: Axes, bottom: Axes, curves: Sequence[Mapping[str, Any]], fraction: float,
           title: str, verdict: str, colors: Sequence[Any]) -> None:
    for c, color in zip(curves, colors, strict=True):
        t = np.arange(len(c["curve"]["ell_mean"]))
        ste = c["steps_to_escape"]
        label = f"r = {c['ratio']:g}: {ste['mean']:.1f} ± {ste['std']:.1f} steps"
        notes = [f"{ste['censored']}/{c['images']} no rise"] if ste["censored"] else []
        if c["ascent"]["saturated"]:
            notes.append(f"{c['ascent']['saturated']} with ℓ = 0 at the max")
        if notes:
            label += f" ({'; '.join(notes)})"
        floor = LOG_FLOOR * max(float(np.max(c["curve"]["ell_q75"])), LOG_FLOOR)
        top.plot(t, np.maximum(c["curve"]["ell_mean"], floor), color=color, lw=1.6)
        top.fill_between(t, np.maximum(c["curve"]["ell_q25"], floor),
                         np.maximum(c["curve"]["ell_q75"], floor), color=color, alpha=0.2,
                         lw=0)
        bottom.plot(t, c["curve"]["progress_mean"], color=color, lw=1.6, label=label)
        bottom.fill_between(t, c["curve"]["progress_q25"], c["curve"]["progress_q75"],
                            color=color, alpha=0.2, lw=0)
        bottom.plot([ste["mean"]], [fraction], "o", color=color, ms=6, mec="black", mew=0.6)
    _ell_axis(top, curves)
    top.set_title("\n".join([*textwrap.wrap(title, TITLE_WIDTH), f"claim: {verdict}"]))
    bottom.axhline(fraction, color="0.4", lw=0.8, ls="--")
    bottom.set_ylim(-0.05, 1.05)
    bottom.set_xlabel("attack step t (PGD descent on L = -ℓ)")
    bottom.set_ylabel("(ℓ_t - ℓ_0) / (max ℓ - ℓ_0)")
    bottom.legend(fontsize=8.5, loc="lower right", title="ratio: steps to escape (mean ± sd)",
                  title_fontsize=8.5)
    for ax in (top, bottom):
        ax.grid(alpha=0.3)


def escape_figure(panels: Sequence[Mapping[str, Any]], fraction: float, suptitle: str,
                  footnote: str) -> Figure:
    """One column per panel; a panel is ``{"title", "verdict", "curves"}`` with ``curves`` the
    :func:`~advdyn.experiments.escape.summarize` dicts of its ratios."""
    ratios = sorted({c["ratio"] for p in panels for c in p["curves"]})
    cmap = colormaps["viridis"]
    palette = {r: cmap(0.9 * i / max(len(ratios) - 1, 1)) for i, r in enumerate(ratios)}
    with rc_context(FONTS):
        fig = Figure(figsize=(5.2 * len(panels), 8.4), layout="constrained")
        axes = fig.subplots(2, len(panels), squeeze=False, sharex="col")
        for k, p in enumerate(panels):
            curves = sorted(p["curves"], key=lambda c: c["ratio"])
            _panel(axes[0, k], axes[1, k], curves, fraction, p["title"], p["verdict"],
                   [palette[c["ratio"]] for c in curves])
        fig.suptitle(textwrap.fill(suptitle, width=TITLE_WIDTH * len(panels)), fontsize=13)
        fig.supxlabel(textwrap.fill(footnote, width=55 * len(panels)), fontsize=9)
    return fig

