r"""The threshold ``τ_ε`` of Theorem 5.1: the largest ε below which L has exactly one local minimum
on the sphere ``εS^{d-1}``, as a function of width m, dimension d and input scale.

For a problem (network of :class:`~advdyn.experiments.simulated.SimulatedSetup`, point
``x = c·u``) and a log-spaced grid of ratios ``r_1 < … < r_n`` (``ε = r·c``), the number of local
minima ``N(ε)`` is counted (d = 2: the exact circle scan, one batched call for the whole grid;
d ≥ 3: the multistart census, whose counts are lower bounds). With ``k`` the first grid index
where ``N ≠ 1``, ``τ`` lies in ``[r_{k-1}, r_k)``; ``refine`` bisection steps (geometric
midpoints, each asking ``N = 1``) narrow the bracket. ``τ`` is reported as the lower end of the
final bracket (``τ_ε = τ·c``). If ``N ≠ 1`` already at ``r_1`` only ``τ < r_1`` is known
(``tau = None``, ``bound = "below_grid"``); if ``N = 1`` on the whole grid only ``τ ≥ r_n``
(``bound = "above_grid"``). ``N`` need not be monotone in ε: ``τ`` is the first change.

The sweep varies one axis at a time around a base setting ``(base_dim, base_width, base_scale)``:
``dims`` at the base width and scale, ``widths`` at the base dimension and scale, ``scales`` at
the base dimension and width; each setting over ``seeds`` networks. Per setting the table gives
the median of ``τ_ε`` and its range over seeds (the interval).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from advdyn.errors import check_number, fail
from advdyn.experiments.base import Experiment, Job, config_dict, tuple_lists
from advdyn.experiments.simulated import ScanGrid, SimulatedSetup, check_grid
from advdyn.sphere import scan_circle
from advdyn.sphere.census import census


@dataclass(frozen=True)
class ThresholdConfig:
    """``dims``, ``widths``, ``scales``: the swept axes around ``base_dim``, ``base_width``,
    ``base_scale``; ``ratio_min``, ``ratio_max``, ``n_ratios``: the grid of ``r = ε/‖x‖``;
    ``refine`` bisection steps; ``seeds`` networks per setting (seeds ``seed …``); ``loss``,
    ``label``: the problem; ``census_starts`` first-round starts of the census (d ≥ 3) and
    ``census_max_starts`` its cap; ``below_dim``, ``below_width``: one more setting with
    m < d^2.5 (at the base scale) when ``with_below``."""

    dims: tuple[int, ...] = (2, 3, 4)
    widths: tuple[int, ...] = (64, 256, 1024, 4000)
    scales: tuple[float, ...] = (0.1, 1.0, 10.0, 100.0)
    base_dim: int = 2
    base_width: int = 256
    base_scale: float = 1.0
    ratio_min: float = 1e-3
    ratio_max: float = 30.0
    n_ratios: int = 25
    refine: int = 8
    seeds: int = 10
    seed: int = 0
    loss: str = "bce"
    label: float = 0.0
    census_starts: int = 128
    census_max_starts: int = 512
    below_dim: int = 4
    below_width: int = 16
    with_below: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "dims", tuple(int(check_number("dims", d, integer=True))
                                               for d in check_grid("dims", self.dims)))
        object.__setattr__(self, "widths", tuple(int(check_number("widths", m, integer=True))
                                                 for m in check_grid("widths", self.widths)))
        object.__setattr__(self, "scales", check_grid("scales", self.scales))
        check_number("base_dim", self.base_dim, positive=True, integer=True)
        check_number("base_width", self.base_width, positive=True, integer=True)
        SimulatedSetup(self.base_dim, self.base_width, self.loss, self.label)
        for d in self.dims:
            SimulatedSetup(d, self.base_width, self.loss, self.label)
        check_number("base_scale", self.base_scale, positive=True)
        lo = check_number("ratio_min", self.ratio_min, positive=True)
        if check_number("ratio_max", self.ratio_max, positive=True) <= lo:
            raise fail("ratio_max", f"must exceed ratio_min = {lo}, got {self.ratio_max}")
        if check_number("n_ratios", self.n_ratios, positive=True, integer=True) < 2:
            raise fail("n_ratios", f"needs at least 2 ratios, got {self.n_ratios}")
        check_number("refine", self.refine, nonnegative=True, integer=True)
        for name in ("seeds", "census_starts", "census_max_starts", "below_dim", "below_width"):
            check_number(name, getattr(self, name), positive=True, integer=True)
        if self.below_width >= self.below_dim**2.5:
            raise fail("below_width", f"must be < below_dim^2.5 = {self.below_dim**2.5:.3g}")
        check_number("seed", self.seed, integer=True)

    def settings(self) -> list[tuple[int, int, float]]:
        """The distinct ``(d, m, scale)`` settings of the one-axis-at-a-time sweep."""
        out = [(d, self.base_width, self.base_scale) for d in self.dims]
        out += [(self.base_dim, m, self.base_scale) for m in self.widths]
        out += [(self.base_dim, self.base_width, c) for c in self.scales]
        if self.with_below:
            out += [(self.below_dim, self.below_width, self.base_scale)]
        return list(dict.fromkeys(out))


def count_minima(setup: SimulatedSetup, seed: int, scale: float, ratios: np.ndarray,
                 cfg: ThresholdConfig) -> tuple[np.ndarray, float]:
    """Number of local minima of L on the sphere of radius ``r·scale`` for each ratio ``r`` (d = 2:
    one batched scan with the finest angle grid :class:`ScanGrid` asks for on this grid), and
    the largest unseen basin mass of the censuses that counted them (0 for the exact scan)."""
    net, u, _ = setup.draw(seed)
    eps = torch.as_tensor(ratios * scale, dtype=torch.float64)
    if setup.dim == 2:
        n_angles = int(ScanGrid().angles(eps, net).max())
        found = scan_circle(setup.objective(net, u, [scale]), eps, n_angles)
    else:
        obj = setup.objective(net, u, [scale])
        found = [census(obj, float(e), starts=cfg.census_starts,
                        max_starts=cfg.census_max_starts, seed=seed) for e in eps]
    return (np.array([len(c.minima) for c in found]),
            max((c.unseen_minima_mass for c in found), default=0.0))


def tau(setup: SimulatedSetup, seed: int, scale: float, cfg: ThresholdConfig
        ) -> dict[str, Any]:
    """``τ`` (ratio) for one problem, with its bracket, the counts on the grid and the largest
    unseen basin mass of its censuses (``unseen_mass``)."""
    grid = np.geomspace(cfg.ratio_min, cfg.ratio_max, cfg.n_ratios)
    counts, unseen = count_minima(setup, seed, scale, grid, cfg)
    bad = np.flatnonzero(counts != 1)
    out: dict[str, Any] = {"counts": counts.tolist(), "grid": grid.tolist(),
                           "unseen_mass": unseen}
    if bad.size == 0:
        return {**out, "tau": float(grid[-1]), "lo": float(grid[-1]), "hi": None,
                "bound": "above_grid"}
    if bad[0] == 0:
        return {**out, "tau": None, "lo": None, "hi": float(grid[0]), "bound": "below_grid"}
    lo, hi = float(grid[bad[0] - 1]), float(grid[bad[0]])
    for _ in range(cfg.refine):
        mid = math.sqrt(lo * hi)
        count, mass = count_minima(setup, seed, scale, np.array([mid]), cfg)
        out["unseen_mass"] = max(out["unseen_mass"], mass)
        if count[0] == 1:
            lo = mid
        else:
            hi = mid
    return {**out, "tau": lo, "lo": lo, "hi": hi, "bound": "bracketed"}


def count_at_ten_tau(setup: SimulatedSetup, seed: int, scale: float, tau_ratio: float | None,
                     cfg: ThresholdConfig) -> int | None:
    """The number of local minima at ``ε = 10·τ_ε`` (the control; None without a τ)."""
    if tau_ratio is None:
        return None
    return int(count_minima(setup, seed, scale, np.array([10 * tau_ratio]), cfg)[0][0])


def run_threshold(cfg: ThresholdConfig, *, progress: bool = False) -> dict[str, Any]:
    """Every setting × seed: ``τ`` (ratio) and ``τ_ε = τ·scale``; per-setting summaries."""
    per_problem: list[dict[str, Any]] = []
    jobs = [(d, m, c, s) for d, m, c in cfg.settings()
            for s in range(cfg.seed, cfg.seed + cfg.seeds)]
    for d, m, c, s in tqdm(jobs, desc="threshold", unit="problem", disable=not progress):
        setup = SimulatedSetup(d, m, cfg.loss, cfg.label)
        t = tau(setup, s, c, cfg)
        regime_eps = math.log(m) ** -2
        per_problem.append({"dim": d, "width": m, "scale": c, "seed": s, "tau_ratio": t["tau"],
                            "minima_at_ten_tau": count_at_ten_tau(setup, s, c, t["tau"], cfg),
                            "width_ok": m >= d**2.5,
                            "one_min_in_regime": t["bound"] != "below_grid"
                            and t["tau"] * c >= regime_eps,
                            "tau_eps": None if t["tau"] is None else t["tau"] * c,
                            "bracket_lo": t["lo"], "bracket_hi": t["hi"], "bound": t["bound"],
                            "max_count_on_grid": int(max(t["counts"])),
                            "census_unseen_mass": t["unseen_mass"],
                            "regime_eps": regime_eps})
    summary = []
    for d, m, c in cfg.settings():
        grp = [p for p in per_problem if (p["dim"], p["width"], p["scale"]) == (d, m, c)]
        v = np.array([p["tau_eps"] for p in grp if p["tau_eps"] is not None])
        med = float(np.median(v)) if v.size else None
        summary.append({"dim": d, "width": m, "scale": c, "problems": len(grp),
                        "tau_eps_median": med,
                        "tau_eps_min": float(v.min()) if v.size else None,
                        "tau_eps_max": float(v.max()) if v.size else None,
                        "tau_ratio_median": None if med is None else med / c,
                        "below_grid": sum(p["bound"] == "below_grid" for p in grp),
                        "above_grid": sum(p["bound"] == "above_grid" for p in grp),
                        "regime_eps": math.log(m) ** -2})
    return {"problems": per_problem, "summary": summary,
            "base": {"dim": cfg.base_dim, "width": cfg.base_width, "scale": cfg.base_scale}}


def setting_job(**parameters: Any) -> dict[str, Any]:
    """Job entry point: :func:`run_threshold` of one setting (``ThresholdConfig(**parameters)``
    with one value per axis)."""
    return run_threshold(ThresholdConfig(**tuple_lists(parameters)))


def jobs(config: ThresholdConfig) -> list[Job]:
    """One job per ``(d, m, scale)`` setting (all its seeds), so settings run in parallel."""
    base = config_dict(config)
    return [Job("advdyn.experiments.threshold:setting_job",
                {**base, "dims": [d], "widths": [m], "scales": [c], "base_dim": d,
                 "base_width": m, "base_scale": c, "with_below": False})
            for d, m, c in config.settings()]


def collect(config: ThresholdConfig, values: list[dict[str, Any]]) -> dict[str, Any]:
    """Per-problem thresholds and per-setting summaries; the arms of T5.1: ``main`` (problems
    with m ≥ d^2.5: exactly one minimum throughout ε < (log m)^-2?), ``control`` (the same
    problems at ε = 10·τ_ε) and ``below`` (m < d^2.5)."""
    wanted = set(config.settings())
    problems = [p for v in values for p in v["problems"]
                if (p["dim"], p["width"], p["scale"]) in wanted]
    problems = list({(p["dim"], p["width"], p["scale"], p["seed"]): p for p in problems}.values())
    summary = list({(s["dim"], s["width"], s["scale"]): s for v in values for s in v["summary"]
                    if (s["dim"], s["width"], s["scale"]) in wanted}.values())
    wide = [p for p in problems if p["width_ok"]]
    return {"text": "τ_ε is the first ε (on a log grid of ratios, refined by bisection) at which "
                    "the sphere has not exactly one local minimum of L; d ≥ 3 counts come from "
                    "the multistart census (lower bounds).",
            "tables": [{"title": "τ_ε per setting", "columns": list(summary[0]) if summary
                        else [], "rows": [list(s.values()) for s in summary]}],
            "problems": problems, "summary": summary,
            "base": {"dim": config.base_dim, "width": config.base_width,
                     "scale": config.base_scale},
            "arms": {"main": [{"one_minimum": p["one_min_in_regime"],
                               "unseen_mass": p["census_unseen_mass"]} for p in wide],
                     "control": [{"one_minimum": p["minima_at_ten_tau"] == 1,
                                  "unseen_mass": p["census_unseen_mass"]} for p in wide
                                 if p["minima_at_ten_tau"] is not None],
                     "below": [{"one_minimum": p["one_min_in_regime"],
                                "unseen_mass": p["census_unseen_mass"]} for p in problems
                               if not p["width_ok"]]}}


EXPERIMENT = Experiment(
    name="threshold", title="The threshold τ_ε of Theorem 5.1", config=ThresholdConfig,
    jobs=jobs, collect=collect,
    quick={"dims": (2,), "widths": (64, 256), "scales": (0.1, 1.0, 10.0), "seeds": 5,
           "n_ratios": 10, "refine": 2, "census_starts": 16, "census_max_starts": 32,
           "below_dim": 2, "below_width": 4},
    description="The largest ε below which L has exactly one local minimum on the sphere, "
                "as a function of width m, dimension d and input scale ‖x‖.")
