"""Pictures of the two-layer claim experiments (:mod:`advdyn.experiments.two_layer`): each
``draw_<experiment>(result, records) -> list[Drawing]`` reads the experiment's result and its
claims' records and only lays them out (no statistics here); :mod:`advdyn.plots.registry`
lists them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from advdyn.plots.drawing import Drawing

ARM_STYLE = {"main": ("tab:blue", "o", "m ≥ d^2.5 (paper's regime)"),
             "below": ("tab:orange", "s", "m < d^2.5"),
             "control": ("tab:red", "x", "control")}


def verdict_line(records: Sequence[Any], claim_id: str) -> str:
    """``"<id>: <verdict> (control: <verdict>)"`` from the claim's record ('' if absent)."""
    for r in records:
        if r.id == claim_id:
            return f"{r.id}: {r.verdict} (control: {r.control['verdict']})"
    return ""


def _figure(ncols: int, records: Sequence[Any], ids: Sequence[str], width: float = 5.5
            ) -> tuple[Figure, list[Axes]]:
    fig = Figure(figsize=(width * ncols, 4.4), layout="constrained")
    axes = list(fig.subplots(1, ncols, squeeze=False)[0])
    fig.suptitle("\n".join(filter(None, (verdict_line(records, i) for i in ids))), fontsize=10)
    return fig, axes


def _scatter_arms(ax: Axes, arms: Mapping[str, Sequence[Mapping[str, Any]]], x: str, y: str,
                  labels: Mapping[str, str] | None = None) -> None:
    for arm, (color, marker, label) in ARM_STYLE.items():
        rows = [r for r in arms.get(arm, []) if r.get(y) is not None and r.get(x) is not None]
        if rows:
            ax.scatter([r[x] for r in rows], [r[y] for r in rows], color=color, marker=marker,
                       s=18, alpha=0.7, label=(labels or {}).get(arm, label))
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)


def draw_lemma41(result: Mapping[str, Any], records: Sequence[Any]) -> list[Drawing]:
    """1 % quantile of −ΔL/η against the width, per arm."""
    fig, (ax,) = _figure(1, records, ["L4.1"], 7)
    _scatter_arms(ax, result["arms"], "width", "q01",
                  {"control": "control: output weights 1/m"})
    ax.set(xscale="log", yscale="log", xlabel="width m",
           ylabel="1 % quantile of −ΔL/η over interior steps")
    return [Drawing("lemma41", fig, "L4.1: descent per interior step across widths",
                    "Each point is one (seed, η). Look for: the blue points flat in m (the Ω(η) "
                    "constant does not vanish), the red control falling like 1/m.")]


def draw_lemma42(result: Mapping[str, Any], records: Sequence[Any]) -> list[Drawing]:
    """Worst error ratio against η/ε, outward and inward directions."""
    fig, (ax,) = _figure(1, records, ["L4.2"], 7)
    for side, color in (("outward", "tab:blue"), ("inward", "tab:red")):
        for d in sorted({r["dim"] for r in result["arms"][side]}):
            rows = sorted((r for r in result["arms"][side] if r["dim"] == d),
                          key=lambda r: r["eta_over_eps"])
            ax.plot([r["eta_over_eps"] for r in rows], [r["max_ratio"] for r in rows], "o-",
                    color=color, alpha=0.4 + 0.02 * d, label=f"{side}, d = {d}")
    ax.axhline(1, color="k", ls="--", lw=1, label="the bound 4η²/ε")
    ax.set(xscale="log", yscale="log", xlabel="η/ε",
           ylabel="worst ‖P_B(δ₀+ηv̂) − (δ₀+ηP_Tv̂)‖ / (4η²/ε)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    return [Drawing("lemma42", fig, "L4.2: the tangent-step approximation",
                    "Look for: outward directions below the dashed bound at every η; inward "
                    "directions far above it (their error is of order η).")]


