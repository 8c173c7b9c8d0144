"""Run a list of jobs through an executor, reusing and filling a result store."""

from __future__ import annotations

from collections.abc import Sequence

from tqdm import tqdm

from advdyn.experiments.base import Job
from advdyn.runner.executors import Executor, resolve
from advdyn.runner.store import JobResult, ResultStore, key_of


def run_jobs(jobs: Sequence[Job], store: ResultStore, executor: Executor, *,
             progress: bool = True, desc: str = "jobs") -> list[JobResult]:
    """Results of ``jobs`` in their order: read from ``store`` where present, else computed.

    Each computed result is written to the store as soon as it arrives, so a run killed at any
    moment loses at most the jobs in flight and the next run resumes from there. Jobs with the
    same key are computed once. A progress bar counts jobs (stored ones count as done).
    """
    for function in {job.function for job in jobs}:
        resolve(function)
    store.remove_leftovers()
    unique = list({key_of(job): job for job in jobs}.values())
    done: dict[str, JobResult] = {}
    for job in unique:
        stored = store.load(job)
        if stored is not None:
            done[key_of(job)] = stored
    missing = [job for job in unique if key_of(job) not in done]
    with tqdm(total=len(unique), initial=len(done), desc=desc, unit="job",
              disable=not progress, dynamic_ncols=True) as bar:
        if missing:
            bar.set_postfix_str(executor.describe())
            for job, value, elapsed, cpu in executor.run(missing):
                done[key_of(job)] = store.save(job, value, elapsed, cpu)
                bar.update(1)
    return [done[key_of(job)] for job in jobs]
