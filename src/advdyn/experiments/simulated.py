r"""Simulated two-layer problems at a chosen input scale and ratio (Figure 1, the phase diagram).

**Data.** For a seed ``s`` one generator ``G_s`` draws, in this order, the network
``TwoLayerNet.xavier(d, m, κ, γ)`` (``w_r ~ N(0, κ²I)``, ``a_r = ±γ``; defaults ``κ = d^{-1/2}``,
``γ = m^{-1/2}``) and a unit direction ``u = g/‖g‖``, ``g ~ N(0, I_d)``. At input scale ``c`` the
point is ``x = c·u``, so ``‖x‖ = c`` exactly and the radius is ``ε = r‖x‖ = r·c``
(docs/concepts.md). All (scale, ratio) cells of one seed share the network and the direction: the
cells differ by ``c`` and ``r`` only, so the grid isolates the effect of scale and ratio.

**Loss and label (default).** Binary cross-entropy on the logit with label ``y = 0``:
``ℓ = softplus(u)``, ``L = -softplus(f(x+δ))``, ``ℓ' = sigmoid(u) > 0``. ℓ is strictly increasing in
``u``, so ``∇L = -ℓ'(u)∇f`` is a positive multiple of ``-∇f`` and the critical points of L on the
sphere are exactly those of ``f``: local minima of L are the local maxima of the logit. The count
is a property of the network's landscape, never of where a label happens to be crossed (a
quadratic loss ``-(y-u)²`` adds a maximum of L at every crossing ``u = y`` on the sphere, which at
input scale 0.01 happens for a few per cent of seeds purely through the label). The price:
where the logit is very negative ``ℓ' = sigmoid(u)`` is tiny (0 in float64 below ``u ≈ -745``).
The normalised step divides by ``max|∇L|`` before ``‖∇L‖``, so it moves wherever ``∇L ≠ 0``,
however small; a run is stuck only where ``∇L`` underflows to exactly 0 (or, with raw steps,
where ``η‖∇L‖`` is below the rounding of δ). The experiments count the runs whose first step
leaves δ unchanged (:func:`stuck_rows`). The quadratic loss is an option.

**Width.** ``m = 256`` by default: well above the paper's ``m = Ω(d^{5/2})`` for small ``d``, and
wide enough that the ``m`` kinks ``w_rᵀz = 0`` of the features show up on the sphere at large
input scale (the features vary over the sphere by ``~ε‖w_r‖``; once that exceeds the softplus
width 1, each kink crossing the sphere can add an extremum). Counts at large scale grow with
``m``; ``m`` is therefore fixed once for a whole grid.

**Step rule.** ``normalized`` ``δ ← P_B(δ - α∇L/‖∇L‖)`` with ``α = ρε`` (scale-free,
docs/concepts.md: the fair rule across input scales) or ``raw`` ``δ ← P_B(δ - η∇L)`` with
``η = ρε²``.

**Arrival at a minimum.** A trajectory ``δ_0, δ_1, …`` has *settled* at step ``t*`` if for every
``t ≥ t*`` up to the end of the budget some local minimum ``δ°`` of L on the sphere (from the
census) has ``‖δ_t - δ°‖ ≤ min(τε, g°/2)``, ``g°`` the distance from ``δ°`` to the nearest other
critical point. (At large input scale minima and maxima can lie closer than ``τε``; the cap keeps
every maximum out of every target ball, so an escape run never counts as settled where it
starts.) Fixed-length normalised steps can oscillate around a sharp minimum with amplitude up to
about ``ρε``, so ``τ`` should not be smaller than ``ρ`` (default ``τ = ρ``); minima whose balls
are much smaller than ``ρε`` are effectively invisible to the step and are passed over.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from tqdm.auto import tqdm

from advdyn.errors import check_choice, check_number, fail
from advdyn.geometry import L2Ball
from advdyn.losses import SCALAR_LOSSES
from advdyn.models import TwoLayerNet, TwoLayerObjective
from advdyn.sphere.census import Census, census
from advdyn.sphere.scan import ANGLE_DENSITY, MAX_ANGLES, MIN_ANGLES, ScanGrid, scan_circle

STEP_RULES = ("normalized", "raw")


def check_grid(field: str, values: Sequence[float]) -> tuple[float, ...]:
    """A non-empty tuple of distinct finite positive numbers, in the order given."""
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
        raise fail(field, f"expected a list of numbers, got {values!r}")
    out = tuple(check_number(field, v, positive=True) for v in values)
    if not out:
        raise fail(field, "needs at least one value")
    if len(set(out)) != len(out):
        raise fail(field, f"has repeated values {list(out)}")
    return out


@dataclass(frozen=True)
class SimulatedSetup:
    """The network and data choices shared by every cell of a grid (see the module docstring)."""

    dim: int = 2
    width: int = 256
    loss: str = "bce"
    label: float = 0.0
    kappa: float | None = None
    gamma: float | None = None

    def __post_init__(self) -> None:
        if check_number("dim", self.dim, positive=True, integer=True) < 2:
            raise fail("dim", f"the sphere needs dimension ≥ 2, got {self.dim}")
        check_number("width", self.width, positive=True, integer=True)
        check_choice("loss", self.loss, SCALAR_LOSSES)
        y = check_number("label", self.label)
        if self.loss == "bce" and not 0 <= y <= 1:
            raise fail("label", f"bce needs a label in [0, 1], got {y}")
        for name in ("kappa", "gamma"):
            if getattr(self, name) is not None:
                check_number(name, getattr(self, name), positive=True)

    def draw(self, seed: int) -> tuple[TwoLayerNet, torch.Tensor, torch.Generator]:
        """``(net, u, G)``: the seed's network and unit direction, and the generator ``G`` after
        both draws (for further random draws that stay reproducible)."""
        g = torch.Generator().manual_seed(check_number("seed", seed, integer=True))
        net = TwoLayerNet.xavier(self.dim, self.width, self.kappa, self.gamma, generator=g,
                                 dtype=torch.float64)
        u = torch.randn(self.dim, generator=g, dtype=torch.float64)
        return net, u / u.norm(), g

    def objective(self, net: TwoLayerNet, u: torch.Tensor, scales: Sequence[float]
                  ) -> TwoLayerObjective:
        """One row per input scale ``c``: ``x = c·u`` with the setup's loss and label."""
        x = torch.as_tensor(list(scales), dtype=torch.float64)[:, None] * u[None, :]
        return TwoLayerObjective(net, SCALAR_LOSSES[self.loss], x, self.label)


