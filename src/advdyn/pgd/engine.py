r"""One batched PGD engine.

For each row b (its own ``x_b, y_b, ε_b, η_b``) it iterates

    ``δ_{t+1} = P_B(δ_t - s η_t v(∇L(δ_t)))``,   ``s = +1`` (descent on L: the attack)
                                                 ``s = -1`` (ascent on L: toward the points
                                                 where the attack is weakest),

with ``v`` a step rule (:mod:`advdyn.pgd.rules`), ``η_t`` a schedule
(:mod:`advdyn.pgd.schedules`), ``P_B`` the ball's projection, optionally followed by clipping
``x + δ`` to a data box. A row stops when its step budget is spent or, with ``tol``, when it is a
first-order stationary point of the ball problem it solves:

* inside the ball: ``‖∇L‖ ≤ tol``;
* on the sphere: ``‖Γ(δ)‖ ≤ tol`` and ``s λ*(δ) ≤ 0`` (KKT: the step points outward).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from tqdm.auto import tqdm

from advdyn.errors import check_choice, check_number, fail
from advdyn.geometry import (
    BALLS,
    L2Ball,
    alignment,
    clip_to_box,
    in_dtype,
    per_row,
    row_norm,
    sphere_rtol,
    sphere_terms,
)
from advdyn.models.objective import Evaluation, Objective
from advdyn.pgd.record import Recorder, RecordSink, Trajectory
from advdyn.pgd.rules import Ball, Rule, get_rule
from advdyn.pgd.schedules import (
    Constant,
    ScheduleFn,
    ScheduleState,
    as_schedule,
    needs_geometry,
)

START = ("uniform", "sphere", "zero")
DIRECTIONS = {"descent": 1.0, "ascent": -1.0}


class PGDResult:
    """Final iterates and what happened per row.

    ``delta`` (B, *shape); ``steps`` (B,) steps taken; ``converged`` (B,) whether ``tol`` was
    met; ``trajectory`` when a :class:`Recorder` was given. ``L``, ``ell`` (B,) and ``grad``
    (∇L, shape of δ) at ``delta`` (as it is then) are evaluated when first read, unless the run
    computed them anyway (with diagnostics): PGD that only needs δ (e.g. adversarial training)
    never pays for them. ``L``/``ell`` alone cost one forward pass, ``grad`` a forward and a
    backward pass. A lazy read after the objective's parameters were modified in place (e.g. an
    optimiser step) raises :class:`advdyn.AdvdynError` instead of returning values of the
    changed model.
    """

    __slots__ = ("_final", "_key", "_objective", "converged", "delta", "steps", "trajectory")

    def __init__(self, delta: torch.Tensor, steps: torch.Tensor, converged: torch.Tensor,
                 trajectory: Trajectory | None, objective: Objective,
                 final: Evaluation | None = None) -> None:
        self.delta, self.steps, self.converged = delta, steps, converged
        self.trajectory = trajectory
        self._objective, self._final = objective, final
        self._key = objective.state_key()

    def _evaluation(self, grad: bool) -> Evaluation:
        final = self._final
        if final is None or (grad and final.grad is None):
            if self._objective.state_key() != self._key:
                raise fail("PGDResult", "the objective's parameters changed after run_pgd "
                           "returned, so L, ell and grad at delta can no longer be evaluated",
                           "read them before modifying the model, or evaluate the objective "
                           "at result.delta yourself")
            final = self._final = self._objective.evaluate(self.delta, grad=grad)
        return final

    @property
    def L(self) -> torch.Tensor:
        """``L(δ_T)`` per row (minimisation form)."""
        return self._evaluation(grad=False).L

    @property
    def ell(self) -> torch.Tensor:
        """``ℓ = -L`` at ``δ_T`` per row."""
        return self._evaluation(grad=False).ell

    @property
    def grad(self) -> torch.Tensor:
        """``∇L(δ_T)``, shape of δ."""
        g = self._evaluation(grad=True).grad
        assert g is not None
        return g

    def recorded(self) -> Trajectory:
        """The recorded :class:`Trajectory`; raises when the run was given no recorder."""
        if self.trajectory is None:
            raise fail("record", "this run recorded no trajectory",
                       "pass record=Recorder(...) to run_pgd")
        return self.trajectory


def _per_row_values(field: str, value: torch.Tensor | float, batch: int, like: torch.Tensor,
                    positive: bool) -> torch.Tensor:
    t = in_dtype(value, like.dtype, like.device).reshape(-1)
    if t.numel() == 1:
        t = t.expand(batch)
    if t.shape != (batch,):
        raise fail(field, f"expected a scalar or {batch} values (one per row), got {t.numel()}")
    if not torch.isfinite(t).all():
        raise fail(field, "must be finite")
    if positive and (t <= 0).any():
        raise fail(field, f"must be > 0, got min {float(t.min())}")
    if (t < 0).any():
        raise fail(field, f"must be ≥ 0, got min {float(t.min())}")
    return t.contiguous()


def _batch_size(objective: Objective, start: object, eps: object, eta: object,
                batch: int | None) -> int:
    sizes = {objective.rows}
    if isinstance(start, torch.Tensor) and start.ndim == len(objective.shape) + 1:
        sizes.add(start.shape[0])
    for v in (eps, eta):
        if isinstance(v, torch.Tensor) and v.numel() > 1:
            sizes.add(v.numel())
    if batch is not None:
        sizes.add(check_number("batch", batch, positive=True, integer=True))
    sizes.discard(1)
    if len(sizes) > 1:
        raise fail("batch", f"inconsistent numbers of rows {sorted(sizes)} among objective, "
                            "start, eps and eta", "give each one value or one value per row")
    return sizes.pop() if sizes else 1


def initial_delta(start: str | torch.Tensor, ball_name: str, batch: int,
                  shape: tuple[int, ...], eps: torch.Tensor, like: torch.Tensor,
                  generator: torch.Generator | None) -> torch.Tensor:
    """δ₀: uniform in the open ball, uniform on the (l2) sphere, zero, or given (checked)."""
    ball = BALLS[ball_name]
    if isinstance(start, torch.Tensor):
        d0 = start.to(dtype=like.dtype, device=like.device)
        if d0.shape == shape:
            d0 = d0.expand(batch, *shape)
        if d0.shape != (batch, *shape):
            raise fail("start", f"expected shape {(batch, *shape)} or {shape}, "
                                f"got {tuple(d0.shape)}")
        if not torch.isfinite(d0).all():
            raise fail("start", "has NaN or infinite entries")
        over = ball.radius(d0) > eps * (1 + 1e-6)
        if over.any():
            raise fail("start", f"{int(over.sum())} row(s) lie outside the ball of radius eps",
                       "give a start with norm ≤ eps")
        return ball.project(d0.clone(), eps)
    check_choice("start", start, START)
    if start == "zero":
        return torch.zeros((batch, *shape), dtype=like.dtype, device=like.device)
    if start == "sphere":
        if ball_name != "l2":
            raise fail("start", "'sphere' starts are defined for the l2 ball only")
        d0 = L2Ball.sample_sphere(batch, shape, eps.cpu(), generator, like.dtype)
    else:
        d0 = ball.sample(batch, shape, eps.cpu(), generator, like.dtype)
    return d0.to(like.device)


def _as_generator(seed: int | torch.Generator | None) -> torch.Generator:
    if isinstance(seed, torch.Generator):
        return seed
    g = torch.Generator()
    g.manual_seed(0 if seed is None else check_number("seed", seed, integer=True))
    return g


@dataclass(frozen=True)
class PGDStep:
    r"""The PGD update, written once: ``δ' = clip_box(P_B(δ - c v(g)))``.

    ``c`` is the signed step ``s η`` broadcast per row (:meth:`signed`), ``v`` the rule's
    direction and ``g`` the gradient source's output: ``∇L``, or any positive multiple of it
    per row when the rule is scale-free (``v(c g) = v(g)``, ``c > 0``), which lets the objective
    skip work (:meth:`advdyn.models.Objective.gradient`). ``x`` (the clean inputs, broadcast to
    the batch) is only needed with a data ``box``.
    """

    rule: Rule
    ball: Ball
    eps: torch.Tensor
    sign: float
    box: tuple[float, float] | None = None
    x: torch.Tensor | None = None

    def signed(self, eta: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        """``s η`` per row, shaped to broadcast against δ."""
        return per_row(self.sign * eta, like)

    def gradient(self, objective: Objective, delta: torch.Tensor) -> torch.Tensor:
        """What the rule needs from the objective at δ (``∇L`` up to a positive row scale when
        the rule is scale-free)."""
        return objective.gradient(delta, scale_free=self.rule.scale_free)

    def __call__(self, delta: torch.Tensor, grad: torch.Tensor, signed: torch.Tensor
                 ) -> torch.Tensor:
        new = self.ball.project(delta - signed * self.rule.direction(grad, self.ball), self.eps)
        if self.box is None or self.x is None:
            return new
        return clip_to_box(self.x, new, self.box[0], self.box[1])


def run_pgd(
    objective: Objective,
    eps: float | torch.Tensor,
    eta: float | torch.Tensor,
    steps: int,
    *,
    rule: str = "raw",
    ball: str = "l2",
    direction: str = "descent",
    schedule: ScheduleFn | str | None = None,
    start: str | torch.Tensor = "uniform",
    batch: int | None = None,
    generator: int | torch.Generator | None = None,
    tol: float | None = None,
    box: tuple[float, float] | None = None,
    record: Recorder | None = None,
    progress: bool = False,
) -> PGDResult:
    """Run batched PGD on ``L`` (see the module docstring) and return the :class:`PGDResult`.

    ``eps``, ``eta``: a scalar or one value per row, taken in the dtype of the computation
    (the objective's; a narrower float such as a float32 ε for a float64 objective is widened
    to the number it was written as, :func:`advdyn.geometry.in_dtype`, so it gives the same
    answer as the float64 value); ``eps > 0`` and ``eta ≥ 0`` (``eta = 0`` leaves the start in
    place, e.g. to sample starts; ``advdyn pgd --eta`` takes the same range). ``steps``: the
    budget (exactly that many steps unless ``tol`` stops a row earlier). ``generator``: a seed
    or a ``torch.Generator`` for random starts (CPU-sampled, so the same seed gives the same
    start on any device).

    Work per step: with a recording, a tolerance or a schedule that reads the geometry, the
    objective is evaluated in full at every iterate (the diagnostics need ``L`` and ``∇L``);
    otherwise each step asks only for what the rule needs (:meth:`PGDStep.gradient`) and the
    final iterate is not evaluated at all unless the result's ``L``/``ell``/``grad`` are read.
    """
    steps = check_number("steps", steps, nonnegative=True, integer=True)
    step_rule = get_rule(rule)
    ball_cls = BALLS[check_choice("ball", ball, BALLS)]
    sign = DIRECTIONS[check_choice("direction", direction, DIRECTIONS)]
    sched = as_schedule(schedule)
    if tol is not None:
        tol = check_number("tol", tol, nonnegative=True)
    if box is not None and (len(box) != 2 or not box[0] < box[1]):
        raise fail("box", f"expected (low, high) with low < high, got {box}")
    if record is not None and not isinstance(record, Recorder):
        raise fail("record", "expected an advdyn.pgd.Recorder")

    like = objective.x
    b = _batch_size(objective, start, eps, eta, batch)
    shape = objective.shape
    eps_t = _per_row_values("eps", eps, b, like, positive=True)
    eta_t = _per_row_values("eta", eta, b, like, positive=False)
    delta = initial_delta(start, ball, b, shape, eps_t, like, _as_generator(generator))
    step = PGDStep(step_rule, ball_cls, eps_t, sign, box,
                   like.expand(b, *shape) if box is not None else None)

    geometry = record is not None or tol is not None or needs_geometry(sched)
    constant = isinstance(sched, Constant)
    sink = RecordSink(record, b, shape) if record is not None else None
    on_tol = sphere_rtol(like.dtype)
    signed = step.signed(eta_t, delta) if constant else None

    taken = torch.zeros(b, dtype=torch.long, device=like.device)
    active = torch.ones(b, dtype=torch.bool, device=like.device)
    converged = torch.zeros_like(active)
    state = ScheduleState(eta_t, active, active)
    ev: Evaluation | None = None
    bar = tqdm(total=steps, desc="pgd", unit="step", disable=not progress, leave=False)
    for t in range(steps + 1):
        if geometry:
            ev = objective.evaluate(delta)
            assert ev.grad is not None  # evaluate(grad=True) returns the gradient
            norm, gamma, lam = sphere_terms(ev.grad, delta)
            radius = norm if ball_cls is L2Ball else ball_cls.radius(delta)
            on_sphere = radius >= eps_t * (1 - on_tol)
            if tol is not None:
                interior_stop = ~on_sphere & (row_norm(ev.grad) <= tol)
                sphere_stop = on_sphere & (gamma <= tol) & (sign * lam <= 0)
                done = active & (interior_stop | sphere_stop)
                converged |= done
                active &= ~done
            state = ScheduleState(eta_t, on_sphere, gamma)
        eta_now = eta_t if constant else torch.as_tensor(
            sched(t, state), dtype=like.dtype, device=like.device).expand(b)
        stopped = tol is not None and not active.any()
        if sink is not None and (t % sink.recorder.stride == 0 or t == steps or stopped):
            assert ev is not None and ev.grad is not None  # a recording run has the geometry
            aligned = alignment(ev.grad, delta) if "alignment" in sink.recorder.fields else None
            sink.add(t, {"delta": delta, "L": ev.L, "ell": ev.ell, "gamma_norm": gamma,
                         "lam": lam, "alignment": aligned, "on_sphere": on_sphere,
                         "eta": eta_now})
        if t == steps or stopped:
            break
        grad = ev.grad if ev is not None and ev.grad is not None else step.gradient(
            objective, delta)
        new = step(delta, grad, signed if signed is not None else step.signed(eta_now, delta))
        if tol is None:
            delta = new
        else:
            delta = torch.where(per_row(active, delta).bool(), new, delta)
            taken += active
        bar.update(1)
    bar.close()
    if tol is None:
        taken.fill_(steps)
    return PGDResult(delta, taken, converged, sink.finish() if sink else None, objective, ev)
