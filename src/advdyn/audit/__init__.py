r"""Audit any attack: the indicators of attack failure and stationarity certificates, per row.

:func:`audit_attack` runs an attack from torchattacks, Foolbox 3, ART or the user's own loop
through :func:`advdyn.trace.trace_attack`, then reruns it (restarts, an unbounded radius, a
surrogate) and evaluates, per row: the indicators of Pintor et al. (NeurIPS 2022, "Indicators of
Attack Failure") with advdyn's stated rules (:mod:`advdyn.audit.indicators`); the tangent-cone
KKT residual on the attack's actual feasible set, ball ∩ pixel box
(:mod:`advdyn.sphere.feasible`; FOSC for l∞); 1 − cos∠[∇ℓ, δ] where the ball alone is active;
the start-law test; the first adversarial step; and one verdict per row. The model checks of
:mod:`advdyn.models.checks` run before any attack. :mod:`advdyn.audit.attacks` builds the
attacks the command line names (``torchattacks:PGDL2``, ``foolbox:L2PGD``, …).
"""

from advdyn.audit.core import audit_attack, predictions, unbounded_radius
from advdyn.audit.indicators import INDICATORS, RULES
from advdyn.audit.result import Audit

__all__ = ["INDICATORS", "RULES", "Audit", "audit_attack", "predictions", "unbounded_radius"]