def check_rule(rule: str, rho: float) -> None:
    """Validate the step rule and its relative step ``ρ``."""
    check_choice("rule", rule, STEP_RULES)
    check_number("rho", rho, positive=True)


def step_size(rule: str, rho: float, eps: torch.Tensor) -> torch.Tensor:
    """The step per row: ``α = ρε`` (normalized) or ``η = ρε²`` (raw)."""
    return rho * (eps * eps if rule == "raw" else eps)


def sphere_census(objective: TwoLayerObjective, eps: torch.Tensor, *, grid: ScanGrid,
                  starts: int | None, seed: int, progress: bool = False) -> list[Census]:
    """One census of the critical points of L on ``ε_bS^{d-1}`` per row ``b``: for ``d = 2`` the
    exact circle scan (:func:`advdyn.sphere.scan.scan_circle`, one batched call per distinct
    grid size of the angle rule :class:`~advdyn.sphere.scan.ScanGrid`, the rule
    ``advdyn census`` uses), otherwise the multistart census row by row
    (:func:`advdyn.sphere.census.census`, seed ``seed`` for every row)."""
    if objective.shape == (2,):
        n = grid.for_objective(objective, eps)
        found: dict[int, Census] = {}
        for size in tqdm(np.unique(n), desc="scan", unit="grid", disable=not progress,
                         leave=False):
            rows = np.flatnonzero(n == size)
            idx = torch.as_tensor(rows)
            for b, c in zip(rows, scan_circle(objective.select(idx), eps[idx], int(size)),
                            strict=True):
                found[int(b)] = c
        return [found[b] for b in range(len(n))]
    cells = tqdm(range(objective.rows), desc="census", unit="cell", disable=not progress,
                 leave=False)
    return [census(objective.select(torch.tensor([b])), float(eps[b]), starts=starts,
                   seed=seed) for b in cells]


@dataclass(frozen=True)
class Targets:
    """The local minima of every row as settling targets: ``points`` ``(B, K, d)`` and
    ``radius`` ``(B, K)``, NaN-padded (``K`` the largest count, at least 1)."""

    points: np.ndarray
    radius: np.ndarray

    def rows(self, index: np.ndarray | list[int]) -> Targets:
        """The targets of the given rows (repeats allowed)."""
        return Targets(self.points[index], self.radius[index])


def minima_targets(censuses: Sequence[Census], dim: int, tol: float) -> Targets:
    r"""Each local minimum ``δ°`` of L on the sphere with its tolerance radius
    ``min(τε, ½·dist(δ°, nearest other critical point of the census))``: the ball never
    contains another critical point, in particular not the maximum an escape run starts from."""
    k = max([1, *(len(c.minima) for c in censuses)])
    points = np.full((len(censuses), k, dim), np.nan)
    radius = np.full((len(censuses), k), np.nan)
    for b, c in enumerate(censuses):
        others = np.array([p.delta for p in (*c.minima, *c.maxima, *c.saddles, *c.degenerate)])
        for j, p in enumerate(c.minima):
            gap = np.linalg.norm(others - p.delta, axis=1)
            gap = gap[gap > 0]
            points[b, j] = p.delta
            radius[b, j] = min(tol * c.eps, gap.min() / 2 if gap.size else np.inf)
    return Targets(points, radius)


