"""The commands' one path: ``reproduce`` (every experiment and the report), ``check`` (one
claim), the standalone experiment commands, and ``sweep``."""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from advdyn.atomic import write_json, write_text
from advdyn.claims import ClaimRecord, claim
from advdyn.errors import check_choice, fail
from advdyn.experiments import registry
from advdyn.experiments.base import Experiment, Job, config_dict, on_device
from advdyn.pipeline.section import Done, run_experiment
from advdyn.plots.sweep import sweep_summary
from advdyn.report import Report, render_html, render_markdown
from advdyn.runner.environment import environment, source_commit
from advdyn.runner.executors import Executor, InlineExecutor
from advdyn.runner.store import ResultStore, code_fingerprint, job_code_fingerprint
from advdyn.runner.sweep import Sweep, SweepRun, run_sweep

TITLE = "Dynamics of first-order adversaries: reproduction report"
CLAIMS_FILE = "claims.json"
RUN_FILE = "run.json"
#: The sizes a run can take: ``quick`` (each experiment's ``quick`` overrides, a smoke test of a
#: few minutes), ``full`` (the defaults) and ``reference`` (each experiment's ``reference``
#: overrides on top of its defaults: the size of the committed ``results/reference/``).
PROFILES = ("quick", "full", "reference")


@dataclass(frozen=True)
class Plan:
    """Experiments with their validated configurations and jobs, made before anything is
    written, and the profile they were sized by."""

    profile: str
    entries: list[tuple[Experiment, Any, list[Job]]]
    device: str = "cpu"

    @property
    def quick(self) -> bool:
        """Whether this is the quick profile."""
        return self.profile == "quick"


def profile_values(experiment: Experiment, profile: str) -> dict[str, Any]:
    """The parameter overrides ``profile`` (one of :data:`PROFILES`) gives ``experiment``."""
    check_choice("profile", profile, PROFILES)
    return dict({"quick": experiment.quick, "full": {},
                 "reference": experiment.reference}[profile])


def plan(experiments: Sequence[Experiment], *, quick: bool = False, profile: str | None = None,
         overrides: Mapping[str, Mapping[str, Any]] | None = None, device: str = "cpu"
         ) -> Plan:
    """Validate each experiment's configuration (its defaults, then the overrides of
    ``profile`` — ``"quick"`` when only ``quick`` is set, else ``"full"`` — then
    ``overrides[name]``) and make its jobs, on ``device`` where they take one
    (:func:`~advdyn.experiments.base.on_device`: CPU jobs keep their cache keys)."""
    profile = profile or ("quick" if quick else "full")
    entries = []
    for e in experiments:
        where = f"{e.name} {profile} configuration"
        values = {**profile_values(e, profile), **dict((overrides or {}).get(e.name, {}))}
        config = e.make_config(values, where=where)
        entries.append((e, config, on_device(e, list(e.jobs(config)), device)))
    return Plan(profile, entries, device)


def write_claims(out: Path, records: Sequence[ClaimRecord]) -> Path:
    """``out/claims.json``: the records (:meth:`ClaimRecord.to_json`), in register order."""
    return write_json(out / CLAIMS_FILE, [r.to_json() for r in records])


def _seeds(entries: list[tuple[Experiment, Any, list[Job]]]) -> str:
    seeds = []
    for e, config, _ in entries:
        found = {k: v for k, v in config_dict(config).items() if "seed" in k}
        seeds += [f"{e.name}.{k}={v}" for k, v in found.items()]
    return ", ".join(seeds) or "none"


def time_left(the_plan: Plan, done: Sequence[Done], expected: Mapping[str, float]) -> str:
    """An estimate of the wall time the experiments not yet in ``done`` will take.

    With ``expected`` (experiment → wall seconds of an earlier run, e.g. the committed reference
    run's ``run.json``): the remaining experiments' expected times, scaled by how this run's
    finished experiments compare with theirs. Without it (or for experiments it lacks): the
    jobs left times the wall time per computed job so far."""
    names = [e.name for e, _, _ in the_plan.entries]
    left = names[len(done):]
    seen = [d.section for d in done if expected.get(d.section.name)]
    pace = (sum(s.wall_s for s in seen) / sum(expected[s.name] for s in seen)) if seen else 1.0
    known = sum(expected[n] for n in left if n in expected) * pace
    computed = [d.section for d in done if d.section.n_jobs > d.section.n_reused]
    per_job = (sum(s.wall_s for s in computed)
               / max(sum(s.n_jobs - s.n_reused for s in computed), 1))
    unknown = per_job * sum(len(jobs) for e, _, jobs in the_plan.entries[len(done):]
                            if e.name not in expected)
    how = ("from the earlier run's times" if expected and all(n in expected for n in left)
           else "by jobs")
    return f"≈ {(known + unknown) / 60:.0f} min ({how})"


