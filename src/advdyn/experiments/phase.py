r"""The input-scale × ratio phase diagram: how many local minima L has on the sphere, and how
long the attack takes to leave a local maximum of L.

For every seed (network and direction, :mod:`advdyn.experiments.simulated`) and every cell
(input scale ``c``, ratio ``r``; ``x = c·u``, ``ε = r·c``):

1. **Census** of the critical points of L on ``εS^{d-1}``: the exact circle scan for ``d = 2``
   (:func:`~advdyn.sphere.census.scan_circle`, all cells of a seed in one batch), the multistart
   census for ``d > 2`` (:func:`~advdyn.sphere.census.census`; its counts are lower bounds, its
   ``unseen`` estimate is not aggregated here).
2. **Escape.** From every local maximum ``δ*`` of L found (the attack's weakest point), the start
   ``δ₀ = P_B(δ* + σεv)``, ``v`` uniform on the unit sphere, ``σ`` = ``perturb`` (breaks the exact
   stationarity); then PGD descent on L with the configured rule for ``steps`` steps. The escape
   time is the step from which the iterate stays within ``min(τε, half the distance to the
   nearest other critical point)`` of a local minimum of L on the sphere
   (:func:`~advdyn.experiments.simulated.settle_steps`); a run that has not settled by the
   end of the budget is *censored* and counted as ``steps`` (so means are lower bounds where
   ``unsettled_fraction > 0``). All starts of a seed run as one batched :func:`run_pgd` call.

Aggregates per cell: mean, standard deviation (over seeds, ddof 0), min and max of the number of
minima and the fraction of seeds with exactly one; mean, standard deviation and median of the
escape steps pooled over all starts of all seeds, the unsettled fraction, the fraction of runs
that start where ``‖∇L‖`` is below the engine's floor (a saturated loss: they cannot move), and
the mean escape steps of the other runs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy.stats import spearmanr
from tqdm.auto import tqdm

from advdyn.atomic import write_json
from advdyn.errors import check_number
from advdyn.experiments.simulated import (
    SimulatedProblemConfig,
    check_grid,
    check_rule,
    log_grid,
    minima_targets,
    perturbed_starts,
    saturated,
    settle_steps,
    sphere_census,
    step_size,
)
from advdyn.pgd import Recorder, run_pgd
from advdyn.plots.landscape import save_figure
from advdyn.plots.phase import phase_figure
from advdyn.report import Claim, Figure, Outcome, Table
from advdyn.runner import Experiment, Job, JobResult, config_dict

NOTES = {
    "data": "per seed one Xavier network and one unit direction u; x = scale·u, eps = "
            "ratio·scale; all cells of a seed share the network and the direction",
    "loss": "bce with label 0 (default): critical points of L on the sphere = those of the "
            "logit f (ℓ strictly increasing in f)",
    "census": "d = 2: exact circle scan on an adaptive angle grid (2π·angle_density·eps·max‖w_r‖ "
              "angles, clipped to [min_angles, max_angles]; exact unless two critical points "
              "share a grid cell); d > 2: multistart census (counts are lower bounds; "
              "mean_chao1_minima: the census's Chao1 estimate of the total)",
    "escape": "start at each local maximum of L + perturb·eps·(uniform unit vector), projected "
              "on the ball; escape steps = first step from which the iterate stays within "
              "min(tol·eps, half the distance to the nearest other critical point) of a local "
              "minimum of L on the sphere; unsettled runs counted as the "
              "budget (censored); saturated_fraction: runs starting where ‖∇L‖ ≤ 1e-30 (the "
              "engine's floor of the normalised step), which cannot move at all",
    "spread": "std over seeds (ddof 0) for counts; std over pooled starts for escape steps",
}


@dataclass(frozen=True)
class PhaseConfig(SimulatedProblemConfig):
    """Every choice of the phase diagram (defaults: the full run).

    ``scales``, ``ratios``: the grid; ``seeds`` seeds ``seed, seed+1, …``; ``dim``, ``width``,
    ``loss``, ``label``, ``kappa``, ``gamma``: the simulated problem; ``rule``, ``rho``,
    ``steps``: the attack; ``tol``: the settling radius (units of ε); ``perturb``: the kick off
    the maximum (units of ε); ``angle_density``, ``min_angles``, ``max_angles``: the circle
    scan's grid (d = 2, :class:`ScanGrid`); ``census_starts``: uniform starts of the multistart
    census (d > 2; default: the census's own).
    """

    scales: tuple[float, ...] = log_grid(0.01, 100.0, 13)
    ratios: tuple[float, ...] = log_grid(0.1, 10.0, 13)
    seeds: int = 10
    seed: int = 0
    dim: int = 2
    width: int = 256
    loss: str = "bce"
    label: float = 0.0
    kappa: float | None = None
    gamma: float | None = None
    rule: str = "normalized"
    rho: float = 0.05
    steps: int = 600
    tol: float = 0.05
    perturb: float = 1e-3
    angle_density: float = 1.0
    min_angles: int = 256
    max_angles: int = 16384
    census_starts: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "scales", check_grid("scales", self.scales))
        object.__setattr__(self, "ratios", check_grid("ratios", self.ratios))
        check_number("seeds", self.seeds, positive=True, integer=True)
        check_number("seed", self.seed, integer=True)
        check_rule(self.rule, self.rho)
        check_number("steps", self.steps, positive=True, integer=True)
        check_number("tol", self.tol, positive=True)
        check_number("perturb", self.perturb, positive=True)
        self.scan_grid()
        if self.census_starts is not None:
            check_number("census_starts", self.census_starts, positive=True, integer=True)
        self.setup()


def phase_seed(config: PhaseConfig, seed: int, *, progress: bool = False) -> dict[str, Any]:
    """Census and escape runs of one seed over the whole grid.

    Returns ``seed`` and arrays: ``minima``, ``maxima``, ``saddles``, ``degenerate`` ``(S, R)``
    counts; ``min_gap_cells`` ``(S, R)`` (closest pair of critical points in scan cells, d = 2;
    NaN otherwise); ``chao1_minima`` ``(S, R)`` (the multistart census's Chao1 estimate of the
    total number of minima, d > 2; NaN otherwise); ``start_cell`` ``(N,)`` the flat cell index
    ``i·R + j`` of each escape run;
    ``escape_steps`` ``(N,)`` (``-1``: not settled within ``steps``); ``escape_saturated``
    ``(N,)`` whether the run started where ``‖∇L‖`` is below the engine's floor
    (:func:`~advdyn.experiments.simulated.saturated`).
    """
    setup = config.setup()
    net, u, gen = setup.draw(seed)
    n_s, n_r = len(config.scales), len(config.ratios)
    objective = setup.objective(net, u, [s for s in config.scales for _ in config.ratios])
    eps = torch.tensor([s * r for s in config.scales for r in config.ratios],
                       dtype=torch.float64)
    censuses = sphere_census(objective, eps, grid=config.scan_grid(),
                             starts=config.census_starts, seed=seed, progress=progress)

    def counts(kind: str) -> np.ndarray:
        return np.array([len(getattr(c, kind)) for c in censuses]).reshape(n_s, n_r)

    gaps = np.array([float(c.info.get("min_gap_cells", np.nan)) for c in censuses])
    chao1 = np.array([float(c.unseen.get("minima", {}).get("chao1", np.nan))
                      for c in censuses])
    cells = [b for b, c in enumerate(censuses) for _ in c.maxima]
    steps = np.zeros(0, dtype=np.int64)
    stuck = np.zeros(0, dtype=bool)
    if cells:
        rows = torch.tensor(cells)
        tops = torch.tensor(np.stack([p.delta for c in censuses for p in c.maxima]))
        start = perturbed_starts(tops, eps[rows], config.perturb, gen)
        stuck = saturated(objective.select(rows), start)
        res = run_pgd(objective.select(rows), eps[rows],
                      step_size(config.rule, config.rho, eps[rows]), config.steps,
                      rule=config.rule, start=start,
                      record=Recorder(fields=("delta",), dtype="float64"), progress=progress)
        assert res.trajectory is not None
        steps = settle_steps(np.asarray(res.trajectory.delta),
                             minima_targets(censuses, config.dim, config.tol).rows(cells))
    return {"seed": int(seed), "minima": counts("minima"), "maxima": counts("maxima"),
            "saddles": counts("saddles"), "degenerate": counts("degenerate"),
            "min_gap_cells": gaps.reshape(n_s, n_r), "chao1_minima": chao1.reshape(n_s, n_r),
            "start_cell": np.asarray(cells, dtype=int),
            "escape_steps": steps, "escape_saturated": stuck}


def _trend(values: np.ndarray) -> dict[str, list[int]]:
    """Per column of ``values`` ``(S, R)``: how many consecutive rows go up, down, or tie."""
    diff = np.diff(values, axis=0)
    return {"up": (diff > 0).sum(axis=0).tolist(), "down": (diff < 0).sum(axis=0).tolist(),
            "tie": (diff == 0).sum(axis=0).tolist()}


def _nan_list(a: np.ndarray) -> list:
    """A nested list with NaN written as None (JSON has no NaN)."""
    return [[None if not np.isfinite(v) else float(v) for v in row] for row in a]


def aggregate(config: PhaseConfig, per_seed: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Combine :func:`phase_seed` results into the phase diagram (see the module docstring)."""
    n_s, n_r = len(config.scales), len(config.ratios)
    mins = np.stack([np.asarray(r["minima"]) for r in per_seed]).astype(float)
    maxs = np.stack([np.asarray(r["maxima"]) for r in per_seed]).astype(float)
    pooled: list[list[float]] = [[] for _ in range(n_s * n_r)]
    moving: list[list[float]] = [[] for _ in range(n_s * n_r)]
    unsettled = np.zeros(n_s * n_r)
    stuck = np.zeros(n_s * n_r)
    for r in per_seed:
        for cell, t, sat in zip(np.asarray(r["start_cell"]), np.asarray(r["escape_steps"]),
                                np.asarray(r["escape_saturated"]), strict=True):
            pooled[cell].append(float(config.steps if t < 0 else t))
            if not sat:
                moving[cell].append(pooled[cell][-1])
            unsettled[cell] += t < 0
            stuck[cell] += sat
    n_starts = np.array([len(p) for p in pooled], dtype=float)

    def cell_stat(fn: Any, runs: list[list[float]] = pooled) -> np.ndarray:
        return np.array([fn(p) if p else np.nan for p in runs]).reshape(n_s, n_r)

    mean_min = mins.mean(axis=0)
    mean_esc = cell_stat(np.mean)
    gaps = np.stack([np.asarray(r["min_gap_cells"], dtype=float) for r in per_seed])
    smallest = int(np.argmin(config.scales))
    return {
        "experiment": "phase", "config": dataclasses.asdict(config), "notes": NOTES,
        "scales": list(config.scales), "ratios": list(config.ratios),
        "seeds": [int(r["seed"]) for r in per_seed],
        "mean_minima": mean_min.tolist(), "std_minima": mins.std(axis=0).tolist(),
        "min_minima": mins.min(axis=0).tolist(), "max_minima": mins.max(axis=0).tolist(),
        "frac_one_minimum": (mins == 1).mean(axis=0).tolist(),
        "mean_maxima": maxs.mean(axis=0).tolist(),
        "mean_escape_steps": _nan_list(mean_esc), "std_escape_steps": _nan_list(
            cell_stat(np.std)), "median_escape_steps": _nan_list(cell_stat(np.median)),
        "unsettled_fraction": _nan_list((unsettled / np.maximum(n_starts, 1)).reshape(
            n_s, n_r)),
        "saturated_fraction": _nan_list((stuck / np.maximum(n_starts, 1)).reshape(n_s, n_r)),
        "mean_escape_steps_unsaturated": _nan_list(cell_stat(np.mean, moving)),
        "escape_starts": n_starts.reshape(n_s, n_r).astype(int).tolist(),
        "minima_per_seed": mins.astype(int).tolist(),
        "census_min_gap_cells": float(np.nanmin(gaps)) if np.isfinite(gaps).any() else None,
        "mean_chao1_minima": _nan_list(np.mean([np.asarray(r["chao1_minima"], dtype=float)
                                                for r in per_seed], axis=0)),
        "checks": {
            "smallest_scale": config.scales[smallest],
            "mean_minima_at_smallest_scale": mean_min[smallest].tolist(),
            "exactly_one_minimum_at_smallest_scale": bool((mins[:, smallest] == 1).all()),
            "mean_minima_by_scale": mean_min.mean(axis=1).tolist(),
            "minima_trend_with_scale_per_ratio": _trend(mean_min[np.argsort(config.scales)]),
            "mean_escape_by_scale": _nan_list(np.nanmean(mean_esc, axis=1)[None])[0],
            "escape_trend_with_scale_per_ratio": _trend(mean_esc[np.argsort(config.scales)]),
        },
    }


def run_phase(config: PhaseConfig, *, progress: bool = False) -> dict[str, Any]:
    """:func:`phase_seed` for seeds ``seed … seed+seeds-1`` (a progress bar over seeds), then
    :func:`aggregate`. Pure: the same configuration gives the same result."""
    seeds = range(config.seed, config.seed + config.seeds)
    bar = tqdm(seeds, desc="phase", unit="seed", disable=not progress)
    return aggregate(config, [phase_seed(config, s, progress=progress) for s in bar])


def seed_job(run_seed: int, **parameters: Any) -> dict[str, Any]:
    """Job-runner entry point: :func:`phase_seed` for one seed (JSON parameters of
    :class:`PhaseConfig`); combine the jobs' results with :func:`aggregate`."""
    values: dict[str, Any] = {k: tuple(v) if isinstance(v, list) else v
                              for k, v in parameters.items()}
    return phase_seed(PhaseConfig(**values), run_seed)


def write_outputs(results: dict[str, Any], folder: Path) -> list[Path]:
    """Write :func:`aggregate`'s results into ``folder`` (created if needed): ``phase.json`` and
    the heatmaps as ``phase.png`` and ``phase.pdf``. Both ``advdyn phase`` and the experiment's
    summary write through here; returns the paths written."""
    folder.mkdir(parents=True, exist_ok=True)
    written = write_json(folder / "phase.json", results)
    return [written, *save_figure(phase_figure(results), folder, "phase")]


PER_SEED = ("seed", "seeds")  # the per-seed job's own seed replaces these


def phase_jobs(config: PhaseConfig) -> list[Job]:
    """One :func:`seed_job` per seed; a job's configuration holds its seed as ``run_seed`` and
    not ``seed``/``seeds``, so a seed's job (and its cached result) is the same whatever the
    range of seeds it is part of."""
    shared = {k: v for k, v in config_dict(config).items() if k not in PER_SEED}
    return [Job("advdyn.experiments.phase:seed_job", {**shared, "run_seed": s})
            for s in range(config.seed, config.seed + config.seeds)]


def phase_row(result: JobResult) -> dict[str, Any]:
    """A seed's scalars for a sweep's table, over all cells of its grid: mean numbers of local
    minima and maxima of L per cell, escape runs, their mean and median steps (unsettled runs
    counted as the budget ``steps``), and the unsettled and saturated fractions."""
    value, budget = result.value, int(result.job.config["steps"])
    steps = np.asarray(value["escape_steps"])
    censored = np.where(steps < 0, budget, steps).astype(float)
    runs = int(steps.size)
    return {"mean_minima": float(np.mean(value["minima"])),
            "mean_maxima": float(np.mean(value["maxima"])),
            "escape_runs": runs,
            "mean_escape_steps": float(censored.mean()) if runs else None,
            "median_escape_steps": float(np.median(censored)) if runs else None,
            "unsettled_fraction": float((steps < 0).mean()) if runs else None,
            "saturated_fraction": float(np.mean(value["escape_saturated"])) if runs else None}


def _rank_trend(values: np.ndarray) -> float:
    """Spearman's rank correlation of ``values`` (finite ones) with their position (ascending
    scale); 0 where fewer than two values differ."""
    v = values[np.isfinite(values)]
    if v.size < 2 or np.ptp(v) == 0:
        return 0.0
    return float(spearmanr(np.arange(v.size), v).statistic)


def _trends(scales: Sequence[float], table: Sequence[Sequence[float | None]]
            ) -> list[tuple[float, float, float]]:
    """Per ratio (column of ``table``, rows: scales): the value at the smallest and at the
    largest scale and the rank correlation with the scale."""
    order = np.argsort(scales)
    v = np.array([[np.nan if x is None else x for x in row] for row in table], dtype=float)
    v = v[order]
    return [(v[0, j], v[-1, j], _rank_trend(v[:, j])) for j in range(v.shape[1])]


def _grows(trend: tuple[float, float, float]) -> bool:
    """Rises with scale: larger at the largest scale than at the smallest, and positively rank
    correlated with the scale."""
    first, last, rho = trend
    return bool(last > first and rho > 0)


def _verdict(holds: Sequence[bool]) -> str:
    return "supported" if all(holds) else "partly supported" if any(holds) else "not supported"


def phase_claims(results: Mapping[str, Any]) -> list[Claim]:
    """The two halves of SPEC §5.1 measured on the phase diagram (see the claims' notes)."""
    cfg, scales, ratios = results["config"], results["scales"], results["ratios"]
    small, big = min(scales), max(scales)
    n_r, n_seeds = len(ratios), len(results["seeds"])
    at_small = results["checks"]["mean_minima_at_smallest_scale"]
    one = all(v == 1.0 for v in at_small)
    minima = _trends(scales, results["mean_minima"])
    grows = [_grows(t) for t in minima]
    lo_r, hi_r = int(np.argmin(ratios)), int(np.argmax(ratios))
    setting = (f"{len(scales)} × {n_r} grid (scales {small:g}–{big:g}, ratios "
               f"{min(ratios):g}–{max(ratios):g}), {n_seeds} seeds, d = {cfg['dim']}, m = "
               f"{cfg['width']}, {cfg['loss']} loss")
    minima_claim = Claim(
        "§5.1 (minima)",
        "at the smallest input scale L has on average exactly one local minimum on the sphere "
        "at every ratio; at fixed ratio the number grows with the scale",
        f"mean minima at scale {small:g}: 1 at {sum(v == 1.0 for v in at_small)}/{n_r} ratios; "
        f"rises with scale at {sum(grows)}/{n_r} ratios (ratio {ratios[lo_r]:g}: "
        f"{minima[lo_r][0]:.3g} → {minima[lo_r][1]:.3g}; ratio {ratios[hi_r]:g}: "
        f"{minima[hi_r][0]:.3g} → {minima[hi_r][1]:.3g}); smallest Spearman ρ(scale, mean "
        f"minima) {min(t[2] for t in minima):.2f}",
        _verdict([one, all(grows)]),
        note=f"{setting}. Rises = larger at the largest than at the smallest scale and "
             "positively rank-correlated with the scale (Spearman ρ > 0).")
    escape = _trends(scales, results["mean_escape_steps"])
    moving = _trends(scales, results["mean_escape_steps_unsaturated"])
    faster = [_grows(t) for t in escape]
    sat = np.array([[np.nan if x is None else x for x in row]
                    for row in results["saturated_fraction"]], dtype=float)
    escape_claim = Claim(
        "§5.1 (escape)",
        "at fixed ratio, the smaller the input scale the faster PGD escapes from a local "
        "maximum of L",
        f"mean escape steps rise with scale at {sum(faster)}/{n_r} ratios (ratio "
        f"{ratios[lo_r]:g}: {escape[lo_r][0]:.3g} at scale {small:g} → {escape[lo_r][1]:.3g} "
        f"at {big:g}; ratio {ratios[hi_r]:g}: {escape[hi_r][0]:.3g} → {escape[hi_r][1]:.3g}); "
        f"Spearman ρ(scale, escape steps) from {min(t[2] for t in escape):.2f} to "
        f"{max(t[2] for t in escape):.2f}",
        _verdict(faster),
        note=f"{setting}; {cfg['rule']} steps, ρ = {cfg['rho']:g}, budget {cfg['steps']}. "
             "Escape = steps until the iterate stays near a local minimum of L (unsettled runs "
             "counted as the budget). Runs starting where the loss saturates (‖∇L‖ ≤ 1e-30, up "
             f"to {np.nanmax(sat):.0%} of a cell's runs) cannot move; without them the steps "
             f"rise with scale at {sum(_grows(t) for t in moving)}/{n_r} ratios. At large scale "
             "the nearest minimum can be close to the maximum, which shortens the escape.")
    return [minima_claim, escape_claim]


def _ratio_row(ratio: float, minima: tuple[float, float, float],
               escape: tuple[float, float, float]) -> list[Any]:
    return [ratio, round(float(minima[0]), 3), round(float(minima[1]), 3), round(minima[2], 3),
            round(float(escape[0]), 1), round(float(escape[1]), 1), round(escape[2], 3)]


def phase_summarize(config: PhaseConfig, results: list[JobResult], folder: Path) -> Outcome:
    """Aggregate the seeds (:func:`aggregate`), write the files (:func:`write_outputs`) and
    report the claims with a per-ratio table of the trends behind them."""
    data = aggregate(config, [r.value for r in results])
    write_outputs(data, folder)
    small, big = min(config.scales), max(config.scales)
    minima = _trends(config.scales, data["mean_minima"])
    escape = _trends(config.scales, data["mean_escape_steps"])
    caption = (
        "Heatmaps over input scale ‖x‖ (rows) and ratio r = ε/‖x‖ (columns), log axes, "
        f"{len(data['seeds'])} seeds. Left: mean number of local minima of L on the sphere; the "
        "red line bounds the region where every seed has exactly one. Look for that region "
        "covering the smallest scales at every ratio and the count growing towards large scale "
        "and large ratio. Middle: mean PGD steps from a perturbed local maximum of L until the "
        f"iterate stays near a local minimum (≥: some runs unsettled after {config.steps} "
        "steps)"
        + (f"; at small scale about 2/ρ = {2 / config.rho:.0f} steps, straight across the disk"
           if config.rule == "normalized" else "")
        + ". Look whether, up each column (growing scale), it grows too. Right: fraction of "
        "escape runs that start where the loss saturates and cannot move.")
    return Outcome(
        text=f"Per seed one Xavier two-layer network and one direction (d = {config.dim}, "
             f"m = {config.width}); every cell has x = scale·u and ε = ratio·scale. Census: "
             + ("the exact circle scan. " if config.dim == 2 else
                "the multistart census (counts are lower bounds). ")
             + "Escape: from every local maximum of L found, slightly perturbed, PGD descent "
             f"({config.rule} steps, ρ = {config.rho:g}) for {config.steps} steps.",
        claims=phase_claims(data),
        figures=[Figure(folder / "phase.png", caption,
                        title="Phase diagram: local minima of L and escape steps")],
        tables=[Table(f"Per ratio: trends with the input scale (scale {small:g} → {big:g}; ρ: "
                      "Spearman rank correlation with the scale)",
                      ["ratio", f"mean minima at {small:g}", f"mean minima at {big:g}",
                       "ρ minima", f"escape steps at {small:g}", f"escape steps at {big:g}",
                       "ρ escape"],
                      [_ratio_row(r, m, e) for r, m, e in zip(config.ratios, minima, escape,
                                                               strict=True)])])


EXPERIMENT = Experiment(
    name="phase", title="Phase diagram: input scale × ratio", config=PhaseConfig,
    jobs=phase_jobs, summarize=phase_summarize, row=phase_row,
    quick={"scales": log_grid(0.01, 100.0, 8), "ratios": log_grid(0.1, 10.0, 8)},
    description="Over a log grid of input scales and ratios (ε = ratio·‖x‖) and several "
                "networks: how many local minima L = -ℓ has on the sphere, and how many PGD "
                "steps the attack takes from a local maximum of L (where it is weakest) to a "
                "local minimum.")