def settle_steps(delta: np.ndarray, targets: Targets) -> np.ndarray:
    r"""Per trajectory, the step ``t*`` from which it stays within the radius of some local
    minimum (:func:`minima_targets`).

    ``delta`` ``(T+1, B, d)`` the iterates ``δ_0 … δ_T``; ``targets`` for the same ``B`` rows.
    Returns ``t*`` per row, ``-1`` where ``δ_T`` is in no target ball (not settled within the
    budget).
    """
    dist = np.linalg.norm(delta[:, :, None, :] - targets.points[None], axis=-1)  # (T+1, B, K)
    near = (np.nan_to_num(dist, nan=np.inf) <= np.nan_to_num(targets.radius, nan=-1.0)[None]
            ).any(axis=-1)
    t_last = near.shape[0] - 1
    far_rev = ~near[::-1]
    first_far_from_end = np.where(far_rev.any(axis=0), far_rev.argmax(axis=0), t_last + 1)
    settled = t_last + 1 - first_far_from_end
    return np.where(near[-1], settled, -1).astype(np.int64)


def stuck_rows(delta: np.ndarray) -> np.ndarray:
    r"""Rows of a trajectory recorded at every step, ``delta`` ``(T+1, B, d)``, whose first PGD
    step left δ bitwise unchanged: a fixed point of the (deterministic, constant-step) PGD map in
    floating point, so the run never moves.

    Normalised steps ``ĝ/‖ĝ‖``, ``ĝ = ∇L/max|∇L|``, move wherever ``∇L ≠ 0``: they stick only
    where ``∇L`` underflows to exactly 0 (bce with label 0: ``sigmoid(u) = 0`` for ``u < -745``
    in float64, a saturated loss). Raw steps also stick where ``η‖∇L‖`` is below the rounding of
    δ. ``T = 0``: nothing moved and nothing is counted as stuck."""
    if delta.shape[0] < 2:
        return np.zeros(delta.shape[1], dtype=bool)
    return np.all(delta[1] == delta[0], axis=-1)


def perturbed_starts(points: torch.Tensor, eps: torch.Tensor, size: float,
                     generator: torch.Generator) -> torch.Tensor:
    r"""``P_B(δ* + σε v)`` per row, ``v`` uniform on the unit sphere, ``σ`` = ``size``: a tiny kick
    that breaks the exact stationarity of the critical point ``δ*``."""
    v = L2Ball.sample_sphere(points.shape[0], tuple(points.shape[1:]), 1.0, generator,
                             points.dtype)
    return L2Ball.project(points + size * eps[:, None] * v, eps)


def log_grid(low: float, high: float, n: int) -> tuple[float, ...]:
    """``n`` log-spaced values from ``low`` to ``high``, rounded to 4 significant digits."""
    return tuple(float(f"{v:.4g}") for v in np.logspace(math.log10(low), math.log10(high), n))


@dataclass(frozen=True)
class SimulatedProblemConfig:
    """The fields and methods shared by the configurations that name a simulated problem and a
    circle scan: ``width``, ``loss``, ``label``, ``kappa``, ``gamma`` (the problem, see
    :class:`SimulatedSetup`) and ``angle_density``, ``min_angles``, ``max_angles`` (the angle
    rule :class:`~advdyn.sphere.scan.ScanGrid`, with its defaults). A subclass gives ``dim``
    (a field, or a class constant where the dimension is fixed)."""

    width: int = 256
    loss: str = "bce"
    label: float = 0.0
    kappa: float | None = None
    gamma: float | None = None
    angle_density: float = ANGLE_DENSITY
    min_angles: int = MIN_ANGLES
    max_angles: int = MAX_ANGLES

    @property
    def dim(self) -> int:
        """The input dimension d: a subclass's field or class constant overrides this."""
        raise NotImplementedError(f"{type(self).__name__} gives no dimension 'dim'")

    def scan_grid(self) -> ScanGrid:
        """The d = 2 circle scan's angle grid of this configuration."""
        return ScanGrid(self.angle_density, self.min_angles, self.max_angles)

    def setup(self) -> SimulatedSetup:
        """The simulated problem of this configuration."""
        return SimulatedSetup(dim=self.dim, width=self.width, loss=self.loss, label=self.label,
                              kappa=self.kappa, gamma=self.gamma)