def _run_all(the_plan: Plan, out: Path, store: ResultStore, executor: Executor,
             progress: bool, expected: Mapping[str, float]) -> list[Done]:
    """Each experiment in turn; with ``progress``, a line after each with the time so far and
    an estimate of the time left (:func:`time_left`)."""
    start, done = time.perf_counter(), []
    total = sum(len(jobs) for _, _, jobs in the_plan.entries)
    for k, (e, config, jobs) in enumerate(the_plan.entries, 1):
        done.append(run_experiment(e, config, out / e.name, store, executor, jobs=jobs,
                                   progress=progress))
        if progress:
            finished = sum(len(j) for _, _, j in the_plan.entries[:k])
            print(f"[{k}/{len(the_plan.entries)} experiments, {finished}/{total} jobs] "
                  f"{e.name} done in {done[-1].section.wall_s:.0f} s; elapsed "
                  f"{time.perf_counter() - start:.0f} s; time left "
                  f"{time_left(the_plan, done, expected)}", file=sys.stderr, flush=True)
    return done


def run_record(the_plan: Plan, done: Sequence[Done], executor: Executor, wall_s: float,
               command: str) -> dict[str, Any]:
    """What ``out/run.json`` holds: the profile, the command, the commit, the code fingerprints
    (the whole package's, and the jobs' that keys the stored results),
    the machine, the executor and threads, and the wall and CPU time of the run and of each
    experiment (CPU: the jobs' processes plus the collecting process)."""
    records = [r for d in done for r in d.records]
    verdicts = [r.verdict for r in records]
    return {
        "profile": the_plan.profile, "command": command, "commit": source_commit(),
        "code": code_fingerprint(), "job_code": job_code_fingerprint(),
        "machine": environment(), "executor": executor.describe(),
        "threads_per_job": executor.threads, "wall_s": round(wall_s, 2),
        "cpu_s": round(sum(d.section.cpu_s for d in done), 2),
        "verdicts": {v: verdicts.count(v) for v in sorted(set(verdicts))},
        "experiments": {d.section.name: {
            "wall_s": round(d.section.wall_s, 2), "cpu_s": round(d.section.cpu_s, 2),
            "jobs": d.section.n_jobs, "reused": d.section.n_reused,
            "failed": d.section.error is not None} for d in done},
    }


def reference_verdicts(claims_file: Path | None) -> dict[str, str]:
    """Claim id → verdict from a ``claims.json`` (the committed reference run's), or ``{}``
    when ``claims_file`` is ``None`` or absent. An unreadable file is an error naming it."""
    if claims_file is None or not claims_file.is_file():
        return {}
    try:
        rows = json.loads(claims_file.read_text(encoding="utf-8"))
        return {str(r["id"]): str(r["verdict"]) for r in rows}
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise fail("reference_claims", f"{claims_file} is not a claims.json ({e})",
                   "point it at a reproduce run's claims.json") from None


