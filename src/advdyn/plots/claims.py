"""Figures of the claim experiments (:mod:`advdyn.experiments.claims`): they only draw a result.

:func:`claim_figure` dispatches on the claim id; :func:`save_figure` writes PNG and PDF.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

from advdyn.atomic import write_with
from advdyn.plots.threshold import threshold_figure

TYPE_COLORS = {"minimum": "tab:blue", "maximum": "tab:red", "saddle": "tab:green",
               "degenerate": "tab:gray"}


def _title(fig: Figure, res: dict[str, Any]) -> None:
    v = res["verdict"]
    fig.suptitle(f"{res['claim']}: {v['statement']}\nverdict: {v['verdict']} "
                 f"(in the paper's regime: {v['in_regime']})", fontsize=10)


def _l41(res: dict[str, Any]) -> Figure:
    f = res["figure"]
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4.2), constrained_layout=True)
    for i, scale in enumerate(f["scales"]):
        tag = f"‖x‖ = {scale:g}" + ("" if f["in_regime"][i] else " (outside regime)")
        line, = a.plot(f["eta"][i], f["q01"][i], "o-", label=f"{tag}: 1% quantile")
        a.plot(f["eta"][i], f["median"][i], "s--", color=line.get_color(), alpha=0.6,
               label=f"{tag}: median")
        b.plot(f["eta"][i], f["frac"][i], "o-", color=line.get_color(), label=tag)
    a.set(xscale="log", yscale="log", xlabel="step size η (raw rule)",
          ylabel="decrease of L per interior step / η,  -ΔL/η",
          title="Ω(η): -ΔL/η bounded below as η → 0")
    b.set(xscale="log", xlabel="step size η (raw rule)", ylim=(-0.05, 1.05),
          ylabel="fraction of interior steps with ΔL < 0", title="steps inside the open ball")
    for ax in (a, b):
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    _title(fig, res)
    return fig


def _l43(res: dict[str, Any]) -> Figure:
    f = res["figure"]
    fig, ax = plt.subplots(figsize=(7.5, 5), constrained_layout=True)
    scales = sorted(set(f["scale"]))
    cmap = plt.get_cmap("viridis")
    for i, (scale, alpha, ratio, inside) in enumerate(zip(f["scale"], f["alpha"], f["ratio"],
                                                          f["in_regime"], strict=True)):
        k = scales.index(scale)
        first = all(f["scale"][j] != scale for j in range(i))
        ax.scatter(alpha, ratio, s=5, color=cmap(k / max(1, len(scales) - 1)), alpha=0.5,
                   label=(f"‖x‖ = {scale:g}" + ("" if inside else " (outside regime)"))
                   if first else None)
    a = np.linspace(-0.999, 0.999, 400)
    ax.plot(a, 2 * np.sqrt(1 - a * a), "k-", lw=1,
            label="2·sqrt(1-α²): the bound with β = |α| (|ℓ'| ≥ 2L)")
    ax.plot(a, np.sqrt(1 - a * a), "k--", lw=1, label="sqrt(1-α²): the lemma's bound, β = |α|")
    ax.set(yscale="log", xlabel="α = cos∠[-∇L, δ]  (+1: near a minimum of L, -1: near a maximum)",
           ylabel="‖Γ‖ / (‖∇f‖·L̂)", title="tangent gradient at uniform sphere points")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, markerscale=3)
    _title(fig, res)
    return fig


def _l44(res: dict[str, Any]) -> Figure:
    f = res["figure"]
    fig, (a, b) = plt.subplots(1, 2, figsize=(11.5, 4.5), constrained_layout=True)
    for kind, style in (("minima", "o-"), ("maxima", "s-"), ("saddles", "^-"),
                        ("degenerate", "x:")):
        a.plot(f["eps"], f["mean_counts"][kind], style, label=kind + " of L",
               color=TYPE_COLORS[{"minima": "minimum", "maxima": "maximum",
                                  "saddles": "saddle"}.get(kind, "degenerate")])
    a.set(xscale="log", xlabel="radius ε", ylabel="critical points on the sphere (mean over seeds)",
          title="census of critical points as ε grows")
    a.grid(True, which="both", alpha=0.3)
    a.legend(fontsize=8)
    p = f["points"]
    for side in (1, -1):
        idx = [i for i, a in enumerate(p["alpha"]) if (a > 0) == (side > 0)]
        for rank, i in enumerate(idx):
            x = side * (0.1 + 0.85 * (rank + 0.5) / len(idx))
            s = max(abs(p["mu_min"][i]), abs(p["mu_max"][i])) or 1.0
            lo, hi = p["mu_min"][i] / s, p["mu_max"][i] / s
            color = TYPE_COLORS[p["type"][i]]
            b.plot([x, x], [lo, hi], color=color, lw=1.5)
            b.scatter([x, x], [lo, hi], color=color, s=10)
    for kind, color in TYPE_COLORS.items():
        if kind in p["type"]:
            b.plot([], [], color=color, lw=2, label=kind)
    b.axhline(0, color="k", lw=0.8)
    b.axvline(0, color="k", lw=0.8)
    b.set_xticks([-0.5, 0.5], ["α < 0 (-∇L points inward)", "α > 0 (-∇L points outward)"])
    b.set(xlim=(-1.05, 1.05), ylim=(-1.1, 1.1),
          ylabel="tangent eigenvalues of Ξ, [min, max] / max|μ|",
          title="sign rule: α > 0 ⇒ all μ > 0 (min), α < 0 ⇒ all μ < 0 (max)")
    b.grid(True, alpha=0.3)
    b.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=4)
    _title(fig, res)
    return fig


def _l45(res: dict[str, Any]) -> Figure:
    f = res["figure"]
    fig, (a, b) = plt.subplots(1, 2, figsize=(12, 4.8), constrained_layout=True)
    lhs = [v if v is not None else np.nan for v in f["cond6_lhs"]]
    a.barh(range(len(lhs)), lhs, color=["tab:blue" if v <= math.pi / 4 else "tab:orange"
                                         for v in lhs])
    a.axvline(math.pi / 4, color="k", ls="--", label="π/4")
    a.set_yticks(range(len(lhs)), f["cond6_label"], fontsize=6)
    a.set(xlabel="left side of (6): angle spread of ∇f + arccos(...)  [rad]",
          title="condition (6) per setting (blue: holds)")
    a.legend(fontsize=8)
    cmap = plt.get_cmap("tab10")
    for k, (label, traj) in enumerate(zip(f["label"], f["alpha"], strict=True)):
        for j, row in enumerate(traj):
            b.plot(row, color=cmap(k % 10), lw=0.7, alpha=0.7, label=label if j == 0 else None)
    b.set(xlabel="PGD step t", ylabel="α_t = cos∠[-∇L, δ_t] (on the sphere only)",
          ylim=(-1.05, 1.05), title="trajectories (first seed); Δ⁺ near +1, Δ⁻ near -1")
    b.grid(True, alpha=0.3)
    b.legend(fontsize=7)
    _title(fig, res)
    return fig


def _g(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.3g}"


def _t31(res: dict[str, Any]) -> Figure:
    f = res["figure"]
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4.2), constrained_layout=True)
    eta = np.array(f["eta"])
    for key, style, label in (("t_gamma", "o", f"to ‖Γ‖ ≤ √η (slope {_g(f['slope_t_gamma'])})"),
                              ("t_tol", "s", f"to within tol·ε (slope {_g(f['slope_t_tol'])})")):
        a.scatter(eta, f[key], marker=style, label=label)
    ref = np.nanmax(np.array(f["t_gamma"], dtype=float))
    grid = np.geomspace(eta.min(), eta.max(), 20)
    a.plot(grid, ref * (grid / eta.max()) ** -2, "k--", lw=1, label="∝ η^-2 (the bound)")
    a.set(xscale="log", yscale="log", xlabel="step size η", ylabel="PGD steps (median)",
          title="iterations to the output")
    b.scatter(eta, np.array(f["dist_gamma"], dtype=float) / f["eps"],
              label=f"distance at ‖Γ‖ ≤ √η (slope {_g(f['slope_dist_gamma'])})")
    d0 = np.nanmax(np.array(f["dist_gamma"], dtype=float)) / f["eps"]
    b.plot(grid, d0 * (grid / eta.max()) ** 0.5, "k--", lw=1, label="∝ η^1/2 (the bound)")
    b.set(xscale="log", yscale="log", xlabel="step size η",
          ylabel="distance to the nearest local minimum / ε", title="closeness of the output")
    for ax in (a, b):
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    _title(fig, res)
    return fig


def _c31(res: dict[str, Any]) -> Figure:
    f = res["figure"]
    fig, ax = plt.subplots(figsize=(7.5, 5), constrained_layout=True)
    for c in f["curves"]:
        ax.plot(c["z_plus_s"], c["D"], lw=1, label=f"seed {c['seed']}, run {c['row']}")
    if f["curves"]:
        c = f["curves"][0]
        x = np.array(c["z_plus_s"])
        ax.plot(x, c["D"][0] * x[0] / x, "k--", lw=1, label="∝ 1/(z+s) (the bound)")
    ax.set(xscale="log", yscale="log", xlabel="z + s  (s: steps after switching to η_s)",
           ylabel="D_s / ε² = ‖δ_s - δ*‖² / ε²", title="shrinking step η_s = 2/(β(s+z))")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    _title(fig, res)
    return fig


def _t51(res: dict[str, Any]) -> Figure:
    fig = threshold_figure(res["figure"]["summary"], res["figure"]["base"])
    _title(fig, res)
    return fig


FIGURES: dict[str, Callable[[dict[str, Any]], Figure]] = {
    "L4.1": _l41, "L4.3": _l43, "L4.4": _l44, "L4.5": _l45, "T3.1": _t31, "C3.1": _c31,
    "T5.1": _t51}


def claim_figure(res: dict[str, Any]) -> Figure:
    """The figure of a claim experiment's result."""
    return FIGURES[res["claim"]](res)


def save_figure(fig: Figure, base: str | Path) -> list[Path]:
    """Write ``base.png`` (150 dpi) and ``base.pdf`` atomically; close the figure."""
    out = []
    for ext in ("png", "pdf"):
        path = Path(f"{base}.{ext}")
        write_with(path, partial(fig.savefig, format=ext, dpi=150))
        out.append(path)
    plt.close(fig)
    return out
