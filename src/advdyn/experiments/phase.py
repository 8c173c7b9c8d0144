r"""The input-scale × ratio phase diagram: how many local minima L has on the sphere, and how
long the attack takes to leave a local maximum of L, under three step conventions.

For every seed (network and direction, :mod:`advdyn.experiments.simulated`) and every cell
(input scale ``c``, ratio ``r``; ``x = c·u``, ``ε = r·c``):

1. **Census** of the critical points of L on ``εS^{d-1}``: the exact circle scan for ``d = 2``
   (all cells of a seed in one batch), the multistart census for ``d > 2`` (counts are lower
   bounds).
2. **Escape** from every local maximum found, under the conventions of
   :mod:`advdyn.experiments.phase_escape` (normalised ``ρε``, raw fixed ``η``, raw ``η ∝ ε²``),
   censored at the budget.

Two arms: ``main`` (the configured network) and ``control``: a *linear* network from the same
draw, rows ``±w`` with output weights ``±γ_c`` (``softplus(t) − softplus(−t) = t``, so
``f(z) = γ_c wᵀz``), ``γ_c`` = ``control_gamma`` small enough that the loss never saturates: every
sphere has one minimum and one maximum, and the normalised escape crosses the disk in the same
number of steps at every scale and ratio.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from advdyn.errors import check_number, fail
from advdyn.experiments.base import Experiment, Job, config_dict, tuple_lists
from advdyn.experiments.phase_escape import CONVENTIONS, cell_runs, escape_runs
from advdyn.experiments.simulated import (
    SimulatedProblemConfig,
    check_grid,
    log_grid,
    sphere_census,
)
from advdyn.models import TwoLayerNet

ARMS = ("main", "control")


@dataclass(frozen=True)
class PhaseConfig(SimulatedProblemConfig):
    """Every choice of the phase diagram (defaults: the full run).

    ``scales``, ``ratios``: the grid; ``seeds`` seeds ``seed, seed+1, …``; ``dim``, ``width``,
    ``loss``, ``label``, ``kappa``, ``gamma``: the simulated problem; ``control_gamma``: the
    output weight of the control's linear network; ``rho`` (normalised ``α = ρε``),
    ``raw_eta`` (raw fixed η), ``raw_rho`` (raw ``η = ρ_raw·ε²``), ``steps``: the attacks;
    ``gap_fraction``: the fraction ``q`` of ℓ's gap (the maximum's value to the deepest census
    minimum's) a run must cover to have left the maximum;
    ``perturb``: the kick off the maximum (units of ε); ``angle_density``, ``min_angles``,
    ``max_angles``: the circle scan's grid (d = 2); ``census_starts``: the multistart census's
    uniform starts (d > 2; default: the census's own).
    """

    scales: tuple[float, ...] = log_grid(0.01, 100.0, 13)
    ratios: tuple[float, ...] = log_grid(0.1, 10.0, 13)
    seeds: int = 10
    seed: int = 0
    dim: int = 2
    width: int = 256
    control_gamma: float = 1e-4
    loss: str = "bce"
    label: float = 0.0
    kappa: float | None = None
    gamma: float | None = None
    rho: float = 0.05
    raw_eta: float = 0.05
    raw_rho: float = 0.05
    steps: int = 600
    gap_fraction: float = 0.5
    perturb: float = 1e-3
    angle_density: float = 1.0
    min_angles: int = 256
    max_angles: int = 16384
    census_starts: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "scales", check_grid("scales", self.scales))
        object.__setattr__(self, "ratios", check_grid("ratios", self.ratios))
        for name in ("seeds", "steps"):
            check_number(name, getattr(self, name), positive=True, integer=True)
        check_number("seed", self.seed, integer=True)
        for name in ("rho", "raw_eta", "raw_rho", "gap_fraction", "perturb", "control_gamma"):
            check_number(name, getattr(self, name), positive=True)
        if self.gap_fraction >= 1:
            raise fail("gap_fraction", f"{self.gap_fraction} is not below 1",
                       "give the fraction of the gap, in (0, 1)")
        self.scan_grid()
        if self.census_starts is not None:
            check_number("census_starts", self.census_starts, positive=True, integer=True)
        self.setup()


def linear_control(net: TwoLayerNet, gamma: float) -> TwoLayerNet:
    """Rows ``±w_1`` of ``net`` with output weights ``±γ``: ``f(z) = γ w_1ᵀz``."""
    w = net.W[:1]
    return TwoLayerNet(torch.cat([w, -w]), torch.tensor([gamma, -gamma], dtype=w.dtype))


def phase_seed(config: PhaseConfig, seed: int, *, arm: str = "main",
               progress: bool = False) -> dict[str, Any]:
    """Census and escape runs of one seed over the whole grid, for one arm.

    Returns ``seed``, ``minima``/``maxima``/``saddles``/``degenerate`` ``(S, R)`` counts, and the
    escape runs of :func:`~advdyn.experiments.phase_escape.escape_runs` (flat cell index
    ``i·R + j``)."""
    setup = config.setup()
    net, u, gen = setup.draw(seed)
    if arm == "control":
        net = linear_control(net, config.control_gamma)
    n_s, n_r = len(config.scales), len(config.ratios)
    objective = setup.objective(net, u, [s for s in config.scales for _ in config.ratios])
    eps = torch.tensor([s * r for s in config.scales for r in config.ratios],
                       dtype=torch.float64)
    censuses = sphere_census(objective, eps, grid=config.scan_grid(),
                             starts=config.census_starts, seed=seed, progress=progress)
    counts = {kind: np.array([len(getattr(c, kind)) for c in censuses]).reshape(n_s, n_r)
              for kind in ("minima", "maxima", "saddles", "degenerate")}
    runs = escape_runs(objective, eps, censuses, gen, steps=config.steps,
                       fraction=config.gap_fraction, perturb=config.perturb, rho=config.rho,
                       raw_eta=config.raw_eta, raw_rho=config.raw_rho)
    return {"seed": int(seed), **counts, **runs}


def seed_job(run_seed: int, arm: str = "main", **parameters: Any) -> dict[str, Any]:
    """Job entry point: :func:`phase_seed` for one seed and arm (JSON parameters of
    :class:`PhaseConfig`)."""
    return phase_seed(PhaseConfig(**tuple_lists(parameters)), run_seed, arm=arm)


PER_SEED = ("seed", "seeds")  # the per-seed job's own seed replaces these


def _jobs(config: PhaseConfig) -> list[tuple[str, int]]:
    return [(a, s) for a in ARMS for s in range(config.seed, config.seed + config.seeds)]


def phase_jobs(config: PhaseConfig) -> list[Job]:
    """One :func:`seed_job` per (arm, seed); a job holds its seed as ``run_seed`` (not
    ``seed``/``seeds``), so a seed's cached result is shared by every range of seeds."""
    shared = {k: v for k, v in config_dict(config).items() if k not in PER_SEED}
    return [Job("advdyn.experiments.phase:seed_job", {**shared, "run_seed": s, "arm": a})
            for a, s in _jobs(config)]


def phase_row(value: dict[str, Any]) -> dict[str, Any]:
    """A job's scalars for a sweep's table, over all cells of its grid: mean numbers of local
    minima and maxima of L per cell, escape runs, the saturated fraction, and per convention
    the fraction of runs that escaped within the budget (the rest are censored)."""
    runs = int(np.asarray(value["start_cell"]).size)
    out: dict[str, Any] = {"mean_minima": float(np.mean(value["minima"])),
                           "mean_maxima": float(np.mean(value["maxima"])),
                           "escape_runs": runs,
                           "saturated_fraction": float(np.mean(value["saturated"])) if runs
                           else None}
    for conv in CONVENTIONS:
        steps = np.asarray(value[f"steps_{conv}"])
        out[f"escaped_fraction_{conv}"] = float((steps >= 0).mean()) if runs else None
    return out


def arm_result(config: PhaseConfig, per_seed: list[dict[str, Any]]) -> dict[str, Any]:
    """One arm: counts per seed and cell, their means, and the escape runs per convention."""
    n_s, n_r = len(config.scales), len(config.ratios)
    mins = np.stack([np.asarray(r["minima"]) for r in per_seed]).astype(float)
    cells = [(c, r) for c in config.scales for r in config.ratios]
    escape = {conv: [{"scale": c, "ratio": r, **runs} for (c, r), runs in zip(
        cells, cell_runs(per_seed, n_s * n_r, config.steps, conv), strict=True)]
        for conv in CONVENTIONS}
    saturated = np.zeros(n_s * n_r)
    n_runs = np.zeros(n_s * n_r)
    for r in per_seed:
        np.add.at(saturated, np.asarray(r["start_cell"], dtype=int),
                  np.asarray(r["saturated"], dtype=float))
        np.add.at(n_runs, np.asarray(r["start_cell"], dtype=int), 1.0)
    return {"minima": [{"seed": r["seed"], "scale": c, "ratio": q, "minima": int(m)}
                       for r in per_seed for (c, q), m in zip(
                           cells, np.asarray(r["minima"]).ravel(), strict=True)],
            "mean_minima": mins.mean(axis=0).tolist(),
            "frac_one_minimum": (mins == 1).mean(axis=0).tolist(),
            "mean_maxima": np.mean([np.asarray(r["maxima"]) for r in per_seed],
                                   axis=0).tolist(),
            "escape": escape,
            "saturated_fraction": (saturated / np.maximum(n_runs, 1)).reshape(n_s, n_r).tolist()}


def collect(config: PhaseConfig, values: list[dict[str, Any]]) -> dict[str, Any]:
    """The phase diagram per arm (see the module docstring) and a per-cell table."""
    arms = {a: arm_result(config, [v for (arm, _), v in zip(_jobs(config), values, strict=True)
                                   if arm == a]) for a in ARMS}
    main = arms["main"]
    rows = [[c, r, round(main["mean_minima"][i][j], 3), main["frac_one_minimum"][i][j],
             len(main["escape"]["normalized"][i * len(config.ratios) + j]["times"])]
            for i, c in enumerate(config.scales) for j, r in enumerate(config.ratios)]
    return {"text": f"Per seed one Xavier two-layer network and one direction (d = {config.dim}, "
                    f"m = {config.width}; control: a linear network γ_c·wᵀz); every cell has "
                    "x = scale·u and ε = ratio·scale. Census: "
                    + ("the exact circle scan. " if config.dim == 2 else
                       "the multistart census (counts are lower bounds). ")
                    + "Escape: from every local maximum of L found, slightly perturbed, PGD "
                    f"descent for {config.steps} steps with normalised steps ρε (ρ = "
                    f"{config.rho:g}), raw fixed η = {config.raw_eta:g} and raw η = "
                    f"{config.raw_rho:g}·ε²; the escape time is the first step covering "
                    f"{config.gap_fraction:g} of ℓ's gap from the maximum to the deepest census "
                    "minimum; runs that never do are censored.",
            "tables": [{"title": "Per cell (main arm)", "columns": [
                "input scale", "ratio", "mean minima", "fraction of seeds with one minimum",
                "escape runs"], "rows": rows}],
            "scales": list(config.scales), "ratios": list(config.ratios),
            "seeds": list(range(config.seed, config.seed + config.seeds)),
            "steps": config.steps, "conventions": list(CONVENTIONS), "arms": arms}


EXPERIMENT = Experiment(
    name="phase", title="Phase diagram: input scale × ratio", config=PhaseConfig,
    jobs=phase_jobs, collect=collect, row=phase_row,
    quick={"scales": log_grid(0.01, 100.0, 5), "ratios": log_grid(0.1, 10.0, 5), "seeds": 4,
           "steps": 300},
    description="Over a log grid of input scales and ratios (ε = ratio·‖x‖) and several "
                "networks: how many local minima L = -ℓ has on the sphere, and how many PGD "
                "steps the attack takes from a local maximum of L to a local minimum, under "
                "three step conventions; a linear network as the control.")
