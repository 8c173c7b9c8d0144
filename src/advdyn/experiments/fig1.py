r"""Figure 1 of the paper: landscapes and PGD trajectories on simulated data (d = 2).

One network at Xavier initialisation and one unit direction ``u`` (seed ``seed``, see
:mod:`advdyn.experiments.simulated`); a panel per (input scale ``c``, ratio ``r``) with
``x = c·u`` and ``ε = r·c``. Per panel:

* ``L(δ) = -ℓ(y, f(x+δ))`` on a square grid over the disk ``B(0, ε)``, in coordinates ``δ/ε``;
* the exact census of the critical points of L on the circle ``εS¹``
  (:func:`advdyn.sphere.census.scan_circle`): local minima (good adversaries) and maxima (where
  the attack is weakest);
* ``trajectories`` PGD runs (descent on L) from uniform starts in the open disk, with the step
  rule of the configuration; all panels' runs are one batched :func:`advdyn.pgd.run_pgd` call
  (each row its own ``x``, ``ε`` and step). For each run, the step from which it stays within
  ``min(τε, half the distance to the nearest other critical point)`` of a local minimum on the
  circle (:func:`~advdyn.experiments.simulated.settle_steps`).

Over ``networks`` seeds (``seed, seed + 1, …``; networks and directions), the same census of
every panel counts the local minima of L for two arms: ``main``, the seed's Xavier network, and
``control``, the linear network ``f = γ_c w₁ᵀz`` of the same draw
(:func:`~advdyn.experiments.phase.linear_control`): one minimum of L on every circle, at every
scale and ratio.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from advdyn.errors import check_number, fail
from advdyn.experiments.base import Experiment, Job, config_dict, tuple_lists
from advdyn.experiments.phase import linear_control
from advdyn.experiments.simulated import (
    SimulatedProblemConfig,
    check_grid,
    check_rule,
    minima_targets,
    settle_steps,
    sphere_census,
    step_size,
    stuck_rows,
)
from advdyn.geometry import TINY, row_norm
from advdyn.models import Objective
from advdyn.pgd import Recorder, run_pgd
from advdyn.sphere.census import Census

NOTES = {
    "data": "one Xavier network and one unit direction u per seed; x = scale·u (‖x‖ = scale), "
            "eps = ratio·scale; panels differ only by scale and ratio",
    "loss": "bce with label 0 (default): ℓ = softplus(f) is strictly increasing in f, so the "
            "critical points of L = -ℓ on the circle are exactly those of f (local minima of L "
            "= local maxima of the logit); no extra critical points from crossing a label",
    "width": "m = 256 (default): features w_rᵀz vary over the circle by ~ε‖w_r‖, each kink "
             "w_rᵀz = 0 crossing the circle at large scale can add an extremum; counts at "
             "large scale grow with m, so m is fixed once",
    "rule": "normalized: δ ← P_B(δ - ρε ∇L/‖∇L‖), scale-free (docs/concepts.md); raw: η = ρε²",
    "steps": "per trajectory, the first step from which every later iterate up to the budget "
             "lies within min(tol·eps, half the distance to the nearest other critical point) "
             "of a local minimum of L on the circle (null: not settled)",
    "flat_fraction": "fraction of the disk grid where ‖∇L‖ ≤ 1e-30 (saturated loss; normalised "
                     "steps still move there wherever ∇L ≠ 0)",
    "saturated_starts": "trajectories whose first step leaves δ unchanged in floating point, so "
                        "they never move (∇L underflowed to 0: bce loss saturated, logit ≪ 0)",
    "orientation": "L = -ℓ (minimisation form): local minima of L are good adversaries, local "
                   "maxima of L are where the attack is weakest",
}


@dataclass(frozen=True)
class Fig1Config(SimulatedProblemConfig):
    """Every choice of Figure 1 (defaults: the full figure).

    ``scales``, ``ratios``: the panel grid (rows, columns); ``seed``: network, direction and
    uniform starts; ``width``, ``loss``, ``label``, ``kappa``, ``gamma``: the simulated problem
    (:class:`~advdyn.experiments.simulated.SimulatedSetup`); ``rule``, ``rho``, ``steps``: PGD;
    ``trajectories``: runs per panel; ``tol``: the settling radius in units of ε; ``angle_density``,
    ``min_angles``, ``max_angles``: the circle scan's grid (:class:`ScanGrid`); ``grid``: contour
    grid points per axis; ``networks``: the seeds whose minima are counted in every panel
    (both arms); ``control_gamma``: the output weight of the control's linear network.
    """

    dim = 2  # Figure 1 is two-dimensional (a class constant, not a parameter)
    scales: tuple[float, ...] = (0.01, 1.0, 100.0)
    ratios: tuple[float, ...] = (0.1, 1.0, 10.0)
    seed: int = 0
    rule: str = "normalized"
    rho: float = 0.05
    steps: int = 400
    trajectories: int = 8
    tol: float = 0.05
    grid: int = 201
    networks: int = 100
    control_gamma: float = 1e-4

    def __post_init__(self) -> None:
        object.__setattr__(self, "scales", check_grid("scales", self.scales))
        object.__setattr__(self, "ratios", check_grid("ratios", self.ratios))
        check_number("seed", self.seed, integer=True)
        check_rule(self.rule, self.rho)
        check_number("steps", self.steps, positive=True, integer=True)
        check_number("trajectories", self.trajectories, positive=True, integer=True)
        check_number("tol", self.tol, positive=True)
        check_number("networks", self.networks, positive=True, integer=True)
        check_number("control_gamma", self.control_gamma, positive=True)
        self.scan_grid()
        if check_number("grid", self.grid, positive=True, integer=True) < 3:
            raise fail("grid", f"needs at least 3 points per axis, got {self.grid}")
        self.setup()


def disk_landscape(objective: Objective, eps: torch.Tensor, n: int
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""``L`` on an ``n × n`` grid of ``δ/ε ∈ [-1, 1]²`` for every row of a d = 2 objective.

    Returns ``(axis, L, flat)``: ``axis`` ``(n,)`` the grid coordinates of ``δ/ε``; ``L``
    ``(B, n, n)`` with ``L[b, i, j] = L_b(ε_b·(axis[j], axis[i]))`` and NaN outside the disk;
    ``flat`` ``(B,)`` the fraction of disk points where ``‖∇L‖ ≤ TINY``
    (:data:`advdyn.geometry.TINY`): a saturated loss (normalised steps still move wherever
    ``∇L ≠ 0``; see :func:`~advdyn.experiments.simulated.stuck_rows`).
    """
    if objective.shape != (2,):
        raise fail("objective", f"the disk landscape needs d = 2, got shape {objective.shape}")
    axis = np.linspace(-1.0, 1.0, n)
    gx, gy = np.meshgrid(axis, axis)
    inside = gx**2 + gy**2 <= 1.0
    pts = torch.tensor(np.stack([gx[inside], gy[inside]], axis=1), dtype=objective.dtype)
    L = np.full((len(eps), n, n), np.nan)
    flat = np.zeros(len(eps))
    for b in range(len(eps)):
        ev = objective.select(torch.tensor([b])).evaluate(float(eps[b]) * pts)
        L[b][inside] = ev.L.numpy()
        assert ev.grad is not None
        flat[b] = float((row_norm(ev.grad) <= TINY).double().mean())
    return axis, L, flat


