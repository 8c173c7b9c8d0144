"""Every registered experiment: its quick configuration builds, its jobs are importable functions
with JSON configurations and stable keys; job keys that must not depend on the rest of a grid do
not; and the census experiment end to end through the runner."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from advdyn.claims import VERDICTS
from advdyn.errors import AdvdynError
from advdyn.experiments import registry
from advdyn.experiments.base import Job, config_dict
from advdyn.experiments.census import CensusConfig, census_job, census_row
from advdyn.experiments.phase import PhaseConfig, phase_jobs, phase_seed
from advdyn.pipeline import run_experiment
from advdyn.runner import ResultStore, job_key, key_of
from advdyn.runner.executors import InlineExecutor, resolve

EXPERIMENTS = registry.registered()
TINY = {"scales": [0.01, 100.0], "ratios": [10.0], "seeds": 2, "width": 32}


pytestmark = pytest.mark.usefixtures("one_thread")


def test_experiments_are_registered_once() -> None:
    names = [e.name for e in EXPERIMENTS]
    assert len(set(names)) == len(names)
    assert {"census", "fig1", "phase", "lemma41", "theorem31", "threshold"} <= set(names)


@pytest.mark.parametrize("experiment", EXPERIMENTS, ids=[e.name for e in EXPERIMENTS])
def test_quick_config_makes_json_jobs_with_stable_keys(experiment) -> None:
    config = experiment.make_config(dict(experiment.quick), where="quick")
    jobs = experiment.jobs(config)
    assert jobs and all(isinstance(job, Job) for job in jobs)
    for job in jobs:
        assert callable(resolve(job.function))
        assert json.loads(json.dumps(job.config, allow_nan=False)) == job.config
        assert key_of(job) == job_key(job.function, job.config)
    keys = [key_of(job) for job in jobs]
    assert [key_of(job) for job in experiment.jobs(experiment.make_config(dict(experiment.quick)))
            ] == keys
    # a sweep rebuilds configurations from plain values: same jobs
    rebuilt = experiment.make_config(config_dict(config))
    assert [key_of(job) for job in experiment.jobs(rebuilt)] == keys


def test_a_seeds_job_does_not_depend_on_the_range_of_seeds() -> None:
    census = registry.get("census")
    few = {key_of(j) for j in census.jobs(CensusConfig(**{**TINY, "seeds": 1, "seed": 1}))}
    many = {key_of(j) for j in census.jobs(CensusConfig(**{**TINY, "seeds": 3}))}
    assert few < many
    few = {key_of(j) for j in phase_jobs(PhaseConfig(seeds=1, seed=2))}
    assert few < {key_of(j) for j in phase_jobs(PhaseConfig(seeds=4))}
    assert all("seed" not in j.config and "seeds" not in j.config
               for j in phase_jobs(PhaseConfig(seeds=2)))


def test_census_job_keys_ignore_knobs_of_the_other_method() -> None:
    census = registry.get("census")
    flat = [key_of(j) for j in census.jobs(CensusConfig(**TINY))]
    assert [key_of(j) for j in census.jobs(CensusConfig(**TINY, census_starts=64))] == flat
    assert [key_of(j) for j in census.jobs(CensusConfig(**TINY, min_angles=512))] != flat
    d3 = [key_of(j) for j in census.jobs(CensusConfig(**TINY, dim=3))]
    assert [key_of(j) for j in census.jobs(CensusConfig(**TINY, dim=3, min_angles=512))] == d3


@pytest.mark.parametrize("field, value", [("scales", [0.0]), ("seeds", 0), ("dim", 1),
                                          ("census_starts", 0), ("max_angles", 8)])
def test_bad_census_config_names_the_field(field: str, value: object) -> None:
    with pytest.raises(AdvdynError, match=field):
        registry.get("census").make_config({**TINY, field: value})


def test_census_end_to_end_through_the_runner(tmp_path: Path) -> None:
    census = registry.get("census")
    config = census.make_config(TINY)
    store = ResultStore(tmp_path / "cache")
    done = run_experiment(census, config, tmp_path / "census", store, InlineExecutor(),
                          progress=False)
    section = done.section
    assert done.result is not None and len(done.result["cells"]) == 2
    assert section.error is None and section.n_jobs == 4 and section.n_reused == 0
    outcome = section.outcome
    assert outcome is not None
    [figure] = outcome.figures
    assert figure.path == tmp_path / "census" / "census.png"
    assert figure.path.read_bytes().startswith(b"\x89PNG") and figure.caption
    [table] = outcome.tables
    assert [row[:2] for row in table.rows] == [[0.01, 10.0], [100.0, 10.0]]
    assert table.rows[0][3:6] == [1.0, 1, 1]  # one minimum at the smallest scale, every seed
    assert all(c.verdict in VERDICTS for c in outcome.claims)
    again = run_experiment(census, config, tmp_path / "census", store, InlineExecutor(),
                           progress=False).section
    assert again.n_reused == again.n_jobs == 4


def test_census_counts_are_the_phase_diagrams_cells() -> None:
    """The census builds each problem exactly as the phase diagram builds its cells."""
    phase = phase_seed(PhaseConfig(scales=(0.01, 100.0), ratios=(10.0,), width=32, steps=5), 1)
    for i, scale in enumerate((0.01, 100.0)):
        value = census_job(scale=scale, ratio=10.0, seed=1, width=32)
        row = census_row(value)
        assert (row["minima"], row["maxima"]) == (phase["minima"][i, 0], phase["maxima"][i, 0])
        assert row["n_angles"] >= 256 and row["min_L_minima"] <= row["max_L_minima"]
        assert all(isinstance(v, (int, float)) for v in row.values() if v is not None)


def test_census_in_three_dimensions_reports_the_unseen_estimate() -> None:
    value = census_job(scale=0.01, ratio=1.0, seed=0, dim=3, width=16, census_starts=24)
    assert value["method"] == "multistart" and value["minima"] == 1
    row = census_row(value)
    assert row["chao1_minima"] >= 1 and row["starts_used"] >= 24
    assert np.isfinite(row["min_L_minima"])


def test_an_experiment_needs_collect_and_a_dataclass_config() -> None:
    import toy_experiments
    from advdyn.experiments.base import Experiment

    parts = {"name": "x", "title": "X", "config": toy_experiments.ToyConfig,
             "jobs": toy_experiments.toy_jobs}
    with pytest.raises(TypeError, match="collect"):
        Experiment(**parts)
    with pytest.raises(TypeError, match="config must be a dataclass type"):
        Experiment(**{**parts, "config": dict}, collect=toy_experiments.toy_collect)
    assert Experiment(**parts, collect=toy_experiments.toy_collect).collect is not None


def test_job_identity_is_its_canonical_json() -> None:
    a = Job("m:f", {"b": [1, 2], "a": 1.5})
    b = Job("m:f", {"a": 1.5, "b": (1, 2)})
    assert a == b and hash(a) == hash(b) and key_of(a) == key_of(b)
    assert Job("m:g", {"a": 1.5, "b": [1, 2]}) != a
    with pytest.raises(AdvdynError, match=r"job\.function"):
        Job("no-colon", {})
    with pytest.raises(AdvdynError, match="config: not plain JSON data"):
        Job("m:f", {"x": float("nan")})