def expected_times(run_file: Path) -> dict[str, float]:
    """Experiment → wall seconds from an earlier run's ``run.json`` (for the estimate of the
    time left), or ``{}`` when the file is absent or unreadable (an estimate, not an input)."""
    try:
        run = json.loads(run_file.read_text(encoding="utf-8"))
        return {str(k): float(v["wall_s"]) for k, v in run["experiments"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}


def reproduce(the_plan: Plan, out: Path, executor: Executor, *, progress: bool = True,
              command: str = "", reference: Mapping[str, str] | None = None,
              expected: Mapping[str, float] | None = None) -> Report:
    """Run the plan's experiments (results cached in ``out/cache``, files in
    ``out/<experiment>/``), then write ``out/claims.json``, ``out/report.html``,
    ``out/report.md`` and ``out/run.json`` (:func:`run_record`). ``reference``: claim id →
    the reference run's verdict, shown beside each verdict of the report; ``expected``:
    experiment → wall seconds of an earlier run, for the estimate of the time left."""
    start = time.perf_counter()
    store = ResultStore(out / "cache")
    done = _run_all(the_plan, out, store, executor, progress, expected or {})
    settings = {"mode": the_plan.profile, "executor": executor.describe(),
                "seeds": _seeds(the_plan.entries), "output folder": str(out.resolve()),
                "code fingerprint": code_fingerprint(),
                "total wall time (s)": round(time.perf_counter() - start, 2)}
    if the_plan.device != "cpu":
        settings["device"] = the_plan.device
    if command:
        settings["command"] = command
    report = Report(TITLE, [d.section for d in done], settings, environment(),
                    profile=the_plan.profile, reference=dict(reference or {}))
    write_claims(out, [r for d in done for r in d.records])
    write_text(out / "report.md", render_markdown(report, out))
    write_text(out / "report.html", render_html(report))
    record = run_record(the_plan, done, executor, time.perf_counter() - start, command)
    write_json(out / RUN_FILE, {**record, "earlier": earlier_runs(out / RUN_FILE, done)})
    return report


def earlier_runs(run_file: Path, done: Sequence[Done]) -> list[dict[str, Any]]:
    """The records of the earlier runs into the same folder whose stored results this run
    reused (``run.json``'s ``earlier``, newest first): a run killed and resumed, or results
    re-judged after a change of the judging code, keep the record of the runs that computed
    them. Empty when this run reused nothing or there is no readable earlier record."""
    if not any(d.section.n_reused for d in done):
        return []
    try:
        before = json.loads(run_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    if not isinstance(before, dict):
        return []
    older = before.pop("earlier", [])
    return [before, *(older if isinstance(older, list) else [])]


def run_standalone(experiment: Experiment, config: Any, out: Path, *, progress: bool = True,
                   threads: int = 1, device: str = "cpu") -> Done:
    """One experiment in this process (``advdyn fig1``, ``advdyn phase``, …): its files
    straight into ``out`` (results cached in ``out/cache``, so a rerun reuses them), and
    ``out/claims.json`` when it has claims; its jobs on ``device`` where they take one."""
    with InlineExecutor(threads=threads) as executor:
        done = run_experiment(experiment, config, out, ResultStore(out / "cache"), executor,
                              jobs=on_device(experiment, experiment.jobs(config), device),
                              progress=progress)
    if done.records:
        write_claims(out, done.records)
    return done


def check(claim_id: str, out: Path, executor: Executor, *, quick: bool = False,
          parameters: Mapping[str, Any] | None = None, progress: bool = True,
          device: str = "cpu") -> Done:
    """``advdyn check CLAIM``: run the experiment that holds ``claim_id``'s arms (its quick
    configuration with ``quick``, then ``parameters``), its jobs on ``device`` where they take
    one, write its files and ``out/claims.json`` (that experiment's records)."""
    experiment = registry.get(claim(claim_id).experiment, "claim")
    [(e, config, jobs)] = plan([experiment], quick=quick,
                               overrides={experiment.name: parameters or {}},
                               device=device).entries
    done = run_experiment(e, config, out, ResultStore(out / "cache"), executor, jobs=jobs,
                          progress=progress)
    write_claims(out, done.records)
    return done


def sweep(the_sweep: Sweep, out: Path, executor: Executor, *, progress: bool = True,
          device: str = "cpu") -> SweepRun:
    """``advdyn sweep``: the grid's jobs (on ``device`` where they take one, which then shows
    as the table's ``device`` column) through the runner, the tidy table and the summary
    figure (:func:`advdyn.plots.sweep.sweep_summary`)."""
    name = the_sweep.experiment.name
    the_sweep = dataclasses.replace(the_sweep, jobs=[
        on_device(the_sweep.experiment, jobs, device) for jobs in the_sweep.jobs])

    def summary(rows: list[dict[str, Any]], swept: list[str], results: list[str]) -> Any:
        return sweep_summary(rows, swept, results, title=f"sweep of {name}")

    return run_sweep(the_sweep, out, executor, summary, progress=progress)