def draw_lemma43(result: Mapping[str, Any], records: Sequence[Any]) -> list[Drawing]:
    """B̂_l against the width per arm; the literal reading's failing fraction."""
    fig, (a, b) = _figure(2, records, ["L4.3", "L4.3-literal"])
    _scatter_arms(a, result["arms"], "width", "B_l", {"control": "control: output weights 1/m"})
    a.set(xscale="log", yscale="log", xlabel="width m", ylabel="B̂_l = min ‖∇f‖ over the ball")
    for k, (setting, rows) in enumerate(result["literal"].items()):
        betas = sorted({r["beta"] for r in rows})
        for j, beta in enumerate(betas):
            vals = [r["frac_failing"] for r in rows if r["beta"] == beta]
            b.scatter([k + 0.15 * j] * len(vals), vals, s=18, label=f"{setting}, β = {beta:g}")
    b.set(xticks=[0, 1], xticklabels=["ε = 0.1 (main)", "input scale 10, ratio 1 (control)"],
          xlim=(-0.5, 1.7), ylabel="fraction of the sphere violating\nthe one-sided reading")
    b.grid(True, alpha=0.3)
    b.legend(fontsize=8)
    return [Drawing("lemma43", fig, "L4.3: B_l across widths, and the literal reading",
                    "Left: look for the blue points flat in m and the red control falling like "
                    "m^(-1/2). Right: any point above 0 is a sphere point where the literal "
                    "one-sided hypothesis holds but the inequality fails.")]


def draw_lemma44(result: Mapping[str, Any], records: Sequence[Any]) -> list[Drawing]:
    """Smallest margin (units ‖∇L‖/ε) against φ per arm."""
    fig, (ax,) = _figure(1, records, ["L4.4"], 7)
    _scatter_arms(ax, result["arms"], "phi", "margin_unit",
                  {"control": "control: ε far above the regime"})
    ax.axhline(0, color="k", lw=1)
    ax.set(yscale="symlog", xlabel="φ (points with |cos∠[−∇L, δ]| ≥ φ)",
           ylabel="smallest eigenvalue of sgn·P_TΞP_T\n(units ‖∇L‖/ε)")
    return [Drawing("lemma44", fig, "L4.4: definiteness near critical points",
                    "One point per (seed, ε, φ). Look for: blue points above 0 (a positive "
                    "margin γ), the red control below 0 (saddles).")]


def draw_lemma45(result: Mapping[str, Any], records: Sequence[Any]) -> list[Drawing]:
    """Counts of uniform-start trajectories where (6) holds and, the control, where it fails:
    reached the sphere, entered Δ⁻_η, entered Δ⁺_η, left Δ⁺_η."""
    fig, (ax,) = _figure(1, records, ["L4.5"], 7)
    keys = ("trajectories", "reached_sphere", "entered_minus", "entered_plus", "left_plus")
    for k, (arm, held) in enumerate((("main", True), ("control", False))):
        rows = [r for r in result["arms"]["main"] if r["cond6"] == held]
        ax.bar([i + 0.4 * k for i in range(len(keys))], [sum(r[key] for r in rows)
                                                         for key in keys],
               width=0.4, color=ARM_STYLE[arm][0],
               label="settings where (6) holds" if held else "control: (6) fails")
    ax.set(xticks=[i + 0.2 for i in range(len(keys))], xticklabels=keys,
           ylabel="uniform-start trajectories")
    ax.tick_params(axis="x", labelrotation=20)
    ax.legend(fontsize=8)
    return [Drawing("lemma45", fig, "L4.5: visits of Δ⁻_η and Δ⁺_η",
                    "Look for: no trajectory entering Δ⁻_η or leaving Δ⁺_η where (6) holds; "
                    "the control (where (6) fails) entering Δ⁻_η, or too few reaching the "
                    "sphere to tell.")]


def draw_theorem31(result: Mapping[str, Any], records: Sequence[Any]) -> list[Drawing]:
    """Times to come within c√η and distances at the budget, against η."""
    fig, (a, b) = _figure(2, records, ["T3.1"])
    arms = {"main": result["arms"]["main"], "below": result["arms"]["below"]}
    _scatter_arms(a, {k: [r for r in v if r["reached"]] for k, v in arms.items()}, "eta",
                  "t_reach")
    a.set(xscale="log", yscale="log", xlabel="η", ylabel="steps to within c·√η of a minimum")
    _scatter_arms(b, {**arms, "control": result["arms"]["control"]}, "eta", "dist_end",
                  {"control": "control: distance to the nearest maximum"})
    b.set(xscale="log", yscale="log", xlabel="η", ylabel="distance after C·η⁻² steps")
    return [Drawing("theorem31", fig, "T3.1: time and distance to the nearest local minimum",
                    "Left: look for times growing more slowly than η⁻². Right: distances to "
                    "minima far below √η; distances to maxima (control) of order ε.")]


