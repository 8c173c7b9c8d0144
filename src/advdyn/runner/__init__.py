"""The job runner under every experiment, and all file I/O.

A job (:class:`advdyn.experiments.base.Job`) is an importable function and a JSON
configuration; its result is stored under a key derived from both, the advdyn version and a
fingerprint of advdyn's source files (:func:`key_of`, :class:`ResultStore`), written atomically
and reused on the next run. Executors run jobs in this process, in a local process pool or on a
Dask cluster (:func:`make_executor`). :mod:`advdyn.runner.outputs` writes figures, results and
records; :mod:`advdyn.runner.sweep` runs grids of configurations. The runner knows nothing of
reports, pictures or verdicts: :mod:`advdyn.pipeline` composes them.
"""

from advdyn.runner.executors import EXECUTORS, Executor, execute, make_executor
from advdyn.runner.run import run_jobs
from advdyn.runner.store import JobResult, ResultStore, job_key, key_of

__all__ = ["EXECUTORS", "Executor", "JobResult", "ResultStore", "execute", "job_key", "key_of",
           "make_executor", "run_jobs"]
