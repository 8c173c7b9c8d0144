"""Figures read at a glance: a legend sits in empty space (no data point of its axes under it),
an all-constant set of curves carries a note saying what it means, and a panel without data
says why. Drawn from small fixed results in the shape the experiments write."""

from __future__ import annotations

from typing import Any

import matplotlib
import numpy as np

matplotlib.use("Agg")

from advdyn.plots import escape


def km(curve: list[float]) -> dict[str, Any]:
    c = np.asarray(curve)
    below = np.nonzero(c <= 0.5)[0]
    return {"n": 6, "curve": curve, "censored": int(c[-1] * 6),
            "median": float(below[0]) if below.size else float("inf")}


def fig2_result() -> dict[str, Any]:
    groups = []
    for conv in ("normalized", "raw_fixed"):
        for scale in (0.1, 1000.0):
            for k, ratio in enumerate((0.001, 0.1, 10.0)):
                curve = [1.0] * (20 + 10 * k) + [0.5] * 5 + [0.0] * (35 - 10 * k)
                groups.append({"arm": "plain", "convention": conv, "scale": scale,
                               "ratio": ratio, "km": km(curve), "curve": list(np.linspace(
                                   -3, -1, 60))})
    groups.append({"arm": "plain", "convention": "raw_fixed", "scale": 1000.0, "ratio": 20.0,
                   "km": {"n": 0, "curve": [], "censored": 0, "median": float("inf")},
                   "curve": []})
    return {"groups": groups, "checks": {"certified": 30, "starts": 40, "rejected": 10,
                                         "rows_with_zero_ell": 0}}


def stationarity_result(flat: bool) -> dict[str, Any]:
    rows = []
    for rule in ("normalized", "raw_eps2"):
        for scale in (0.1, 10.0):
            for epoch in (0, 2):
                curve = [1.0] * 41 if flat else [1.0] * 10 + [0.4] * 31
                rows.append({"arm": "plain", "rule": rule, "scale": scale, "epoch": epoch,
                             "survival": {"curve": curve}})
    return {"stationarity": rows}


def step_points(line: Any) -> np.ndarray:
    """A line's drawn points, the steps of a step plot filled in (display coordinates)."""
    x, y = np.asarray(line.get_xdata(), float), np.asarray(line.get_ydata(), float)
    if x.size == 0:
        return np.empty((0, 2))
    fine = np.linspace(x.min(), x.max(), 400)
    at = y[np.clip(np.searchsorted(x, fine, side="right") - 1, 0, x.size - 1)]
    return line.axes.transData.transform(np.column_stack([fine, at]))


def assert_legends_hide_nothing(fig: Any) -> int:
    fig.canvas.draw()
    checked = 0
    for ax in fig.axes:
        legend = ax.get_legend()
        if legend is None:
            continue
        box = legend.get_window_extent()
        for line in ax.get_lines():
            pts = step_points(line)
            inside = ((pts[:, 0] > box.x0) & (pts[:, 0] < box.x1) & (pts[:, 1] > box.y0)
                      & (pts[:, 1] < box.y1))
            assert not inside.any(), f"{ax.get_title()}: the legend hides {line.get_label()}"
        checked += 1
    return checked


def texts(ax: Any) -> str:
    return " ".join(t.get_text() for t in ax.texts)


def test_figure2_legends_hide_no_curve() -> None:
    drawings = escape.draw(fig2_result(), [])
    assert assert_legends_hide_nothing(drawings[0].figure) == 4
    for ax in drawings[0].figure.axes:
        assert ax.get_ylim()[1] > 1.02 and max(ax.get_yticks()) <= 1.0


def test_flat_stationarity_curves_carry_a_note() -> None:
    flat = escape._stationarity_figure(stationarity_result(flat=True), [])
    assert assert_legends_hide_nothing(flat.figure) == 2
    for ax in flat.figure.axes:
        assert "no run became stationary within 40 steps" in texts(ax)
    moving = escape._stationarity_figure(stationarity_result(flat=False), [])
    for ax in moving.figure.axes:
        assert texts(ax) == ""


def test_no_panel_without_data() -> None:
    empty = escape._stationarity_figure({"stationarity": []}, [])
    (ax,) = empty.figure.axes
    assert not ax.get_lines() and "no stationarity runs" in texts(ax)
    result = fig2_result()
    for g in result["groups"]:
        if g["scale"] == 1000.0 and g["convention"] == "raw_fixed":
            g["km"] = {"n": 0, "curve": [], "censored": 0, "median": float("inf")}
    fig = escape.draw(result, [])[0].figure
    for ax in fig.axes:
        drawn = [line for line in ax.get_lines()
                 if not line.get_label().startswith("_") and len(line.get_xdata())]
        assert drawn or "no certified start" in texts(ax), ax.get_title()


def training_result() -> dict[str, Any]:
    runs = []
    for scale in (0.1, 1000.0):
        for arm in ("plain", "invisible"):
            for seed in (0, 1):
                runs.append({"scale": scale, "arm": arm, "seed": seed, "history": [
                    {"epoch": e, "robust_train_loss": None if e == 0 else 2.0 - 0.1 * e,
                     "robust_acc": 0.1 * e + 0.01 * seed, "clean_acc": 0.2 + 0.1 * e,
                     "on_sphere": None if e == 0 else 1.0} for e in range(3)]})
    return {"runs": runs, "fig3_curves": [], "stationarity": []}


def test_at_scale_panels_legend_outside_integer_epochs_flat_noted() -> None:
    fig = escape.draw_training(training_result(), [])[0].figure
    fig.canvas.draw()
    assert all(ax.get_legend() is None for ax in fig.axes)
    (legend,) = fig.legends
    box = legend.get_window_extent()
    for ax in fig.axes:
        assert not box.overlaps(ax.get_window_extent()), ax.get_ylabel()
        ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
        assert ticks and all(float(t).is_integer() for t in ticks), ticks
    flat = [ax for ax in fig.axes if ax.get_ylabel() == "PGD outputs on the sphere"]
    assert "PGD outputs on the sphere = 1" in texts(flat[0])
    assert all(texts(ax) == "" for ax in fig.axes if ax not in flat)
