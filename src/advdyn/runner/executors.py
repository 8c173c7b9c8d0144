"""Where jobs run: in this process, in a local process pool, or on a Dask cluster.

Every executor calls :func:`execute` on each job and yields ``(job, value, elapsed_s, cpu_s)``
as jobs finish, in any order; the caller stores the results. Whatever the executor, a job runs
the same way: one torch thread (the inline executor of a standalone command may be given more),
torch's default dtype (float32), and the global random generators
(``random``, NumPy, torch) seeded from the job's key, so a job's result does not depend on where,
when or after which other job it ran.
"""

from __future__ import annotations

import importlib
import multiprocessing
import os
import random
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import numpy as np
import torch

from advdyn.errors import check_choice, check_number, fail
from advdyn.experiments.base import Job
from advdyn.runner.store import key_of

EXECUTORS = ("local", "inline", "dask")

Completed = tuple[Job, dict[str, Any], float, float]


def resolve(function: str) -> Callable[..., Any]:
    """Import ``"package.module:name"`` and return the function it names."""
    module_name, _, attr = function.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise fail("job.function", f"cannot import module {module_name!r} ({e})") from None
    fn = getattr(module, attr, None)
    if not callable(fn):
        raise fail("job.function", f"module {module_name!r} has no function {attr!r}")
    return fn


def execute(job: Job, threads: int = 1) -> Completed:
    """Run one job here, deterministically, on ``threads`` torch threads; return it with its
    value, its wall time and the CPU time this process spent on it (all threads), in seconds.

    The process's torch threads, default dtype and global random states are restored after the
    job, so running jobs inline leaves the caller's state as it was.
    """
    fn = resolve(job.function)
    saved = (random.getstate(), np.random.get_state(), torch.get_rng_state(),
             torch.get_num_threads(), torch.get_default_dtype())
    seed = int(key_of(job)[:8], 16)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.set_num_threads(threads)
    torch.set_default_dtype(torch.float32)
    start, cpu_start = time.perf_counter(), time.process_time()
    try:
        value = fn(**job.config)
    finally:
        random.setstate(saved[0])
        np.random.set_state(saved[1])
        torch.set_rng_state(saved[2])
        torch.set_num_threads(saved[3])
        torch.set_default_dtype(saved[4])
    return job, value, time.perf_counter() - start, time.process_time() - cpu_start


class Executor(AbstractContextManager):
    """Runs jobs and yields them as they complete. Use as a context manager. ``threads``: the
    torch threads each job runs on."""

    name = "executor"
    threads = 1

    def describe(self) -> str:
        """One line saying where jobs run (for logs and the report)."""
        return self.name

    def run(self, jobs: Sequence[Job]) -> Iterator[Completed]:
        """Yield ``(job, value, elapsed_s, cpu_s)`` for every job, in completion order."""
        raise NotImplementedError

    def __exit__(self, exc_type: object, *exc: object) -> None:
        self.close(abort=exc_type is not None)

    def close(self, abort: bool = False) -> None:
        """Release workers, clients, clusters; with ``abort`` (an error or Ctrl-C), stop jobs
        still running instead of waiting for them (finished results are already stored)."""


class InlineExecutor(Executor):
    """Jobs run one after another in this process."""

    name = "inline"

    def __init__(self, threads: int = 1) -> None:
        self.threads = int(check_number("threads", threads, positive=True, integer=True))

    def run(self, jobs: Sequence[Job]) -> Iterator[Completed]:
        for job in jobs:
            yield execute(job, self.threads)


