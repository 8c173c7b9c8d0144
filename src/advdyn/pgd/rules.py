r"""Step rules: the direction ``v`` a PGD step moves along, ``δ ← P_B(δ ∓ η v)``.

* ``raw``: ``v = ∇L`` — the rule the theorems are about; its natural scale is ``η ∝ ε²``.
* ``normalized``: ``v = ∇L/‖∇L‖_*`` — the ball's unit dual-norm direction (``∇L/‖∇L‖₂`` on the l2
  ball, ``sign ∇L`` on the l∞ ball); the practical libraries' rule, scale-free with ``η = ρε``.
* ``sign``: ``v = sign ∇L`` on any ball (FGSM-style).

``scale_free``: whether ``v(c g) = v(g)`` for every ``c > 0`` (up to rounding); such a rule
only needs ∇L up to a positive factor per row, which an objective may compute more cheaply
(:meth:`advdyn.models.Objective.gradient`).
"""

from __future__ import annotations

import torch

from advdyn.errors import check_choice
from advdyn.geometry import L2Ball, LinfBall

Ball = type[L2Ball] | type[LinfBall]


class Raw:
    """``v = ∇L``."""

    name = "raw"
    scale_free = False

    @staticmethod
    def direction(grad: torch.Tensor, ball: Ball) -> torch.Tensor:
        return grad


class Normalized:
    """``v = ∇L/‖∇L‖_*`` (the ball's steepest direction of unit length)."""

    name = "normalized"
    scale_free = True

    @staticmethod
    def direction(grad: torch.Tensor, ball: Ball) -> torch.Tensor:
        return ball.normalize(grad)


class Sign:
    """``v = sign ∇L``."""

    name = "sign"
    scale_free = True

    @staticmethod
    def direction(grad: torch.Tensor, ball: Ball) -> torch.Tensor:
        return grad.sign()


Rule = type[Raw] | type[Normalized] | type[Sign]
RULES: dict[str, Rule] = {"raw": Raw, "normalized": Normalized, "sign": Sign}


def get_rule(name: str) -> Rule:
    return RULES[check_choice("rule", name, RULES)]
