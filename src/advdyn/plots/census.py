"""The census's picture: local minima of L on the sphere against the input scale."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from advdyn.plots.drawing import Drawing

CAPTION = ("Left: mean number of local minima of L on the sphere against the input scale, one "
           "line per ratio (bars: fewest to most over the seeds). Right: the fraction of seeds "
           "with exactly one. Look for one minimum at small scale at every ratio and the count "
           "rising with the scale, the sooner the larger the ratio.")


def minima_figure(result: Mapping[str, Any]) -> Figure:
    """Mean number of local minima of L against the input scale, one line per ratio (bars:
    min to max over seeds), beside the fraction of seeds with exactly one."""
    cfg, cells = result["config"], result["cells"]
    fig = Figure(figsize=(10.5, 4.0), layout="constrained")
    left, right = fig.subplots(1, 2)
    scales = sorted({c["scale"] for c in cells})
    for ratio in cfg["ratios"]:
        counts = [np.asarray(next(c["minima"] for c in cells
                                  if c["scale"] == s and c["ratio"] == ratio)) for s in scales]
        mean = np.array([c.mean() for c in counts])
        left.errorbar(scales, mean, yerr=[mean - [c.min() for c in counts],
                                          [c.max() for c in counts] - mean],
                      marker="o", capsize=3, label=f"ratio {ratio:g}")
        right.plot(scales, [(c == 1).mean() for c in counts], marker="o",
                   label=f"ratio {ratio:g}")
    for ax, label in ((left, "mean local minima of L on the sphere"),
                      (right, "fraction of seeds with exactly one")):
        if scales[-1] / scales[0] >= 100:
            ax.set_xscale("log")
        ax.set_xlabel(r"input scale $\|x\|$")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    right.set_ylim(-0.05, 1.05)
    method = "exact circle scan" if cfg["dim"] == 2 else "multistart census (lower bounds)"
    sphere = rf"$\varepsilon S^{{{cfg['dim'] - 1}}}$"
    fig.suptitle(f"Local minima of L = -ℓ on the sphere {sphere}, ε = ratio·scale "
                 f"(d = {cfg['dim']}, m = {cfg['width']}, {cfg['seeds']} seeds; {method})")
    return fig


def draw(result: Mapping[str, Any], records: Sequence[Any]) -> list[Drawing]:
    """The census's one picture (``records`` are not drawn)."""
    return [Drawing("census", minima_figure(result), caption=CAPTION,
                    title="Census: local minima of L against input scale")]