def _points(c: Census, kind: str, eps: float) -> dict[str, list]:
    pts = getattr(c, kind)
    return {f"{kind}_delta_over_eps": [(p.delta / eps).tolist() for p in pts],
            f"{kind}_L": [p.L for p in pts]}


def run_fig1(config: Fig1Config, *, progress: bool = False) -> dict[str, Any]:
    """Compute Figure 1 (see the module docstring). Pure: the same configuration gives the same
    result. Returns JSON data (``config``, ``notes``, ``panels``, ``checks``) and the arrays the
    plot needs: ``grid_axis`` ``(n,)``, ``grid_L`` ``(P, n, n)``, ``trajectories``
    ``(steps+1, P·k, 2)`` in units of ε, ``trajectory_panel`` ``(P·k,)``."""
    setup = config.setup()
    net, u, gen = setup.draw(config.seed)
    cells = [(s, r) for s in config.scales for r in config.ratios]
    objective = setup.objective(net, u, [s for s, _ in cells])
    eps = torch.tensor([s * r for s, r in cells], dtype=torch.float64)
    censuses = sphere_census(objective, eps, grid=config.scan_grid(), starts=None,
                             seed=config.seed, progress=progress)
    axis, grid_L, flat = disk_landscape(objective, eps, config.grid)

    k = config.trajectories
    panel_of = np.repeat(np.arange(len(cells)), k)
    rows = torch.as_tensor(panel_of)
    eps_rows = eps[rows]
    res = run_pgd(objective.select(rows), eps_rows,
                  step_size(config.rule, config.rho, eps_rows), config.steps, rule=config.rule,
                  start="uniform", generator=gen,
                  record=Recorder(fields=("delta",), dtype="float64"), progress=progress)
    traj = np.asarray(res.recorded().delta)
    stuck = stuck_rows(traj)
    settled = settle_steps(traj, minima_targets(censuses, 2, config.tol).rows(panel_of))

    panels = []
    for p, ((scale, ratio), c) in enumerate(zip(cells, censuses, strict=True)):
        e = float(eps[p])
        mine = settled[panel_of == p]
        done = mine[mine >= 0]
        panels.append({
            "scale": scale, "ratio": ratio, "eps": e, "x": (scale * u).tolist(),
            "minima": len(c.minima), "maxima": len(c.maxima), "saddles": len(c.saddles),
            "degenerate": len(c.degenerate), "kkt_minima": sum(q.kkt for q in c.minima),
            **_points(c, "minima", e), **_points(c, "maxima", e),
            "census_min_gap_cells": _finite(c.info.get("min_gap_cells")),
            "L_range": [float(np.nanmin(grid_L[p])), float(np.nanmax(grid_L[p]))],
            "flat_fraction": float(flat[p]),
            "step_size": float(step_size(config.rule, config.rho, eps[p])),
            "steps": [int(t) if t >= 0 else None for t in mine],
            "settled": int(done.size), "trajectories": k,
            "saturated_starts": int(stuck[panel_of == p].sum()),
            "median_steps": float(np.median(done)) if done.size else None,
        })
    return {
        "experiment": "fig1", "config": dataclasses.asdict(config), "notes": NOTES,
        "panels": panels, "checks": _checks(config, panels),
        "grid_axis": axis, "grid_L": grid_L,
        "trajectories": traj / eps_rows.numpy()[None, :, None],
        "trajectory_panel": panel_of,
    }


