"""The threshold τ_ε of Theorem 5.1 against width, dimension and input scale (one panel each);
``draw(result, records)`` for :mod:`advdyn.plots.registry`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from matplotlib.figure import Figure

from advdyn.plots.drawing import Drawing


def threshold_figure(summary: list[dict[str, Any]], base: dict[str, Any]) -> Figure:
    """Three panels, τ_ε (median over seeds, bar = min–max) against m, d and the input scale,
    each at the base values of the other two; the dashed line is the regime bound (log m)^-2."""
    fig = Figure(figsize=(13, 4.4), layout="constrained")
    axes = fig.subplots(1, 3)
    axes_spec = [("width", "width m", "width", ("dim", "scale")),
                 ("dim", "dimension d", "dimension", ("width", "scale")),
                 ("scale", "input scale ‖x‖", "input scale", ("dim", "width"))]
    for i, (ax, (key, label, name, fixed)) in enumerate(zip(axes, axes_spec, strict=True)):
        rows = sorted((r for r in summary if all(r[f] == base[f] for f in fixed)
                       and r["tau_eps_median"] is not None), key=lambda r: r[key])
        x = [r[key] for r in rows]
        med = [r["tau_eps_median"] for r in rows]
        lo = [r["tau_eps_median"] - r["tau_eps_min"] for r in rows]
        hi = [r["tau_eps_max"] - r["tau_eps_median"] for r in rows]
        ax.errorbar(x, med, yerr=[lo, hi], fmt="o-", capsize=4, label="τ_ε: median, min–max")
        ax.plot(x, [r["regime_eps"] for r in rows], "k--", lw=1,
                label="(log m)^-2 (Thm 3.1 regime, constant 1)")
        if key == "scale":
            ax.plot(x, [r["tau_ratio_median"] for r in rows], "s:", ms=4,
                    label="τ as a ratio r = τ_ε/‖x‖ (median)")
        if key == "dim":
            ax.set_xticks(x)
        else:
            ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(label)
        if i == 0:
            ax.set_ylabel("τ_ε: largest ε with exactly one\nlocal minimum of L on the sphere")
        others = ", ".join(f"{f} = {base[f]:g}" for f in fixed)
        ax.set_title(f"τ_ε against {name} ({others})", fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    return fig


def draw(result: Mapping[str, Any], records: Sequence[Any]) -> list[Drawing]:
    """The three-panel τ_ε figure, titled with T5.1's verdict and its control's."""
    fig = threshold_figure(list(result["summary"]), dict(result["base"]))
    fig.suptitle("; ".join(f"{r.id}: {r.verdict} (control at 10·τ_ε: {r.control['verdict']})"
                           for r in records), fontsize=10)
    return [Drawing("threshold", fig, "τ_ε against m, d and input scale",
                    "Median τ_ε over seeds (bars: min–max) against width, dimension and input "
                    "scale, each at the base values of the others; dashed: (log m)^-2. Look "
                    "for: τ_ε above the dashed line, and τ as a ratio falling as the input "
                    "scale grows (§5.1).")]
