"""The generic summary figure of a sweep: each numeric result against the grid's parameters
(drawing only; the runner saves it)."""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any, TypeGuard

from matplotlib.figure import Figure

MAX_PANELS = 6
MAX_LINES = 8


def _is_number(v: Any) -> TypeGuard[float]:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def plottable(rows: list[dict[str, Any]], candidates: list[str]) -> list[str]:
    """The ``candidates`` that hold a finite number in every row and are not constant."""
    out = []
    for name in candidates:
        values = [row.get(name) for row in rows]
        if all(_is_number(v) and math.isfinite(v) for v in values) and len(set(values)) > 1:
            out.append(name)
    return out


def sweep_summary(rows: list[dict[str, Any]], swept: list[str], results: list[str],
                  title: str = "sweep") -> Figure:
    """Up to six varying numeric ``results`` columns against the first grid parameter, one
    line per value of the second (mean over the other parameters, bars: min to max)."""
    metrics = plottable(rows, results)[:MAX_PANELS]
    x_name = swept[0]
    hue = swept[1] if len(swept) > 1 else None
    x_values = list(dict.fromkeys(row[x_name] for row in rows))
    numeric_x = all(_is_number(v) for v in x_values)
    if numeric_x:
        x_values.sort()
    hues = list(dict.fromkeys(row[hue] for row in rows)) if hue else [None]
    if len(hues) > MAX_LINES:
        hue, hues = None, [None]
    n = max(len(metrics), 1)
    cols = min(n, 3)
    fig = Figure(figsize=(4.2 * cols, 3.3 * math.ceil(n / cols)))
    axes = fig.subplots(math.ceil(n / cols), cols, squeeze=False)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    if not metrics:
        axes[0, 0].text(0.5, 0.5, "no varying numeric result to plot", ha="center",
                        va="center", transform=axes[0, 0].transAxes)
        axes[0, 0].set_axis_off()
    for ax, metric in zip(axes.flat, metrics, strict=False):
        for h in hues:
            groups: dict[Any, list[float]] = defaultdict(list)
            for row in rows:
                if hue is None or row[hue] == h:
                    groups[row[x_name]].append(float(row[metric]))
            xs = [x for x in x_values if x in groups]
            pos = xs if numeric_x else [x_values.index(x) for x in xs]
            mean = [sum(groups[x]) / len(groups[x]) for x in xs]
            lo = [max(0.0, m - min(groups[x])) for m, x in zip(mean, xs, strict=True)]
            hi = [max(0.0, max(groups[x]) - m) for m, x in zip(mean, xs, strict=True)]
            ax.errorbar(pos, mean, yerr=[lo, hi], marker="o", capsize=3,
                        label=None if h is None else f"{hue}={h}")
        if numeric_x and min(x_values) > 0 and max(x_values) / min(x_values) >= 100:
            ax.set_xscale("log")
        if not numeric_x:
            ax.set_xticks(range(len(x_values)), [str(v) for v in x_values])
        ax.set_xlabel(x_name)
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
        if hue is not None:
            ax.legend(fontsize="small")
    fig.suptitle(title + (" (mean over the other parameters; bars: min to max)"
                          if len(swept) > (2 if hue else 1) else ""), fontsize="medium")
    fig.tight_layout()
    return fig