def draw_corollary31(result: Mapping[str, Any], records: Sequence[Any]) -> list[Drawing]:
    """Per schedule: tail slopes of log D_s and final D_S/D_0."""
    fig, (a, b) = _figure(2, records, ["C3.1"])
    series = {"shrinking 2/(β(s+z))": result["arms"]["main"]["rows"],
              "constant η": result["arms"]["main"]["constant"],
              "summable η/(1+s)² (control)": result["arms"]["control"]["rows"]}
    for k, rows in enumerate(series.values()):
        done = [r for r in rows if r["switched"]]
        a.scatter([k] * len(done), [r["slope"] for r in done], s=20)
        b.scatter([k] * len(done), [r["DS_over_D0"] for r in done], s=20)
    for ax in (a, b):
        ax.set_xticks(range(len(series)), list(series), fontsize=8)
        ax.grid(True, alpha=0.3)
    a.axhline(-1, color="k", ls="--", lw=1)
    a.set_ylabel("tail slope of log D_s on log(z+s)")
    b.set(yscale="log", ylabel="D_S / D_0 after the run")
    return [Drawing("corollary31", fig, "C3.1: D_s under three schedules",
                    "Left: look for the shrinking schedule at or below the dashed −1 (the "
                    "bound), the summable control near 0. Right: how far D has fallen; the "
                    "constant step is shown beside the shrinking one.")]


def draw_on_sphere(result: Mapping[str, Any], records: Sequence[Any]) -> list[Drawing]:
    """Fractions of runs ending on the sphere (from the record's values)."""
    fig, (ax,) = _figure(1, records, ["on-sphere"], 6)
    rec = next((r for r in records if r.id == "on-sphere"), None)
    if rec is not None:
        for k, (name, values) in enumerate((("Xavier problems", rec.values),
                                            ("control: concave at x = 0",
                                             rec.control["values"]))):
            per_rule = values.get("fraction_per_rule", {})
            ax.bar([i + 0.4 * k for i in range(len(per_rule))], list(per_rule.values()),
                   width=0.4, label=name)
            ax.set_xticks([i + 0.2 for i in range(len(per_rule))], list(per_rule))
    ax.set(ylim=(0, 1.05), ylabel="fraction of runs ending on the sphere")
    ax.legend(fontsize=8)
    return [Drawing("on_sphere", fig, "§3.1: where PGD ends",
                    "Look for: Xavier problems ending on the sphere (normalised steps decide; "
                    "raw η = ρε² is slow at small ε), the concave control ending inside.")]


def draw_concentration(result: Mapping[str, Any], records: Sequence[Any]) -> list[Drawing]:
    """Spread of the minima's ℓ against scale; the gradient's turn against scale and ε."""
    fig, (a, b, c) = _figure(3, records, ["concentration", "eps-only", "angle"], 5)
    for arm, style in (("main", "o-"), ("control", "x--")):
        cells = result["concentration"][arm]["cells"]
        for ratio in sorted({x["ratio"] for x in cells}):
            rows = [x for x in cells if x["ratio"] == ratio and x["mean_spread"] is not None]
            a.plot([x["scale"] for x in rows], [x["mean_spread"] for x in rows], style,
                   label=f"{arm}, ratio {ratio:g}")
    a.set(xscale="log", xlabel="input scale", ylabel="mean spread of ℓ over the minima of L\n"
          "(relative to the range of ℓ on the sphere)")
    cells = result["eps_only"]["cells"]
    for arm, key, style in (("main", "mean_turn", "o-"), ("control", "mean_turn_control", "x--")):
        for i, eps in enumerate(sorted({x["eps"] for x in cells})):
            g = sorted((x for x in cells if x["eps"] == eps), key=lambda x: x["scale"])
            b.plot([x["scale"] for x in g], [max(x[key], 1e-16) for x in g], style,
                   color=f"C{i}", label=f"{arm}, ε = {eps:g}")
    b.set(xscale="log", yscale="log", xlabel="input scale (ε fixed per colour)",
          ylabel="mean over seeds of 1 − min cos∠[∂f(δ), ∂f(δ′)]\n"
                 "(control: f_c(z) = c·f(z/c))")
    for arm, color in (("main", "tab:blue"), ("control", "tab:red")):
        g = result["angle"][arm]
        c.scatter([r["eps"] for r in g], [max(r["turn"], 1e-16) for r in g], s=14, color=color,
                  label={"main": "Xavier, scale 1", "control": "control: even net at x = 0"}[arm])
    c.set(xscale="log", yscale="log", xlabel="ε", ylabel="1 − min cos∠[∂f(δ), ∂f(δ′)]")
    for ax in (a, b, c):
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    return [Drawing("concentration", fig, "Input scale and the concentration of the landscape",
                    "Left: look for the spread rising with the input scale (control: 0). "
                    "Middle: at fixed ε (one colour) the points should be flat in the input "
                    "scale if only ε mattered. Right: the turn of ∂f should vanish as ε → 0 "
                    "(control: it does not).")]

