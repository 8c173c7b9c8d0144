r"""The escape probe of Figures 2 and 3, and the per-step stationarity of PGD on a network.

Loss: ``ℓ`` = multi-class cross-entropy, carried as ``log ℓ``
(:class:`advdyn.losses.LogCrossEntropy`): exact at any logit margin, so at input scale 1000 no
row has ``ℓ = 0`` and no run is "censored" by arithmetic. Ball ``‖δ‖₂ ≤ ε``, ``ε = r · scale ·
m₁`` (``m₁`` the mean ‖x‖₂ of the training images at scale 1). ``L = -ℓ`` (docs/concepts.md).

For every image and radius (one batch of rows, each row its own ε):

1. **A certified local maximum of L on the sphere** (where the attack is weakest). From a
   uniform sphere point, normalised ascent on L with a step ``ρ_a ε`` halved whenever L stalls
   (``L_t - L_{t-c} ≤ tol·(L_t - L_0)``), until the step is below ``σε``. The end point δ* is a
   *certified* start only if it is on the sphere and its KKT residuals are small: with
   ``g = ∇L(δ*)`` (the ascent direction), ``1 - cos∠[g, δ*] ≤ κ²/2`` and ``‖Γ‖/‖g‖ ≤ κ``
   (``Γ`` the tangent part of ``g``; ``κ`` = ``kkt_tol``). Other end points are *rejected* and
   counted; they start no attack.
2. **Reference.** A long normalised PGD attack (``reference_steps`` steps of ``ρ_r ε``) from a
   uniform start in the ball reaches ``ℓ_ref``: what the landscape offers an attacker.
3. **Attack** from ``δ₀ = P_B(δ* + σεu)`` (``u`` uniform on the unit sphere), ascent on ℓ, under
   each step convention (:data:`CONVENTIONS`): ``normalized`` ``δ + ρε ∇ℓ/‖∇ℓ‖`` (what libraries
   use; scale-free); ``raw_fixed`` ``δ + η∇ℓ`` with one ``η`` at every scale (a fixed learning
   rate); ``raw_eps2`` ``δ + cε²∇ℓ`` (the theorems' scale); ``random`` ``δ + ρε u_t`` with
   ``u_t`` a fresh random unit direction (a search that follows no gradient: the negative control
   of stationarity). ``∇ℓ = ℓ∇log ℓ`` is formed from the log (it underflows only where the raw
   step is truly below 10⁻³⁰⁰).
4. **Escape time**: the first step ``t`` with ``ℓ_t ≥ (1-q)ℓ₀ + qℓ_ref`` (a fraction ``q`` of
   the gap between the start and the reference; compared in log form,
   ``log ℓ_t ≥ logaddexp(log(1-q) + log ℓ₀, log q + log ℓ_ref)``). A run that does not get
   there within the budget is *censored* at the budget; a start already at or above ℓ_ref has no
   gap to close and is counted apart (``no_gap``).

**Stationarity per step** (Question 1), for ascent on ℓ: on the sphere ``1 - cos∠[∇ℓ, δ]`` and
``‖Γ‖/‖∇ℓ‖`` (a KKT point of the ball problem has ``∇ℓ = μδ``, ``μ ≥ 0``); inside the ball
``‖∇ℓ_t‖/‖∇ℓ_0‖``. A step is *stationary at tolerance τ* when on the sphere ``‖Γ‖/‖∇ℓ‖ ≤ τ`` and
``cos > 0``, or inside the ball ``‖∇ℓ_t‖/‖∇ℓ_0‖ ≤ τ``.

Every tensor is made in the images' dtype and on their device; random draws come from the
CPU's generators (a seed gives the same numbers on every device) and are moved there.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from numpy.typing import ArrayLike
from scipy import stats
from torch import nn

from advdyn.errors import check_choice, check_number, fail
from advdyn.geometry import DTYPES, L2Ball, per_row, row_dot, row_norm, sphere_rtol, sphere_terms
from advdyn.losses import LogCrossEntropy
from advdyn.models import ModuleObjective, Objective
from advdyn.models.calibration import JacobianLinearised
from advdyn.pgd import run_pgd

CONVENTIONS = ("normalized", "raw_fixed", "raw_eps2", "random")


@dataclass(frozen=True)
class ProbeConfig:
    """Every choice of the escape probe (module docstring; defaults = the full run)."""

    ratios: tuple[float, ...] = (0.001, 0.01, 0.1, 1.0, 10.0)
    images: int = 50
    conventions: tuple[str, ...] = ("normalized", "raw_fixed", "raw_eps2")
    steps: int = 200
    rho: float = 0.05
    eta: float = 1.0
    c: float = 1.0
    ascent_rho: float = 0.05
    ascent_steps: int = 500
    ascent_tol: float = 1e-3
    ascent_check: int = 10
    perturb: float = 1e-3
    kkt_tol: float = 0.05
    reference_steps: int = 200
    reference_rho: float = 0.05
    fraction: float = 0.5
    seed: int = 0
    dtype: str = "float64"

    def __post_init__(self) -> None:
        ratios = tuple(check_number("ratios", v, positive=True) for v in self.ratios)
        if not ratios or len(set(ratios)) != len(ratios):
            raise fail("ratios", f"needs distinct positive values, got {self.ratios}")
        object.__setattr__(self, "ratios", ratios)
        conventions = tuple(check_choice("conventions", c, CONVENTIONS) for c in self.conventions)
        if not conventions:
            raise fail("conventions", "needs at least one step convention")
        object.__setattr__(self, "conventions", conventions)
        for name in ("images", "steps", "ascent_steps", "ascent_check", "reference_steps"):
            check_number(name, getattr(self, name), positive=True, integer=True)
        for name in ("rho", "eta", "c", "ascent_rho", "ascent_tol", "perturb", "kkt_tol",
                     "reference_rho"):
            check_number(name, getattr(self, name), positive=True)
        if not 0 < self.fraction < 1:
            raise fail("fraction", f"must lie in (0, 1), got {self.fraction}")
        check_number("seed", self.seed, nonnegative=True, integer=True)
        check_choice("dtype", self.dtype, DTYPES)


#: One line per :class:`ProbeConfig` field, for command-line help.
PROBE_HELP = {
    "ratios": "ratios r: ε = r · scale · mean‖x‖₂ of the training images at scale 1",
    "images": "held-out images probed",
    "conventions": "attack step conventions: normalized (ρε∇ℓ/‖∇ℓ‖), raw_fixed (η∇ℓ), "
                   "raw_eps2 (cε²∇ℓ), random (ρε in random directions)",
    "steps": "attack step budget (later escapes are censored)",
    "rho": "normalised attack step ρ (α = ρε)",
    "eta": "raw attack step η, the same at every scale",
    "c": "raw attack step η = cε²",
    "ascent_rho": "ascent to the maximum of L: first step ρ_a·ε, halved when L stalls",
    "ascent_steps": "ascent step budget",
    "ascent_tol": "ascent: halve the step when L rose by ≤ tol × its total rise in a window",
    "ascent_check": "ascent: window length in steps",
    "perturb": "perturbation σ·ε of the maximum (the ascent stops once its step is < σε)",
    "kkt_tol": "certificate: ‖Γ‖/‖∇L‖ ≤ tol and 1 − cos∠[∇L, δ] ≤ tol²/2",
    "reference_steps": "reference attack from a uniform start: steps",
    "reference_rho": "reference attack: normalised step ρ",
    "fraction": "escape: ℓ reaches (1−q)ℓ₀ + qℓ_ref, q = fraction",
    "seed": "seed of the image choice, sphere starts, perturbations and random steps",
    "dtype": "floating point precision of the probe (float32 or float64)",
}


def step_of(convention: str, eps: torch.Tensor, cfg: ProbeConfig) -> torch.Tensor:
    """The step size per row: ``ρε`` (``normalized``, ``random``), ``η`` (``raw_fixed``),
    ``cε²`` (``raw_eps2``)."""
    if convention == "raw_fixed":
        return torch.full_like(eps, cfg.eta)
    if convention == "raw_eps2":
        return cfg.c * eps * eps
    return cfg.rho * eps


@dataclass
class Trace:
    """Per step ``t = 0..T`` (rows of shape ``(T+1, B)``): ``log_ell``; ``on_sphere``;
    ``cosine`` = cos∠[∇ℓ, δ]; ``tangent`` = ‖Γ‖/‖∇ℓ‖; ``log_grad`` = log‖∇ℓ‖."""

    log_ell: np.ndarray
    on_sphere: np.ndarray
    cosine: np.ndarray
    tangent: np.ndarray
    log_grad: np.ndarray
    delta: torch.Tensor


def ascend_ell(objective: ModuleObjective, eps: torch.Tensor, start: torch.Tensor,
               modes: list[str], step: torch.Tensor, steps: int,
               generator: torch.Generator) -> Trace:
    """``steps`` steps of projected ascent on ℓ from ``start``, row ``b`` following
    ``modes[b]`` (a :data:`CONVENTIONS` name) with step ``step[b]``; every step's ``log ℓ`` and
    stationarity recorded (module docstring)."""
    if len(modes) != start.shape[0]:
        raise fail("modes", f"expected one convention per row ({start.shape[0]})")
    normalized = torch.tensor([m in ("normalized", "random") for m in modes],
                              device=start.device)
    random = torch.tensor([m == "random" for m in modes], device=start.device)
    shape = tuple(start.shape[1:])
    rtol = sphere_rtol(start.dtype)
    delta = start.clone()
    rows: dict[str, list[np.ndarray]] = {k: [] for k in ("log_ell", "on_sphere", "cosine",
                                                          "tangent", "log_grad")}
    for t in range(steps + 1):
        ev = objective.evaluate(delta)
        assert ev.grad is not None  # evaluate(grad=True) returns the gradient
        g = -ev.grad  # ∇ log ℓ: the direction of ∇ℓ
        norm, gamma, _ = sphere_terms(g, delta)
        gnorm = row_norm(g)
        cosine = row_dot(g, delta) / (gnorm * norm).clamp_min(1e-300)
        rows["log_ell"].append(ev.ell.cpu().numpy())
        rows["on_sphere"].append((norm >= eps * (1 - rtol)).cpu().numpy())
        rows["cosine"].append(cosine.cpu().numpy())
        rows["tangent"].append((gamma / gnorm.clamp_min(1e-300)).cpu().numpy())
        rows["log_grad"].append((ev.ell + torch.log(gnorm.clamp_min(1e-300))).cpu().numpy())
        if t == steps:
            break
        unit = L2Ball.normalize(g)
        if random.any():
            unit[random] = L2Ball.sample_sphere(int(random.sum()), shape, 1.0, generator,
                                                 start.dtype).to(start.device)
        raw = per_row(torch.exp(ev.ell), g) * g  # ∇ℓ = ℓ ∇log ℓ
        move = torch.where(per_row(normalized, g).bool(), unit, raw)
        delta = L2Ball.project(delta + per_row(step, g) * move, eps)
    arrays = {k: np.stack(v) for k, v in rows.items()}
    return Trace(**arrays, delta=delta)


def stationary(trace: Trace, tol: float) -> np.ndarray:
    """``(T+1, B)``: whether each step is stationary at tolerance ``tol`` (module docstring)."""
    interior = np.exp(trace.log_grad - trace.log_grad[:1]) <= tol
    sphere = (trace.tangent <= tol) & (trace.cosine > 0)
    return np.where(trace.on_sphere, sphere, interior)


def first_true(flags: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per column of ``(T+1, B)``: the first ``t`` where ``flags`` holds and whether it ever
    does (else the time is ``T``: censored)."""
    hit = np.asarray(flags.any(axis=0))
    return np.where(hit, flags.argmax(axis=0), flags.shape[0] - 1), hit


