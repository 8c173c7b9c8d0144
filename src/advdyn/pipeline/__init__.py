"""The composition layer: one path from an experiment's configuration to the files of a run.

For each experiment: its jobs run through the runner (cached), ``collect`` makes its result,
the claims layer judges its claims (:func:`advdyn.claims.claims_of`), the plots registry draws
its pictures, and the runner writes the result, the figures and ``claims.json``; the report
renders the sections. ``advdyn reproduce``, ``check``, ``sweep`` and the standalone commands
(``fig1``, ``phase``, …) all go through here (:func:`run_experiment`, :func:`run_standalone`,
:func:`reproduce`, :func:`check`, :func:`sweep`).
"""

from advdyn.pipeline.reproduce import (
                                       PROFILES,
                                       Plan,
                                       check,
                                       plan,
                                       reference_verdicts,
                                       reproduce,
                                       run_record,
                                       run_standalone,
                                       sweep,
)
from advdyn.pipeline.section import Done, run_experiment

__all__ = ["PROFILES", "Done", "Plan", "check", "plan", "reference_verdicts", "reproduce",
           "run_experiment", "run_record", "run_standalone", "sweep"]