def _finite(v: float | None) -> float | None:
    """``v`` as a float, or None where it is missing or not finite (JSON has no inf)."""
    return float(v) if v is not None and np.isfinite(v) else None


def _checks(config: Fig1Config, panels: list[dict]) -> dict[str, Any]:
    """The paper's qualitative finding in numbers: exactly one minimum at the smallest scale
    (every ratio); several at the largest scale and ratio."""
    small, big, top = min(config.scales), max(config.scales), max(config.ratios)
    at_small = {str(p["ratio"]): p["minima"] for p in panels if p["scale"] == small}
    at_corner = next(p["minima"] for p in panels if p["scale"] == big and p["ratio"] == top)
    return {"smallest_scale": small, "minima_at_smallest_scale_by_ratio": at_small,
            "exactly_one_minimum_at_smallest_scale": all(v == 1 for v in at_small.values()),
            "largest_scale": big, "largest_ratio": top,
            "minima_at_largest_scale_and_ratio": at_corner,
            "several_minima_at_largest_scale_and_ratio": at_corner >= 2}


#: Seeds per network-count job.
NETWORK_CHUNK = 25
ARMS = ("main", "control")


def network_counts(config: Fig1Config, first: int, count: int) -> dict[str, list[dict]]:
    """Per arm (module docstring), per seed ``first … first + count − 1``: ``minima[i][j]``, the
    local minima of L on the circle at scale ``scales[i]`` and ratio ``ratios[j]`` (exact circle
    scan)."""
    setup = config.setup()
    cells = [(s, r) for s in config.scales for r in config.ratios]
    eps = torch.tensor([s * r for s, r in cells], dtype=torch.float64)
    out: dict[str, list[dict]] = {arm: [] for arm in ARMS}
    for seed in range(first, first + count):
        net, u, _ = setup.draw(seed)
        for arm, model in zip(ARMS, (net, linear_control(net, config.control_gamma)),
                              strict=True):
            found = sphere_census(setup.objective(model, u, [s for s, _ in cells]), eps,
                                  grid=config.scan_grid(), starts=None, seed=seed)
            counts = np.array([len(c.minima) for c in found]).reshape(len(config.scales), -1)
            out[arm].append({"seed": seed, "minima": counts.tolist()})
    return out


def job(**parameters: Any) -> dict[str, Any]:
    """Job-runner entry point: ``run_fig1(Fig1Config(**parameters))`` (JSON parameters)."""
    return run_fig1(Fig1Config(**tuple_lists(parameters)))


def networks_job(first: int, count: int, **parameters: Any) -> dict[str, list[dict]]:
    """Job-runner entry point: :func:`network_counts` (JSON parameters of the configuration)."""
    return network_counts(Fig1Config(**tuple_lists(parameters)), first, count)


