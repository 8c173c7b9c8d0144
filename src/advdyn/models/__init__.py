"""Models as objectives of δ: the two-layer network (closed forms) and any ``torch.nn.Module``."""

from advdyn.models.module import ModuleObjective
from advdyn.models.objective import Objective
from advdyn.models.problem import Problem
from advdyn.models.twolayer import TwoLayerNet, TwoLayerObjective

__all__ = ["ModuleObjective", "Objective", "Problem", "TwoLayerNet", "TwoLayerObjective"]