def _watch_parent(parent: int) -> None:
    """Pool-worker initializer: exit once process ``parent`` (the pool's owner) is gone, e.g.
    after ``kill -9``, instead of lingering as an orphan."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


class LocalExecutor(Executor):
    """A pool of ``workers`` fresh Python processes on this machine (nothing to start)."""

    name = "local"

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None

    def describe(self) -> str:
        return f"local process pool, {self.workers} workers"

    def run(self, jobs: Sequence[Job]) -> Iterator[Completed]:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(self.workers,
                                             mp_context=multiprocessing.get_context("spawn"),
                                             initializer=_watch_parent,
                                             initargs=(os.getpid(),))
        pending: set[Future[Completed]] = {self._pool.submit(execute, job) for job in jobs}
        try:
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    yield future.result()
        finally:
            for future in pending:
                future.cancel()

    def close(self, abort: bool = False) -> None:
        if self._pool is None:
            return
        if abort:  # the pool has no public way to stop running jobs before Python 3.14
            for process in list(getattr(self._pool, "_processes", {}).values()):
                process.terminate()
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._pool = None


class DaskExecutor(Executor):
    """Jobs run on a Dask ``distributed`` cluster.

    ``scheduler`` is anything :class:`distributed.Client` connects to: a scheduler address
    (``tcp://host:8786``; e.g. ``SLURMCluster(...).scheduler_address`` from dask-jobqueue) or
    the path of a scheduler file (``.json``). Without one, a ``LocalCluster`` of ``workers``
    single-threaded worker processes is started and stopped with the executor. Workers must be
    able to import advdyn (and the job functions).
    """

    name = "dask"

    def __init__(self, scheduler: str | None, workers: int, *,
                 connect_timeout_s: float = 20.0) -> None:
        try:
            import distributed
        except ImportError:
            raise fail("executor", "dask is not installed",
                       "pip install 'advdyn[dask]' (dask and distributed), or use "
                       "--executor local") from None
        self._distributed = distributed
        self._cluster: Any = None
        self._client: Any = None
        self.scheduler = scheduler
        self.workers = workers
        if scheduler is None:
            return  # the LocalCluster starts on the first job, not for a run of cached results
        try:
            if scheduler.endswith(".json") and Path(scheduler).is_file():
                self._client = distributed.Client(scheduler_file=scheduler,
                                                  timeout=connect_timeout_s)
            else:
                self._client = distributed.Client(scheduler, timeout=connect_timeout_s)
        except (OSError, TimeoutError, ValueError) as e:
            raise fail("scheduler", f"cannot connect to {scheduler!r} ({e})",
                       "pass a running scheduler's address or scheduler file") from None

    @property
    def client(self) -> Any:
        """The ``distributed.Client`` (starting the LocalCluster if there is no scheduler)."""
        if self._client is None:
            import logging

            self._cluster = self._distributed.LocalCluster(
                n_workers=self.workers, threads_per_worker=1, processes=True,
                dashboard_address=None, silence_logs=logging.ERROR)
            self._client = self._distributed.Client(self._cluster)
        return self._client

    def describe(self) -> str:
        if self.scheduler is None:
            return f"dask LocalCluster, {self.workers} workers"
        return f"dask scheduler {self.scheduler}"

    def run(self, jobs: Sequence[Job]) -> Iterator[Completed]:
        client = self.client
        futures = [client.submit(execute, job, key=f"advdyn-{key_of(job)}", pure=False)
                   for job in jobs]
        try:
            for _, completed in self._distributed.as_completed(futures, with_results=True):
                yield completed
        finally:
            client.cancel([f for f in futures if not f.done()])

    def close(self, abort: bool = False) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None


def make_executor(name: str = "local", *, workers: int | None = None,
                  scheduler: str | None = None) -> Executor:
    """Build an executor by name: ``local`` (process pool), ``inline`` or ``dask``.

    ``workers`` defaults to the number of CPU cores; ``scheduler`` is only for ``dask``.
    """
    check_choice("executor", name, EXECUTORS)
    if workers is None:
        n = os.cpu_count() or 1
    else:
        n = int(check_number("workers", workers, positive=True, integer=True))
    if scheduler is not None and name != "dask":
        raise fail("scheduler", f"only used with --executor dask, not {name!r}")
    if name == "inline":
        return InlineExecutor()
    if name == "local":
        return LocalExecutor(n)
    return DaskExecutor(scheduler, n)
