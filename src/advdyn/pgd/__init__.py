"""The batched PGD engine: step rules, schedules, trajectory recording, stopping rules."""

from advdyn.pgd.engine import PGDResult, run_pgd
from advdyn.pgd.record import Recorder, Trajectory, load_trajectory
from advdyn.pgd.rules import RULES, Normalized, Raw, Sign
from advdyn.pgd.schedules import Constant, ScheduleState, Shrinking

__all__ = ["RULES", "Constant", "Normalized", "PGDResult", "Raw", "Recorder", "ScheduleState",
           "Shrinking", "Sign", "Trajectory", "load_trajectory", "run_pgd"]
