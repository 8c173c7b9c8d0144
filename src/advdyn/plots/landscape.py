r"""Disk landscapes: ``L(δ) = -ℓ`` over ``B(0, ε)`` in coordinates ``δ/ε``, with the circle, the
critical points of L on it and PGD trajectories; and the grid of such panels of Figure 1.

Drawing only: every number comes from :mod:`advdyn.experiments.fig1` (or any caller that has
computed a grid of L, critical points and trajectories). Figures are built on
:class:`matplotlib.figure.Figure` directly (no pyplot state); the runner saves them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from matplotlib import colors, patheffects, rc_context, ticker
from matplotlib.axes import Axes
from matplotlib.cm import ScalarMappable
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from advdyn.plots.drawing import Drawing

if TYPE_CHECKING:
    from matplotlib.typing import RcKeyType

LOG_DECADES = 2.0   # -L spanning at least this many decades gets a log colour scale
LOG_FLOOR = 1e-8    # log colour scales are clipped at this fraction of max |L|
MIN_STYLE: dict[str, Any] = {"marker": "v", "color": "#e4002b", "markeredgecolor": "white",
                             "markersize": 11, "markeredgewidth": 1.2, "linestyle": "none"}
MAX_STYLE: dict[str, Any] = {"marker": "^", "color": "white", "markeredgecolor": "black",
                             "markersize": 11, "markeredgewidth": 1.2, "linestyle": "none"}
FONTS: dict[RcKeyType, Any] = {"font.size": 12, "axes.titlesize": 13, "axes.labelsize": 12}
TRAJ_STYLE: dict[str, Any] = {
    "color": "white", "linewidth": 1.3,
    "path_effects": [patheffects.withStroke(linewidth=2.6, foreground="black")]}


def disk_norm(L: np.ndarray, levels: int = 32) -> tuple[colors.Normalize, np.ndarray, bool]:
    r"""Colour normalisation and contour levels for the finite values of ``L``.

    When ``L < 0`` throughout and ``-L`` spans at least :data:`LOG_DECADES` decades, the colour
    is logarithmic in ``-L`` (clipped at ``LOG_FLOOR·max|L|``; levels ``-10^k``), so the colour
    still increases with L; otherwise linear. Returns ``(norm, levels, is_log)``.
    """
    v = L[np.isfinite(L)]
    lo, hi = float(v.min()), float(v.max())
    if hi < 0 and np.log10(lo / hi) >= LOG_DECADES:
        floor = max(-hi, LOG_FLOOR * -lo)

        def forward(x: np.ndarray) -> np.ndarray:
            return -np.log10(np.clip(-np.asarray(x, dtype=float), floor, None))

        def inverse(w: np.ndarray) -> np.ndarray:
            return -np.power(10.0, -np.asarray(w, dtype=float))

        norm = colors.FuncNorm((forward, inverse), vmin=lo, vmax=-floor)
        return norm, -np.logspace(np.log10(-lo), np.log10(floor), levels), True
    if hi == lo:
        hi = lo + max(abs(lo), 1.0) * 1e-12
    return colors.Normalize(lo, hi), np.linspace(lo, hi, levels), False


def draw_disk_panel(ax: Axes, axis: np.ndarray, L: np.ndarray, *,
                    minima: np.ndarray | Sequence = (), maxima: np.ndarray | Sequence = (),
                    trajectories: Sequence[np.ndarray] = (), title: str = "",
                    cmap: str = "viridis", colorbar: bool = True) -> ScalarMappable:
    r"""One disk panel on ``ax``.

    ``axis`` ``(n,)`` grid coordinates of ``δ/ε``; ``L`` ``(n, n)`` with ``L[i, j]`` at
    ``(axis[j], axis[i])`` and NaN outside the disk (filled contour, colour per
    :func:`disk_norm`). ``minima``/``maxima`` ``(k, 2)``: local minima / maxima of L on the
    circle in ``δ/ε``. ``trajectories``: arrays ``(T_i, 2)`` in ``δ/ε``, each drawn from its start
    (small dot) to its last point (cross). With ``colorbar`` the panel gets its own colour bar,
    labelled ``L(δ) = -ℓ`` (and ``log colour`` where the scale is logarithmic).
    """
    norm, levels, is_log = disk_norm(L)
    cs = ax.contourf(axis, axis, L, levels=levels, norm=norm, cmap=cmap,
                     extend="max" if is_log else "neither")
    t = np.linspace(0, 2 * np.pi, 400)
    ax.plot(np.cos(t), np.sin(t), color="black", linewidth=1.6)
    for path in trajectories:
        path = np.asarray(path)
        ax.plot(path[:, 0], path[:, 1], **TRAJ_STYLE)
        ax.plot(path[:1, 0], path[:1, 1], "o", color="white", markeredgecolor="black",
                markersize=4.5)
        ax.plot(path[-1:, 0], path[-1:, 1], "X", color="#ffb000", markeredgecolor="black",
                markersize=8)
    for pts, style in ((minima, MIN_STYLE), (maxima, MAX_STYLE)):
        pts = np.asarray(pts, dtype=float).reshape(-1, 2)
        if pts.size:
            ax.plot(pts[:, 0], pts[:, 1], clip_on=False, zorder=5, **style)
    ax.set_xlim(-1.12, 1.12)
    ax.set_ylim(-1.12, 1.12)
    ax.set_aspect("equal")
    ax.set_xlabel(r"$\delta_1/\varepsilon$")
    ax.set_ylabel(r"$\delta_2/\varepsilon$")
    if title:
        ax.set_title(title)
    if colorbar:
        cb = ax.figure.colorbar(cs, ax=ax, fraction=0.046, pad=0.03)
        cb.set_label(r"$L(\delta) = -\ell$" + (" (log colour)" if is_log else ""))
        if not is_log:
            ticks = ticker.MaxNLocator(5).tick_values(levels[0], levels[-1])
            cb.set_ticks(ticks[(ticks >= levels[0]) & (ticks <= levels[-1])].tolist())
        else:
            k = np.arange(np.ceil(np.log10(-levels[-1])), np.floor(np.log10(-levels[0])) + 1)
            step = max(1, int(np.ceil(k.size / 6)))
            log_ticks = -np.power(10.0, k[::-1][::step])
            cb.set_ticks(log_ticks.tolist(),
                         labels=[f"$-10^{{{int(np.log10(-v))}}}$" for v in log_ticks])
    return cs


def legend_handles() -> list[Line2D]:
    """Legend entries for the markers of :func:`draw_disk_panel`."""
    return [Line2D([], [], label="local minimum of L on the circle (good adversary)",
                   **MIN_STYLE),
            Line2D([], [], label="local maximum of L on the circle (attack weakest)",
                   **MAX_STYLE),
            Line2D([], [], label="PGD trajectory (descent on L) from a uniform start",
                   **TRAJ_STYLE),
            Line2D([], [], marker="X", color="#ffb000", markeredgecolor="black",
                   linestyle="none", markersize=8, label="trajectory end (settled or budget)")]


def fig1_figure(results: Mapping[str, Any]) -> Figure:
    """The grid of Figure 1 from :func:`advdyn.experiments.fig1.run_fig1`'s results: one row per
    input scale, one column per ratio; each trajectory drawn up to the step it settled at (or
    its whole budget); a colour bar per panel."""
    cfg, panels = results["config"], results["panels"]
    scales, ratios = list(cfg["scales"]), list(cfg["ratios"])
    traj, owner = np.asarray(results["trajectories"]), np.asarray(results["trajectory_panel"])
    with rc_context(FONTS):
        return _fig1_grid(results, cfg, panels, scales, ratios, traj, owner)


def _fig1_grid(results: Mapping[str, Any], cfg: dict[str, Any], panels: list[dict],
               scales: list[float], ratios: list[float], traj: np.ndarray, owner: np.ndarray
               ) -> Figure:
    nr, nc = len(scales), len(ratios)
    fig = Figure(figsize=(5.6 * nc + 0.6, 5.0 * nr + 1.8), layout="constrained")
    axes = fig.subplots(nr, nc, squeeze=False)
    for p, panel in enumerate(panels):
        ax = axes[scales.index(panel["scale"]), ratios.index(panel["ratio"])]
        paths = []
        for row, t_end in zip(np.flatnonzero(owner == p), panel["steps"], strict=True):
            paths.append(traj[: (traj.shape[0] if t_end is None else t_end + 1), row])
        med = panel["median_steps"]
        title = (f"scale {panel['scale']:g}, ratio {panel['ratio']:g} (ε = {panel['eps']:.3g})\n"
                 f"{panel['minima']} min, {panel['maxima']} max of L; median steps "
                 f"{'–' if med is None else f'{med:g}'} ({panel['settled']}/"
                 f"{panel['trajectories']} settled"
                 + (f", {panel['saturated_starts']} never moved" if panel["saturated_starts"]
                    else "") + ")")
        draw_disk_panel(ax, np.asarray(results["grid_axis"]), np.asarray(results["grid_L"])[p],
                        minima=panel["minima_delta_over_eps"],
                        maxima=panel["maxima_delta_over_eps"], trajectories=paths, title=title)
    rule = ("normalised PGD, step ρε" if cfg["rule"] == "normalized" else "raw PGD, η = ρε²")
    fig.suptitle(f"L(δ) = -ℓ(y, f(x+δ)) over the disk B(0, ε), coordinates δ/ε (simulated, d = 2, "
                 f"Xavier two-layer net, m = {cfg['width']}, {cfg['loss']} loss, label "
                 f"{cfg['label']:g})\n{rule}, ρ = {cfg['rho']:g}, from uniform starts; settled = "
                 f"stays within min({cfg['tol']:g}ε, half the gap to the nearest other critical "
                 "point) of a local minimum of L on the circle\n"
                 "colour scale per panel (own colour bar): dark = low L = strong attack",
                 fontsize=14)
    fig.legend(handles=legend_handles(), loc="outside lower center", ncol=2, fontsize=12,
               facecolor="#bbbbbb")
    return fig


def draw(result: Mapping[str, Any], records: Sequence[Any]) -> list[Drawing]:
    """Figure 1's picture from the ``fig1`` experiment's result (``records`` are not drawn)."""
    cfg = result["config"]
    rule = "normalised steps ρε" if cfg["rule"] == "normalized" else "raw steps η = ρε²"
    caption = (
        f"One panel per input scale (rows: {', '.join(f'{s:g}' for s in cfg['scales'])}) and "
        f"ratio (columns: {', '.join(f'{r:g}' for r in cfg['ratios'])}, ε = ratio·scale): "
        "L = -ℓ over the disk B(0, ε) in coordinates δ/ε, each panel with its own colour scale "
        "(dark = low L = strong attack); red ▼: local minima of L on the circle (good "
        "adversaries); white ▲: local maxima (where the attack is weakest); white lines: PGD "
        f"descent on L ({rule}, ρ = {cfg['rho']:g}) from uniform starts, drawn until they "
        "settle. Look for: one minimum and nearly straight runs to it in the top row at every "
        "ratio; several minima, runs ending at different minima, at the bottom right.")
    return [Drawing("fig1", fig1_figure(result), caption=caption,
                    title="Landscapes of L and PGD trajectories per scale and ratio")]
