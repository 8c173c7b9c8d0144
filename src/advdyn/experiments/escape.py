r"""The escape probe of Figures 2 and 3: how fast does the attack leave the point where it is
weakest?

Minimisation form ``L(δ) = -ℓ(y, f(x+δ))`` (ℓ = multi-class cross-entropy) on the ball
``‖δ‖₂ ≤ ε``, ``ε = r · scale · m₁`` (ratio ``r``, ``m₁`` the mean ``‖x‖₂`` of the training images
at scale 1, so ``ε = r · mean‖x‖`` at every scale). For every image and every (scale, ratio):

1. **Ascent to a local maximum of L on the sphere.** From a uniform point of ``εS^{D-1}``, PGD
   *ascent* on L with the normalised rule ``δ ← P_B(δ + α ∇L/‖∇L‖)``, starting at
   ``α = ρ_a ε``. Every ``ascent_check`` steps a row whose L rose by at most ``tol`` times its
   total rise so far (``L_t - L_{t-c} ≤ tol·(L_t - L_0)``: stalled at the current step size)
   has its step halved; it has converged when ``α < σε`` (``σ`` = ``perturb``), i.e. the maximum
   is located to within about the size of the perturbation applied next. (The step-halving
   rule is used instead of ``‖Γ‖ → 0`` because a max-pooling ReLU network is not differentiable
   everywhere: ties in the pooling windows over the blank background put kinks at every
   radius, and on a kink the tangent gradient need not vanish; ``cos∠[-∇L, δ]`` at the point
   found is reported, -1 meaning ∇L is exactly radial and outward, the set Δ⁻ of the paper.)
   Rows that do not converge within ``ascent_steps`` are reported and still used.
2. **Perturbation.** ``δ₀ = P_B(δ* + σ ε u)`` with ``u`` uniform on the unit sphere (``σ`` =
   ``perturb``), which breaks the exact stationarity of δ*.
3. **Attack.** PGD *descent* on L from δ₀ with the chosen rule — ``normalized``
   ``δ - α∇L/‖∇L‖``, ``α = ρε`` (scale-free: the fair comparison across input scales),
   ``sign`` ``δ - ρε sign ∇L`` or ``raw`` ``δ - η∇L``, ``η = ρε²`` — for ``steps`` steps,
   recording ``ℓ_t`` at every step.

**Steps to escape.** With the rise ``R = max_t ℓ_t - ℓ_0``, the first ``t`` with
``ℓ_t - ℓ_0 ≥ q·R`` (``q`` = ``fraction``). A row whose ℓ never rises (``R ≤ 10⁻¹²·max(1, |ℓ_0|)``)
has not escaped; it is *censored* and counted as the step budget (the mean is then a lower bound).

All images × ratios of one scale run as one batch of rows, each row with its own ε. The random
sphere starts and perturbation directions are drawn from ``seed`` identically at every scale
(and every checkpoint), so comparisons across scales and epochs are paired by image.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from advdyn.data import MnistData, scale_images
from advdyn.errors import check_choice, check_number, fail
from advdyn.geometry import L2Ball, alignment, row_norm, sphere_rtol
from advdyn.losses import CrossEntropy
from advdyn.models import ModuleObjective
from advdyn.pgd import RULES, Recorder, run_pgd

DTYPES = {"float32": torch.float32, "float64": torch.float64}
NO_RISE_RTOL = 1e-12


@dataclass(frozen=True)
class EscapeConfig:
    """Every choice of the probe (see the module docstring for the meaning of each)."""

    scales: tuple[float, ...] = (0.1, 10.0, 1000.0)
    ratios: tuple[float, ...] = (0.001, 0.01, 0.1, 1.0, 10.0)
    images: int = 50
    rule: str = "normalized"
    rho: float = 0.05
    steps: int = 200
    ascent_rho: float = 0.05
    ascent_steps: int = 500
    ascent_tol: float = 1e-3
    ascent_check: int = 10
    perturb: float = 1e-3
    fraction: float = 0.5
    seed: int = 0
    dtype: str = "float64"
    claim_margin: float = 1.0

    def __post_init__(self) -> None:
        for name in ("scales", "ratios"):
            values = tuple(check_number(name, v, positive=True) for v in getattr(self, name))
            if not values:
                raise fail(name, "needs at least one value")
            if len(set(values)) != len(values):
                raise fail(name, f"has repeated values {values}")
            object.__setattr__(self, name, values)
        for name in ("images", "steps", "ascent_steps", "ascent_check"):
            check_number(name, getattr(self, name), positive=True, integer=True)
        for name in ("rho", "ascent_rho", "ascent_tol", "perturb"):
            check_number(name, getattr(self, name), positive=True)
        check_number("claim_margin", self.claim_margin, nonnegative=True)
        q = check_number("fraction", self.fraction, positive=True)
        if q > 1:
            raise fail("fraction", f"must lie in (0, 1], got {q}")
        check_number("seed", self.seed, nonnegative=True, integer=True)
        check_choice("rule", self.rule, RULES)
        check_choice("dtype", self.dtype, DTYPES)



@dataclass
class EscapeCurve:
    """The probe at one (scale, ratio) over ``n`` images; arrays are per image.

    ``ell`` ``(steps + 1, n)`` is ℓ along the attack. At the point δ* the ascent ended at:
    ``ell_at_max`` = ℓ, ``alignment_at_max`` = ``cos∠[-∇L, δ*]``, ``on_sphere`` = ``‖δ*‖ = ε``,
    ``flat`` = ``∇L(δ*) = 0`` in floating point (a saturated softmax: the attack cannot move)."""

    scale: float
    ratio: float
    eps: float
    ell: np.ndarray
    steps_to_escape: np.ndarray
    escaped: np.ndarray
    ascent_steps: np.ndarray
    ascent_converged: np.ndarray
    ell_at_max: np.ndarray
    alignment_at_max: np.ndarray
    on_sphere: np.ndarray
    flat: np.ndarray
    epoch: int | None = None


def rule_step(rule: str, rho: float, eps: torch.Tensor | float) -> torch.Tensor | float:
    """A PGD step that scales with the radius: ``η = ρε`` for the ``normalized`` and ``sign``
    rules, ``η = ρε²`` for ``raw`` (its natural scale, SPEC §5)."""
    return rho * (eps * eps if check_choice("rule", rule, RULES) == "raw" else eps)


def probe_images(data: MnistData, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` held-out images (a ``seed``-ed choice) at scale 1, float64 ``(n, 1, 28, 28)``, and
    their labels."""
    n = check_number("images", n, positive=True, integer=True)
    if n > data.test_images.shape[0]:
        raise fail("images", f"asked for {n} but only {data.test_images.shape[0]} are held out")
    pick = np.random.default_rng(seed).permutation(data.test_images.shape[0])[:n]
    return (scale_images(data.test_images[pick], 1.0, torch.float64),
            torch.as_tensor(data.test_labels[pick]))


