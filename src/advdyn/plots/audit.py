"""The audit's picture: per-step loss, ‖δ‖/ε and stationarity of the flagged rows."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from advdyn.audit import Audit
from advdyn.plots.drawing import Drawing

MAX_ROWS = 8


def draw_audit(audit: Audit) -> Drawing:
    """Three panels over the attack's steps for up to :data:`MAX_ROWS` flagged rows (the first
    rows when none is flagged, said in the title): the loss ℓ, the radius ‖δ‖/ε and the sphere
    stationarity 1 − cos∠[∇ℓ, δ] (0 at a KKT point of the ball alone)."""
    flagged = audit.flagged()
    rows = flagged[:MAX_ROWS] if flagged.size else np.arange(min(4, audit.rows))
    what = (f"{flagged.size} flagged rows ({rows.size} shown)" if flagged.size
            else "no flagged row; the first rows shown")
    tr = audit.trace
    steps = tr.trajectory.t
    assert tr.trajectory.ell is not None  # a trace records ℓ at every step
    fig = Figure(figsize=(12, 3.6), layout="constrained")
    axes = fig.subplots(1, 3)
    verdicts = audit.verdicts()
    series = [(tr.trajectory.ell, "loss ℓ (nats)"), (tr.radius, "‖δ‖/ε"),
              (tr.stationarity, "1 − cos∠[∇ℓ, δ]")]
    for ax, (values, label) in zip(axes, series, strict=True):
        for b in rows:
            ax.plot(steps, values[:, b], lw=1, label=f"row {b}: {verdicts[b]}")
        ax.set_xlabel("step t (last: the attack's output)")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    axes[1].axhline(1.0, color="k", lw=0.8, ls=":")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=2, fontsize=7)
    fig.suptitle(f"{audit.norm} attack, ε = {audit.eps:g}: {what}")
    return Drawing("audit", fig, "Audit: per-step curves",
                   "Loss, radius and sphere stationarity per step of the flagged rows.")
