r"""Heatmaps of the input-scale × ratio phase diagram (drawing only; the numbers come from
:mod:`advdyn.experiments.phase`).

:func:`draw`: the mean number of local minima of L on the sphere, and per step convention the
Kaplan–Meier median number of PGD steps to escape from a local maximum of L (read from the
§5.1 (escape) record). All on log axes (cells centred on the grid values), each with its own
colour bar, the value written in every cell (``*`` where some escape runs were censored), and
the boundary of the region where every seed has exactly one minimum drawn along the cell
edges.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from matplotlib import colors, rc_context, ticker
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from advdyn.plots.drawing import Drawing

if TYPE_CHECKING:
    from matplotlib.typing import RcKeyType

FONTS: dict[RcKeyType, Any] = {"font.size": 12, "axes.titlesize": 13, "axes.labelsize": 13}
BOUNDARY: dict[str, Any] = {"colors": "#ff2d2d", "linewidths": 3.2}


def log_edges(centres: np.ndarray) -> np.ndarray:
    """Cell edges on a log axis: geometric midpoints, the ends mirrored (one cell: ×/÷ √10)."""
    c = np.log10(np.asarray(centres, dtype=float))
    if c.size == 1:
        return 10 ** np.array([c[0] - 0.5, c[0] + 0.5])
    mid = (c[1:] + c[:-1]) / 2
    return 10 ** np.concatenate([[2 * c[0] - mid[0]], mid, [2 * c[-1] - mid[-1]]])


def region_boundary(mask: np.ndarray, x_edges: np.ndarray, y_edges: np.ndarray
                    ) -> list[list[tuple[float, float]]]:
    """The cell edges separating ``mask`` (rows: y, columns: x) from its complement, as
    segments; edges on the border of the grid are not drawn."""
    segs = []
    ny, nx = mask.shape
    for i in range(ny):
        for j in range(nx - 1):
            if mask[i, j] != mask[i, j + 1]:
                segs.append([(x_edges[j + 1], y_edges[i]), (x_edges[j + 1], y_edges[i + 1])])
    for i in range(ny - 1):
        for j in range(nx):
            if mask[i, j] != mask[i + 1, j]:
                segs.append([(x_edges[j], y_edges[i + 1]), (x_edges[j + 1], y_edges[i + 1])])
    return segs


def draw_heatmap(ax: Axes, scales: np.ndarray, ratios: np.ndarray, values: np.ndarray, *,
                 title: str, label: str, text: list[list[str]], one_min: np.ndarray,
                 cmap: str = "magma", log: bool = True) -> None:
    """One log-log heatmap (rows: input scale, columns: ratio) with cell texts, a colour bar
    (logarithmic with ``log``, else linear on [0, 1]) and the boundary of ``one_min``; NaN cells
    are left blank."""
    order_s, order_r = np.argsort(scales), np.argsort(ratios)
    v = values[order_s][:, order_r]
    xe, ye = log_edges(ratios[order_r]), log_edges(scales[order_s])
    finite = v[np.isfinite(v)]
    lo, hi = float(finite.min()), float(finite.max())
    norm = (colors.LogNorm(lo, hi if hi > lo else lo * 1.01) if log
            else colors.Normalize(0.0, 1.0))
    mesh = ax.pcolormesh(xe, ye, np.ma.masked_invalid(v), norm=norm, cmap=cmap)
    ax.set_xscale("log")
    ax.set_yscale("log")
    rgba = mesh.cmap(norm(np.where(np.isfinite(v), v, lo)))
    light = (rgba[..., :3] @ np.array([0.299, 0.587, 0.114])) > 0.55
    xc, yc = ratios[order_r], scales[order_s]
    small = 8 if max(v.shape) > 10 else 10
    for i, s_idx in enumerate(order_s):
        for j, r_idx in enumerate(order_r):
            ax.text(xc[j], yc[i], text[s_idx][r_idx], ha="center", va="center", fontsize=small,
                    color="black" if light[i, j] else "white")
    ax.add_collection(LineCollection(region_boundary(one_min[order_s][:, order_r], xe, ye),
                                     **BOUNDARY))
    ax.set_xlim(xe[0], xe[-1])
    ax.set_ylim(ye[0], ye[-1])
    ax.set_xlabel(r"ratio $r = \varepsilon/\|x\|$")
    ax.set_ylabel(r"input scale $\|x\|$")
    ax.set_title(title)
    cb = ax.figure.colorbar(mesh, ax=ax, fraction=0.046, pad=0.03)
    cb.set_label(label + (" (log colour)" if log else ""))
    if log:
        cb.ax.yaxis.set_major_locator(ticker.LogLocator(subs=(1.0, 1.5, 2.0, 3.0, 5.0, 7.0)))
        cb.ax.yaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
        cb.ax.yaxis.set_minor_formatter(ticker.NullFormatter())


def _grid(cells: Sequence[Mapping[str, Any]], scales: Sequence[float] | np.ndarray,
          ratios: Sequence[float] | np.ndarray, key: str) -> np.ndarray:
    """Cell records (``scale``, ``ratio``, ``key``) laid out as an ``(S, R)`` array (NaN for
    None)."""
    out = np.full((len(scales), len(ratios)), np.nan)
    for c in cells:
        v = c[key]
        out[list(scales).index(c["scale"]), list(ratios).index(c["ratio"])] = (
            np.nan if v is None else v)
    return out


def draw(result: Mapping[str, Any], records: Sequence[Any]) -> list[Drawing]:
    """Four heatmaps: the mean number of local minima of L (main arm) and, per step
    convention, the Kaplan–Meier median escape steps (from the §5.1 (escape) record)."""
    scales, ratios = np.asarray(result["scales"]), np.asarray(result["ratios"])
    main = result["arms"]["main"]
    one = np.asarray(main["frac_one_minimum"]) == 1.0
    escape = next((r for r in records if r.id == "s5.1-escape"), None)
    medians = escape.values.get("km_medians", {}) if escape is not None else {}
    with rc_context(FONTS):
        fig = Figure(figsize=(22, 17), layout="constrained")
        axes = fig.subplots(2, 2).ravel()
        mins = np.asarray(main["mean_minima"], dtype=float)
        draw_heatmap(axes[0], scales, ratios, mins, one_min=one, cmap="viridis",
                     title=f"mean number of local minima of L ({len(result['seeds'])} seeds)",
                     label="mean number of local minima of L",
                     text=[[f"{v:.3g}" for v in row] for row in mins])
        names = {"normalized": "normalised steps ρε", "raw-fixed": "raw steps, fixed η",
                 "raw-eps2": "raw steps, η ∝ ε²"}
        for ax, conv in zip(axes[1:], result["conventions"], strict=True):
            cells = medians.get(conv, [])
            med = _grid(cells, scales, ratios, "median")
            cens = _grid(cells, scales, ratios, "censored") > 0
            if not np.isfinite(med).any():
                ax.set_title(f"{names[conv]}: no cell with a median escape within "
                             f"{result['steps']} steps")
                ax.axis("off")
                continue
            draw_heatmap(ax, scales, ratios, med, one_min=one, cmap="magma",
                         title=f"{names[conv]}: Kaplan–Meier median steps to escape",
                         label="median steps to escape the maximum",
                         text=[["" if not np.isfinite(v) else ("*" if c else "") + f"{v:.0f}"
                                for v, c in zip(row, crow, strict=True)]
                               for row, crow in zip(med, cens, strict=True)])
        fig.suptitle("\n".join(f"{r.id}: {r.verdict} (control: {r.control['verdict']})"
                               for r in records), fontsize=14)
        fig.legend(handles=[Line2D([], [], color=BOUNDARY["colors"],
                                   linewidth=BOUNDARY["linewidths"],
                                   label="boundary of the region where every seed has exactly "
                                         "one local minimum")],
                   loc="outside lower center", fontsize=13)
    return [Drawing("phase", fig, "Phase diagram: local minima of L and escape steps",
                    "Heatmaps over input scale (rows) and ratio (columns), log axes. Top left: "
                    "mean number of local minima of L on the sphere; the red line bounds the "
                    "region where every seed has exactly one. Others: Kaplan–Meier median "
                    "steps from a kicked local maximum of L until the iterate stays near a "
                    "local minimum, per step convention (*: some runs censored at the budget; "
                    "blank: more than half censored). Look whether, up each column (growing "
                    "scale), minima and escape steps grow.")]