def escape_times(log_ell: np.ndarray, log_ref: np.ndarray, fraction: float
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Escape time per column of ``log_ell`` ``(T+1, B)`` against ``log ℓ_ref`` ``(B,)``
    (module docstring, item 4): ``(times, escaped, has_gap)``."""
    log_ell = np.asarray(log_ell, dtype=np.float64)
    start = log_ell[0]
    gap = np.asarray(log_ref, dtype=np.float64) > start
    with np.errstate(divide="ignore"):
        level = np.logaddexp(math.log1p(-fraction) + start, math.log(fraction) + log_ref)
    times, hit = first_true(log_ell >= level[None, :])
    return times, hit & gap, gap


def survival(times: ArrayLike, escaped: ArrayLike, budget: int) -> dict[str, object]:
    """Kaplan–Meier curve of censored escape times (``scipy.stats.ecdf``): ``curve`` = S(t)
    for t = 0..budget, ``n``, ``censored``, ``median`` (first t with S(t) ≤ 1/2; ``inf`` if
    none)."""
    t = np.asarray(times, dtype=float)
    e = np.asarray(escaped, dtype=bool)
    grid = np.arange(budget + 1)
    if not e.any():
        curve = np.ones(grid.size)
    else:
        sf = stats.ecdf(stats.CensoredData(uncensored=t[e], right=t[~e])).sf
        curve = sf.evaluate(grid)
    below = np.nonzero(curve <= 0.5)[0]
    return {"curve": curve.tolist(), "n": int(t.size), "censored": int((~e).sum()),
            "median": float(grid[below[0]]) if below.size else math.inf}


def _ascend_to_maximum(objective: ModuleObjective, select: Callable[[torch.Tensor], Objective],
                       eps: torch.Tensor, start: torch.Tensor, cfg: ProbeConfig) -> torch.Tensor:
    """Step 1: normalised ascent on L with step halving (module docstring); ``select(rows)``
    is the objective of the rows still ascending."""
    delta = start.clone()
    step = cfg.ascent_rho * eps
    floor = cfg.perturb * eps
    L0 = objective.evaluate(delta, grad=False).L
    L_prev = L0.clone()
    active = torch.arange(delta.shape[0], device=delta.device)
    done = 0
    while active.numel() and done < cfg.ascent_steps:
        chunk = min(cfg.ascent_check, cfg.ascent_steps - done)
        res = run_pgd(select(active), eps[active], step[active], chunk,
                      rule="normalized", direction="ascent", start=delta[active])
        delta[active] = res.delta
        done += chunk
        stalled = res.L - L_prev[active] <= cfg.ascent_tol * (res.L - L0[active]).clamp_min(0)
        L_prev[active] = res.L
        step[active] = torch.where(stalled, step[active] / 2, step[active])
        active = active[step[active] >= floor[active]]
    return delta


def certify(objective: ModuleObjective, delta: torch.Tensor, eps: torch.Tensor,
            kkt_tol: float) -> dict[str, np.ndarray]:
    """KKT residuals of δ as a local maximum of L on the ball: ``1 - cos∠[∇L, δ]`` and
    ``‖Γ‖/‖∇L‖``; ``certified`` = on the sphere, ``‖Γ‖/‖∇L‖ ≤ κ`` and ``1 - cos ≤ κ²/2``."""
    ev = objective.evaluate(delta)
    grad = ev.grad
    assert grad is not None  # evaluate(grad=True) returns the gradient
    norm, gamma, _ = sphere_terms(grad, delta)
    gnorm = row_norm(grad).clamp_min(1e-300)
    one_minus_cos = 1 - row_dot(grad, delta) / (gnorm * norm.clamp_min(1e-300))
    tangent = gamma / gnorm
    on_sphere = norm >= eps * (1 - sphere_rtol(delta.dtype))
    ok = on_sphere & (tangent <= kkt_tol) & (one_minus_cos <= kkt_tol ** 2 / 2)
    return {"one_minus_cos": one_minus_cos.cpu().numpy(), "tangent": tangent.cpu().numpy(),
            "certified": ok.cpu().numpy(), "log_ell": ev.ell.cpu().numpy()}


def probe(net: nn.Module, images: torch.Tensor, labels: torch.Tensor, scale: float,
          unit_mean_norm: float, cfg: ProbeConfig, *, linearise: bool = False) -> list[dict]:
    """The probe at one input scale (module docstring) for every ratio and convention of
    ``cfg``: one record per (ratio, convention) with per-image arrays ``times``, ``escaped``,
    ``certified``, ``has_gap``, the KKT residuals, and the mean ``log ℓ`` per attack step over
    the certified rows. ``images`` are at scale 1, ``(n, 1, 28, 28)``. ``linearise``: probe
    ``net`` linearised in its input at each row's clean image, ``f(x) + J_f(x)δ``
    (:class:`~advdyn.models.calibration.JacobianLinearised`: one maximum over the ball, the
    ruler's floor), instead of ``net`` itself."""
    dtype = DTYPES[cfg.dtype]
    net = net.to(dtype).eval().requires_grad_(False)
    n, k = images.shape[0], len(cfg.ratios)
    xs, ys = scale * images.to(dtype), labels.long()
    lin = JacobianLinearised.of(net, xs).eval() if linearise else None

    def objective_of(rows: torch.Tensor) -> ModuleObjective:
        """The objective of batch rows ``rows`` (row ``b`` holds image ``b mod n``)."""
        img = rows % n
        return ModuleObjective(net if lin is None else lin.rows(img), LogCrossEntropy,
                               xs[img], ys[img])

    eps = torch.tensor([r * scale * unit_mean_norm for r in cfg.ratios], dtype=dtype,
                       device=xs.device).repeat_interleave(n)
    shape = tuple(images.shape[1:])
    objective = objective_of(torch.arange(n * k, device=xs.device))
    gen = torch.Generator().manual_seed(cfg.seed)
    unit = L2Ball.sample_sphere(n, shape, 1.0, gen, dtype).to(xs.device).repeat(k, 1, 1, 1)
    kick = L2Ball.sample_sphere(n, shape, 1.0, gen, dtype).to(xs.device).repeat(k, 1, 1, 1)
    select = objective.select if lin is None else objective_of
    top = _ascend_to_maximum(objective, select, eps, unit * per_row(eps, unit), cfg)
    cert = certify(objective, top, eps, cfg.kkt_tol)
    start = L2Ball.project(top + cfg.perturb * per_row(eps, kick) * kick, eps)
    ref = run_pgd(objective, eps, cfg.reference_rho * eps, cfg.reference_steps,
                  rule="normalized", direction="descent", start="uniform", generator=gen)
    log_ref = ref.ell.cpu().numpy()
    c = len(cfg.conventions)
    modes = [m for m in cfg.conventions for _ in range(n * k)]
    steps = torch.cat([step_of(m, eps, cfg) for m in cfg.conventions])
    both = objective_of(torch.arange(c * n * k, device=xs.device))
    trace = ascend_ell(both, eps.repeat(c), start.repeat(c, 1, 1, 1), modes, steps, cfg.steps,
                       gen)
    times, escaped, gap = escape_times(trace.log_ell, np.tile(log_ref, c), cfg.fraction)
    out = []
    for a, convention in enumerate(cfg.conventions):
        for j, ratio in enumerate(cfg.ratios):
            s = slice(a * n * k + j * n, a * n * k + (j + 1) * n)
            r = slice(j * n, (j + 1) * n)
            ok = cert["certified"][r]
            curve = trace.log_ell[:, s][:, ok].mean(axis=1) if ok.any() else \
                np.full(cfg.steps + 1, np.nan)
            out.append({"scale": scale, "ratio": ratio, "convention": convention,
                        "eps": float(eps[j * n]), "times": times[s], "escaped": escaped[s],
                        "has_gap": gap[s], "certified": ok, "tangent": cert["tangent"][r],
                        "one_minus_cos": cert["one_minus_cos"][r],
                        "log_ell_start": trace.log_ell[0, s], "log_ell_ref": log_ref[r],
                        "log_ell_min": trace.log_ell[:, s].min(axis=0), "curve": curve})
    return out
