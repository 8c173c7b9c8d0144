"""The job runner under every experiment.

A job is an importable function and a JSON configuration (:class:`Job`); its result is stored
under a key derived from both, the advdyn version and a fingerprint of advdyn's source files
(:class:`ResultStore`), written atomically and reused on the next run. Executors run jobs in this
process, in a local process pool or on a Dask cluster (:func:`make_executor`). An
:class:`Experiment` turns a configuration into jobs and its results into a report section;
:mod:`advdyn.runner.sweep` runs grids of configurations.
"""

from advdyn.runner.executors import EXECUTORS, Executor, execute, make_executor
from advdyn.runner.experiment import Experiment, config_dict, run_experiment
from advdyn.runner.run import run_jobs
from advdyn.runner.store import Job, JobResult, ResultStore, job_key

__all__ = ["EXECUTORS", "Executor", "Experiment", "Job", "JobResult", "ResultStore",
           "config_dict", "execute", "job_key", "make_executor", "run_experiment", "run_jobs"]