def fig1_jobs(config: Fig1Config) -> list[Job]:
    """The figure is one job (one batched PGD run over all panels); the network counts one job
    per :data:`NETWORK_CHUNK` seeds."""
    params = config_dict(config)
    end = config.seed + config.networks
    return [Job("advdyn.experiments.fig1:job", params)] + [
        Job("advdyn.experiments.fig1:networks_job",
            {**params, "first": s, "count": min(NETWORK_CHUNK, end - s)})
        for s in range(config.seed, end, NETWORK_CHUNK)]


def fig1_row(value: Mapping[str, Any]) -> dict[str, Any]:
    """A job's numbers for a sweep's table. The figure's job: the fewest and most local minima
    of L over the panels of the smallest scale, the minima at the largest scale and ratio, and
    the fraction of all trajectories that settled. A network-count job: its seeds and the
    most minima of L any of its networks (main arm) has in any panel."""
    if "panels" not in value:
        return {"networks": len(value["main"]),
                "most_minima": max(max(map(max, r["minima"])) for r in value["main"])}
    checks, panels = value["checks"], value["panels"]
    small = list(checks["minima_at_smallest_scale_by_ratio"].values())
    return {"fewest_minima_at_smallest_scale": min(small),
            "most_minima_at_smallest_scale": max(small),
            "minima_at_largest_scale_and_ratio": checks["minima_at_largest_scale_and_ratio"],
            "settled_fraction": sum(p["settled"] for p in panels)
            / sum(p["trajectories"] for p in panels)}


def _panel_row(p: Mapping[str, Any]) -> list[Any]:
    med = p["median_steps"]
    return [p["scale"], p["ratio"], p["eps"], p["minima"], p["maxima"], p["degenerate"],
            p["kkt_minima"], f"{p['settled']}/{p['trajectories']}",
            "–" if med is None else med, p["saturated_starts"]]


def _network_table(config: Fig1Config, counts: Mapping[str, list[dict]]) -> dict[str, Any]:
    """Per panel, over the networks: how many have exactly one local minimum of L, and the mean
    count, per arm."""
    rows = []
    for i, scale in enumerate(config.scales):
        for j, ratio in enumerate(config.ratios):
            per = {arm: [r["minima"][i][j] for r in counts[arm]] for arm in ARMS}
            rows.append([scale, ratio, *(x for arm in ARMS for x in (
                sum(n == 1 for n in per[arm]), float(np.mean(per[arm])) if per[arm] else None))])
    return {"title": f"Over {config.networks} networks (seeds {config.seed}…): local minima of "
                     "L on the circle per panel (control: a linear network)",
            "columns": ["scale", "ratio", "networks with one minimum", "mean minima",
                        "control: networks with one minimum", "control: mean minima"],
            "rows": rows}


def fig1_collect(config: Fig1Config, values: list[Mapping[str, Any]]) -> dict[str, Any]:
    """The result: the figure job's value (panels, checks, arrays), the network counts
    (``networks``: ``scales``, ``ratios`` and per arm the rows of :func:`network_counts`), the
    section's paragraph and the per-panel tables."""
    value = dict(values[0])
    counts = {arm: [r for v in values[1:] for r in v[arm]] for arm in ARMS}
    return {
        **value,
        "networks": {"scales": list(config.scales), "ratios": list(config.ratios), **counts},
        "text": f"One Xavier two-layer network (d = 2, m = {config.width}) and one direction u "
                f"(seed {config.seed}); x = scale·u, ε = ratio·scale. The counts come from the "
                "exact circle scan; every trajectory's settling step is in fig1.json.",
        "tables": [{"title": "Per panel: critical points of L on the circle and PGD settling",
                    "columns": ["scale", "ratio", "ε", "minima of L", "maxima of L",
                                "degenerate", "KKT minima", "settled", "median steps to settle",
                                "starts with ∇L ≈ 0"],
                    "rows": [_panel_row(p) for p in value["panels"]]},
                   _network_table(config, counts)],
    }


EXPERIMENT = Experiment(
    name="fig1", title="Figure 1: landscapes on simulated data (d = 2)", config=Fig1Config,
    jobs=fig1_jobs, collect=fig1_collect, row=fig1_row,
    quick={"networks": 40}, reference={"networks": 100},
    description="The loss landscape L(δ) = -ℓ(y, f(x+δ)) of a two-layer network at Xavier "
                "initialisation over the disk B(0, ε), for input scales × ratios (ε = "
                "ratio·‖x‖), with the exact census of local minima/maxima of L on the circle "
                "and PGD trajectories from uniform starts.")
