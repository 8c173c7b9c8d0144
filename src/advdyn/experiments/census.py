r"""The census of the critical points of L on the sphere over input scale × ratio × seed.

One job is one simulated problem (:mod:`advdyn.experiments.simulated`): the seed's Xavier
two-layer network and unit direction ``u``, the point ``x = scale·u`` and the radius
``ε = ratio·scale``, built exactly as Figure 1 and the phase diagram build their cells. The
critical points of ``L = -ℓ`` on ``εS^{d-1}`` are counted by
:func:`~advdyn.experiments.simulated.sphere_census`, as there: the exact circle scan for
``d = 2`` (:func:`~advdyn.sphere.census.scan_circle` on the adaptive angle grid
:class:`~advdyn.sphere.scan.ScanGrid`), the multistart census for ``d > 2``
(:func:`~advdyn.sphere.census.census`; its counts are lower bounds and it estimates what it may
have missed). A local minimum of L is a good adversary, a local maximum is where the attack is
weakest.

A configuration is a grid (``scales`` × ``ratios`` × ``seeds``) and has one job per point, so a
sweep may vary one value per grid point (``scales: [0.01, 1, 100]``); the result of a larger
configuration holds the counts per (scale, ratio) over the seeds.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from advdyn.errors import check_number
from advdyn.experiments.base import Experiment, Job, config_dict
from advdyn.experiments.simulated import (
    SimulatedProblemConfig,
    check_grid,
    sphere_census,
)
from advdyn.sphere.census import Census

GRID = ("scales", "ratios", "seeds", "seed")  # the grid's axes; a job has one point of them
SCAN_ONLY = ("angle_density", "min_angles", "max_angles")  # knobs of the d = 2 scan
MULTISTART_ONLY = ("census_starts",)  # knobs of the d > 2 census


@dataclass(frozen=True)
class CensusConfig(SimulatedProblemConfig):
    """The grid and the problem (defaults: the full run).

    ``scales``, ``ratios``: input scales ``‖x‖`` and ratios ``r`` (``ε = r‖x‖``); ``seeds``
    networks, seeds ``seed, seed+1, …``; ``dim``, ``width``, ``loss``, ``label``, ``kappa``,
    ``gamma``: the simulated problem (:class:`SimulatedSetup`); ``angle_density``,
    ``min_angles``, ``max_angles``: the circle scan's grid (d = 2, :class:`ScanGrid`);
    ``census_starts``: first-round uniform starts of the multistart census (d > 2; default:
    the census's own).
    """

    scales: tuple[float, ...] = (0.01, 0.1, 1.0, 10.0, 100.0)
    ratios: tuple[float, ...] = (0.1, 1.0, 10.0)
    seeds: int = 4
    seed: int = 0
    dim: int = 2
    census_starts: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "scales", check_grid("scales", self.scales))
        object.__setattr__(self, "ratios", check_grid("ratios", self.ratios))
        check_number("seeds", self.seeds, positive=True, integer=True)
        check_number("seed", self.seed, integer=True)
        self.scan_grid()
        if self.census_starts is not None:
            check_number("census_starts", self.census_starts, positive=True, integer=True)
        self.setup()


def _unseen(c: Census) -> dict[str, Any]:
    """What the census may have missed: the scan's resolution (d = 2) or the multistart
    census's estimates for minima and maxima (d > 2)."""
    if c.method == "circle-scan":
        gap = c.info.get("min_gap_cells")
        return {"method": "grid", "n_angles": int(c.info["n_angles"]),
                "grid_cell_rad": float(c.info["grid_cell"]),
                "min_gap_cells": None if gap is None else float(gap)}
    out: dict[str, Any] = {"method": "multistart", "starts_used": int(c.info["starts_used"])}
    for kind in ("minima", "maxima"):
        u = c.unseen[kind]
        out[kind] = {"chao1": float(u["chao1"]),
                     "unseen_mass_good_turing": u["unseen_mass_good_turing"],
                     "complete_likely": bool(u["complete_likely"])}
    return out


def count_problem(config: CensusConfig, scale: float, ratio: float, seed: int
                  ) -> dict[str, Any]:
    """The census of one problem: the network and direction of ``seed``, ``x = scale·u``,
    ``ε = ratio·scale``. Returns the counts of local minima, maxima, saddles and degenerate
    points of L on the sphere, the minima that are also KKT points of the ball problem, the
    least and largest L over the minima (None without minima), the unseen estimate
    (:func:`_unseen`) and the whole census (:meth:`Census.to_json`)."""
    setup = config.setup()
    net, u, _ = setup.draw(seed)
    objective = setup.objective(net, u, [scale])
    eps = torch.tensor([scale * ratio], dtype=torch.float64)
    c = sphere_census(objective, eps, grid=config.scan_grid(), starts=config.census_starts,
                      seed=seed)[0]
    values = [p.L for p in c.minima]
    return {"scale": scale, "ratio": ratio, "seed": seed, "eps": c.eps, "method": c.method,
            **c.counts, "kkt_minima": sum(p.kkt for p in c.minima),
            "min_L_minima": min(values) if values else None,
            "max_L_minima": max(values) if values else None,
            "unseen": _unseen(c), "census": c.to_json()}


def census_job(scale: float, ratio: float, seed: int, **parameters: Any) -> dict[str, Any]:
    """Job-runner entry point: :func:`count_problem` for one point (JSON parameters of
    :class:`CensusConfig` other than the grid's)."""
    config = CensusConfig(scales=(scale,), ratios=(ratio,), seeds=1, seed=seed, **parameters)
    return count_problem(config, config.scales[0], config.ratios[0], config.seed)


def census_jobs(config: CensusConfig) -> list[Job]:
    """One job per (scale, ratio, seed), in that order (seed fastest). A job's configuration
    holds its own point and only the census knobs of its method, so its key does not depend on
    the rest of the grid or on knobs that do not apply."""
    unused = MULTISTART_ONLY if config.dim == 2 else SCAN_ONLY
    shared = {k: v for k, v in config_dict(config).items() if k not in GRID + unused}
    return [Job("advdyn.experiments.census:census_job",
                {"scale": s, "ratio": r, "seed": seed, **shared})
            for s in config.scales for r in config.ratios
            for seed in range(config.seed, config.seed + config.seeds)]


def census_row(value: Mapping[str, Any]) -> dict[str, Any]:
    """A job's columns in a sweep's table: the counts, the L range over the minima and the
    unseen estimate (d = 2: angles and the closest pair in grid cells; d > 2: starts used,
    Chao1 estimate and Good–Turing unseen mass of the minima). ε = scale·ratio is in the
    cached result."""
    unseen = value["unseen"]
    row = {k: value[k] for k in ("minima", "maxima", "saddles", "degenerate", "kkt_minima",
                                 "min_L_minima", "max_L_minima")}
    if unseen["method"] == "grid":
        return {**row, "n_angles": unseen["n_angles"], "min_gap_cells": unseen["min_gap_cells"]}
    minima = unseen["minima"]
    return {**row, "starts_used": unseen["starts_used"], "chao1_minima": minima["chao1"],
            "unseen_mass_minima": minima["unseen_mass_good_turing"]}


def census_collect(config: CensusConfig, values: list[Mapping[str, Any]]) -> dict[str, Any]:
    """The result: per (scale, ratio) cell the counts over the seeds (``cells``, sorted by
    scale then ratio), the section's paragraph and its table."""
    by_cell: dict[tuple[float, float], dict[str, list[int]]] = defaultdict(
        lambda: {"minima": [], "maxima": [], "saddles": []})
    for v in values:
        for kind, counts in by_cell[(v["scale"], v["ratio"])].items():
            counts.append(v[kind])
    cells = [{"scale": s, "ratio": r, **c} for (s, r), c in sorted(by_cell.items())]
    rows = []
    for c in cells:
        m = np.asarray(c["minima"])
        rows.append([c["scale"], c["ratio"], c["scale"] * c["ratio"], float(m.mean()),
                     int(m.min()), int(m.max()), float((m == 1).mean()),
                     float(np.mean(c["maxima"])), float(np.mean(c["saddles"]))])
    one = [r for r in rows if r[6] == 1.0]
    largest = max(rows, key=lambda r: r[3])
    text = (f"{len(values)} problems ({len(config.scales)} scales × {len(config.ratios)} "
            f"ratios × {config.seeds} seeds). Every seed has exactly one local minimum of L in "
            f"{len(one)} of {len(rows)} (scale, ratio) cells; the most minima on average, "
            f"{largest[3]:.3g}, at scale {largest[0]:g}, ratio {largest[1]:g}.")
    if config.dim > 2:
        text += " The multistart census finds at most every point: counts are lower bounds."
    return {"config": config_dict(config), "cells": cells, "text": text,
            "tables": [{"title": "Critical points of L on the sphere per (scale, ratio), over "
                                 "seeds",
                        "columns": ["scale", "ratio", "ε", "mean minima", "min", "max",
                                    "fraction with one minimum", "mean maxima",
                                    "mean saddles"],
                        "rows": rows}]}


EXPERIMENT = Experiment(
    name="census", title="Census of the critical points of L on the sphere", config=CensusConfig,
    jobs=census_jobs, collect=census_collect, row=census_row, quick={"seeds": 2},
    description="For simulated two-layer problems over input scale × ratio × seed: how many "
                "local minima (good adversaries), maxima (where the attack is weakest) and "
                "saddles L = -ℓ has on the sphere ‖δ‖ = ε, counted exactly by the circle scan "
                "for d = 2 and by the multistart census (with an estimate of what it missed) "
                "for d > 2.")