def steps_to_escape(ell: np.ndarray, fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """Per column of ``ell`` ``(T+1, n)``: the first ``t`` with ``ℓ_t - ℓ_0 ≥ q(max ℓ - ℓ_0)``,
    and whether the column rose at all (else the step is ``T``, censored)."""
    ell = np.asarray(ell, dtype=np.float64)
    if ell.ndim != 2 or ell.shape[0] < 2:
        raise fail("ell", f"expected shape (T+1, n) with T ≥ 1, got {ell.shape}")
    gain = ell - ell[:1]
    rise = gain.max(axis=0)
    escaped = rise > NO_RISE_RTOL * np.maximum(1.0, np.abs(ell[0]))
    reached = gain >= fraction * rise[None, :]
    first = np.argmax(reached, axis=0)
    return np.where(escaped, first, ell.shape[0] - 1).astype(np.int64), escaped


def _ascend(objective: ModuleObjective, eps: torch.Tensor, start: torch.Tensor,
            cfg: EscapeConfig, bar: tqdm) -> tuple[torch.Tensor, np.ndarray, np.ndarray]:
    """Step 1 of the probe (step-halving ascent, see the module docstring), in chunks of
    ``ascent_check`` engine steps. Returns δ*, the steps taken and the converged flags."""
    delta = start.clone()
    b = delta.shape[0]
    step = cfg.ascent_rho * eps
    floor = cfg.perturb * eps
    L0 = objective.evaluate(delta, grad=False).L
    L_prev = L0.clone()
    taken = np.zeros(b, dtype=np.int64)
    converged = torch.zeros(b, dtype=torch.bool)
    active = torch.arange(b)
    done_steps = 0
    while active.numel():
        chunk = min(cfg.ascent_check, cfg.ascent_steps - done_steps)
        res = run_pgd(objective.select(active), eps[active], step[active], chunk,
                      rule="normalized", direction="ascent", start=delta[active])
        delta[active] = res.delta
        done_steps += chunk
        taken[active.numpy()] = done_steps
        stalled = res.L - L_prev[active] <= cfg.ascent_tol * (res.L - L0[active]).clamp_min(0)
        L_prev[active] = res.L
        step[active] = torch.where(stalled, step[active] / 2, step[active])
        done = step[active] < floor[active]
        converged[active] = done
        active = active[~done] if done_steps < cfg.ascent_steps else active[:0]
        bar.update(chunk)
        bar.set_postfix(converged=f"{int(converged.sum())}/{b}")
    return delta, taken, converged.numpy()


def probe_scale(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, scale: float,
                unit_mean_norm: float, cfg: EscapeConfig, *, progress: bool = False
                ) -> list[EscapeCurve]:
    """Run the probe at one input scale for every ratio of ``cfg``, as one batch of
    ``len(ratios) × n`` rows (row ``k·n + i`` is ratio ``k``, image ``i``).

    ``model``: any module mapping ``(B, 1, 28, 28)`` to logits ``(B, 10)`` (used as a frozen
    copy in ``cfg.dtype``); ``images``: ``(n, 1, 28, 28)`` at scale 1 (pixels in [0, 1])."""
    dtype = DTYPES[cfg.dtype]
    net = copy.deepcopy(model).to(dtype).eval().requires_grad_(False)
    n, k = images.shape[0], len(cfg.ratios)
    x = (scale * images.to(dtype)).repeat(k, 1, 1, 1)
    y = labels.long().repeat(k)
    eps = torch.tensor([r * scale * unit_mean_norm for r in cfg.ratios],
                       dtype=dtype).repeat_interleave(n)
    objective = ModuleObjective(net, CrossEntropy, x, y)

    gen = torch.Generator().manual_seed(cfg.seed)
    unit = L2Ball.sample_sphere(n, tuple(images.shape[1:]), 1.0, gen, dtype).repeat(k, 1, 1, 1)
    kick = L2Ball.sample_sphere(n, tuple(images.shape[1:]), 1.0, gen, dtype).repeat(k, 1, 1, 1)
    shape = (-1, 1, 1, 1)
    with tqdm(total=cfg.ascent_steps, desc=f"ascent to maxima, scale {scale:g}", unit="step",
              disable=not progress, leave=False) as bar:
        top, taken, converged = _ascend(objective, eps, unit * eps.reshape(shape), cfg, bar)
    at_top = objective.evaluate(top)
    start = L2Ball.project(top + cfg.perturb * eps.reshape(shape) * kick, eps)
    res = run_pgd(objective, eps, rule_step(cfg.rule, cfg.rho, eps), cfg.steps, rule=cfg.rule,
                  direction="descent", start=start,
                  record=Recorder(fields=("ell",), dtype="float64"), progress=progress)
    assert res.trajectory is not None and at_top.grad is not None
    ell = np.asarray(res.trajectory.ell)  # (steps + 1, k·n)
    ell_top, align = at_top.ell.numpy(), alignment(at_top.grad, top).numpy()
    sphere = (row_norm(top) >= eps * (1 - sphere_rtol(dtype))).numpy()
    flat = (row_norm(at_top.grad) == 0).numpy()
    stt, escaped = steps_to_escape(ell, cfg.fraction)
    curves = []
    for j, ratio in enumerate(cfg.ratios):
        s = slice(j * n, (j + 1) * n)
        curves.append(EscapeCurve(scale=scale, ratio=ratio, eps=float(eps[j * n]),
                                  ell=ell[:, s], steps_to_escape=stt[s], escaped=escaped[s],
                                  ascent_steps=taken[s], ascent_converged=converged[s],
                                  ell_at_max=ell_top[s], alignment_at_max=align[s],
                                  on_sphere=sphere[s], flat=flat[s]))
    return curves


def run_escape_probe(model: nn.Module, images: torch.Tensor, labels: torch.Tensor,
                     unit_mean_norm: float, cfg: EscapeConfig, *, epoch: int | None = None,
                     progress: bool = False) -> list[EscapeCurve]:
    """:func:`probe_scale` for every scale of ``cfg`` (curves ordered by scale, then ratio)."""
    if images.ndim != 4 or images.shape[0] != labels.shape[0] or images.shape[0] == 0:
        raise fail("images", f"expected (n, C, H, W) with one label each, got "
                             f"{tuple(images.shape)} and {tuple(labels.shape)}")
    check_number("unit_mean_norm", unit_mean_norm, positive=True)
    curves: list[EscapeCurve] = []
    bar = tqdm(cfg.scales, desc="escape probe" + ("" if epoch is None else f" epoch {epoch}"),
               unit="scale", disable=not progress, leave=False)
    for scale in bar:
        bar.set_postfix(scale=scale)
        for c in probe_scale(model, images, labels, scale, unit_mean_norm, cfg,
                             progress=progress):
            c.epoch = epoch
            curves.append(c)
    return curves


# ------------------------------------------------------------------------------- statistics


def _stats(v: np.ndarray) -> dict[str, float]:
    v = np.asarray(v, dtype=np.float64)
    q25, med, q75 = np.percentile(v, [25, 50, 75])
    return {"mean": float(v.mean()), "std": float(v.std(ddof=1)) if v.size > 1 else 0.0,
            "median": float(med), "q25": float(q25), "q75": float(q75)}


def summarize(curve: EscapeCurve) -> dict:
    """JSON-ready summary: steps to escape (mean, std, quartiles, censored rows), the ascent's
    convergence (``saturated``: rows with ℓ = 0 in floating point at δ*, where the loss no
    longer resolves the landscape), and per-step mean/quartile curves of ℓ and of the progress
    ``(ℓ_t - ℓ_0)/(max ℓ - ℓ_0)`` (0 for rows that never rose)."""
    ell = curve.ell
    gain = ell - ell[:1]
    rise = gain.max(axis=0)
    progress = np.where(curve.escaped[None, :], gain / np.where(rise > 0, rise, 1.0), 0.0)
    out = {
        "scale": curve.scale, "ratio": curve.ratio, "eps": curve.eps,
        "images": int(ell.shape[1]),
        "steps_to_escape": {**_stats(curve.steps_to_escape),
                            "censored": int((~curve.escaped).sum()),
                            "per_image": curve.steps_to_escape},
        "ascent": {"converged": int(curve.ascent_converged.sum()),
                   "steps_mean": float(curve.ascent_steps.mean()),
                   "on_sphere": int(curve.on_sphere.sum()), "flat": int(curve.flat.sum()),
                   "saturated": int((curve.ell_at_max == 0).sum()),
                   "alignment_at_max": _stats(curve.alignment_at_max)},
        "ell": {"at_max_mean": float(curve.ell_at_max.mean()),
                "start_mean": float(ell[0].mean()), "end_mean": float(ell[-1].mean()),
                "max_mean": float(ell.max(axis=0).mean())},
        "curve": {"ell_mean": ell.mean(axis=1), "ell_q25": np.percentile(ell, 25, axis=1),
                  "ell_q75": np.percentile(ell, 75, axis=1),
                  "progress_mean": progress.mean(axis=1),
                  "progress_q25": np.percentile(progress, 25, axis=1),
                  "progress_q75": np.percentile(progress, 75, axis=1)},
    }
    if curve.epoch is not None:
        out = {"epoch": curve.epoch, **out}
    return out


def compare_escape(faster: np.ndarray, slower: np.ndarray, margin: float = 1.0) -> dict:
    """Paired test of "``faster`` escapes in fewer steps than ``slower``" (same images):
    with ``d_i = slower_i - faster_i``, mean ``d̄`` and standard error ``s``, the outcome is
    ``held`` if ``d̄ > 2s`` and ``d̄ ≥ margin`` (steps), ``contradicted`` if ``d̄ < -2s`` and
    ``d̄ ≤ -margin``, else ``tie``."""
    d = np.asarray(slower, dtype=np.float64) - np.asarray(faster, dtype=np.float64)
    se = float(d.std(ddof=1) / math.sqrt(d.size)) if d.size > 1 else 0.0
    mean = float(d.mean())
    outcome = ("held" if mean > 2 * se and mean >= margin and mean > 0 else
               "contradicted" if mean < -2 * se and mean <= -margin and mean < 0 else "tie")
    return {"mean_difference": mean, "standard_error": se, "outcome": outcome}


def verdict(outcomes: Sequence[str]) -> str:
    """``held`` if every comparison held, ``not held`` if any was contradicted or none held,
    ``partly`` otherwise (some held, the rest ties)."""
    if outcomes and all(o == "held" for o in outcomes):
        return "held"
    if "contradicted" in outcomes or "held" not in outcomes:
        return "not held"
    return "partly"


def _pairs(groups: Sequence[Mapping[float, EscapeCurve]], labels: Sequence[str],
           ratios: Sequence[float], margin: float) -> list[dict]:
    """Compare consecutive groups ``g_k`` (expected faster) and ``g_{k+1}`` at every ratio."""
    return [{"faster": labels[a], "slower": labels[a + 1],
             "per_ratio": [{"ratio": r, **compare_escape(groups[a][r].steps_to_escape,
                                                         groups[a + 1][r].steps_to_escape,
                                                         margin)}
                           for r in ratios]}
            for a in range(len(groups) - 1)]


def _tally(pairs: Sequence[dict]) -> dict:
    outcomes = [c["outcome"] for p in pairs for c in p["per_ratio"]]
    return {"verdict": verdict(outcomes) if outcomes else "untested",
            "held": outcomes.count("held"), "ties": outcomes.count("tie"),
            "contradicted": outcomes.count("contradicted"), "comparisons": list(pairs)}


def _by(curves: Sequence[EscapeCurve], key: str) -> dict:
    out: dict = {}
    for c in curves:
        out.setdefault(getattr(c, key), {})[c.ratio] = c
    return out


def scale_claim(curves: Sequence[EscapeCurve], margin: float = 1.0) -> list[dict]:
    """§5.1 claim, per input scale: at a fixed ratio a smaller scale escapes faster. Each scale
    is compared (:func:`compare_escape` with ``margin``, at every ratio) with the next smaller
    and the next larger scale; its verdict covers those comparisons."""
    by_scale = _by(curves, "scale")
    scales = sorted(by_scale)
    ratios = sorted({c.ratio for c in curves})
    pairs = _pairs([by_scale[s] for s in scales], [f"scale {s:g}" for s in scales], ratios,
                   margin)
    return [{"scale": s, **_tally(pairs[max(0, k - 1):k + 1])} for k, s in enumerate(scales)]


def training_claim(curves: Sequence[EscapeCurve], margin: float = 1.0) -> list[dict]:
    """Figure 3 claim, per input scale: escape gets harder (more steps) as adversarial training
    proceeds; consecutive checkpoint epochs are compared at every ratio."""
    if any(c.epoch is None for c in curves):
        raise fail("curves", "training_claim needs curves that carry their epoch")
    out = []
    for scale in sorted({c.scale for c in curves}):
        mine = [c for c in curves if c.scale == scale]
        by_epoch = _by(mine, "epoch")
        epochs = sorted(by_epoch)
        pairs = _pairs([by_epoch[e] for e in epochs], [f"epoch {e}" for e in epochs],
                       sorted({c.ratio for c in mine}), margin)
        out.append({"scale": scale, "epochs": epochs, **_tally(pairs)})
    return out
