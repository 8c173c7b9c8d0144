"""A changed code never reads an old result: the job key holds a fingerprint of advdyn's sources.

Nothing in the package is edited: the fingerprint is computed on copies of the package, and the
key is derived under two fingerprints (the fingerprint function is replaced for the test).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import toy_experiments  # noqa: F401  (the toy jobs must be importable by name)
from advdyn.cli.main import main
from advdyn.experiments.base import Job
from advdyn.runner import ResultStore, job_key, key_of, run_jobs
from advdyn.runner import store as store_module
from advdyn.runner.executors import InlineExecutor
from advdyn.runner.store import PACKAGE_ROOT, code_fingerprint, job_code_fingerprint

OLD, NEW = "0" * 64, "1" * 64


def toy_jobs() -> list[Job]:
    return [Job("toy_experiments:toy_job", {"x": 0.5 * i, "seed": i}) for i in range(3)]


def test_key_holds_the_code_fingerprint() -> None:
    config = {"x": 1.0, "seed": 3}
    keys = {job_key("toy_experiments:toy_job", config, code=c) for c in (OLD, NEW)}
    assert len(keys) == 2
    here = job_key("toy_experiments:toy_job", config, code=job_code_fingerprint())
    assert key_of(Job("toy_experiments:toy_job", config)) == here == job_key(
        "toy_experiments:toy_job", config)
    assert here not in keys


def test_fingerprint_is_a_hash_of_the_package_sources(tmp_path: Path) -> None:
    """A copy of the package has this process's fingerprint (bytecode and other files do not
    count); one added comment, or one new module, changes it."""
    copies = {}
    for name in ("same", "comment", "module"):
        copies[name] = tmp_path / name / "advdyn"
        shutil.copytree(PACKAGE_ROOT, copies[name],
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    (copies["same"] / "__pycache__").mkdir()
    (copies["same"] / "__pycache__" / "x.cpython-311.pyc").write_bytes(b"\0bytecode")
    (copies["same"] / "notes.txt").write_text("not source\n")
    fig1 = copies["comment"] / "experiments" / "fig1.py"
    fig1.write_text(fig1.read_text() + "# an edit\n")
    (copies["module"] / "experiments" / "extra.py").write_text("X = 1\n")
    here = code_fingerprint()
    assert len(here) == 64 and code_fingerprint(copies["same"]) == here
    assert code_fingerprint(copies["comment"]) != here
    assert code_fingerprint(copies["module"]) not in (here, code_fingerprint(copies["comment"]))


def test_edited_code_recomputes_and_unedited_code_reuses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = ResultStore(tmp_path / "cache")

    def run_under(fingerprint: str) -> list[bool]:
        monkeypatch.setattr(store_module, "job_code_fingerprint", lambda: fingerprint)
        key_of.cache_clear()  # keys are memoised per process, where the code cannot change
        results = run_jobs(toy_jobs(), store, InlineExecutor(), progress=False)
        for r in results:
            record = json.loads((store.path(key_of(r.job)) / "result.json").read_text())
            assert record["code"] == fingerprint
        return [r.cached for r in results]

    assert run_under(OLD) == [False] * 3
    assert run_under(OLD) == [True] * 3
    assert run_under(NEW) == [False] * 3  # the "edited" code computes its own results
    assert run_under(OLD) == [True] * 3
    assert len(list((tmp_path / "cache").iterdir())) == 6


def test_reproduce_with_the_same_out_reuses_and_reports_the_fingerprint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    argv = ["reproduce", "--out", str(out), "--quick", "--only", "toy_experiments:TOY",
            "--executor", "inline", "--no-progress"]
    assert main(argv) == 0
    entries = {p: p.joinpath("result.json").stat().st_mtime_ns
               for p in (out / "cache").iterdir()}
    assert len(entries) == 2  # the toy's quick configuration: n = 2
    assert main(argv) == 0
    assert {p: p.joinpath("result.json").stat().st_mtime_ns
            for p in (out / "cache").iterdir()} == entries
    assert code_fingerprint() in (out / "report.md").read_text()
    capsys.readouterr()


def test_judging_code_does_not_key_the_jobs(tmp_path: Path) -> None:
    """An edit in a layer above ``experiments`` (claims, plots, report, pipeline, cli) changes
    the package's fingerprint but not the jobs' (so stored results are re-judged, not
    recomputed); an edit in the runner, which executes jobs, changes both. The excluded
    packages are exactly the layers above ``experiments`` except the runner (pyproject.toml)."""
    import tomllib

    from advdyn.runner.store import JUDGING_PACKAGES

    layers = tomllib.loads((PACKAGE_ROOT.parents[1] / "pyproject.toml").read_text())[
        "tool"]["importlinter"]["contracts"][0]["layers"]
    above = layers[:layers.index("advdyn.experiments")]
    names = {n.strip(" ()").removeprefix("advdyn.") for layer in above
             for n in layer.replace(":", "|").split("|")}
    assert set(JUDGING_PACKAGES) == names - {"runner"}
    copies = {}
    for name in ("claims", "runner", "experiments"):
        copies[name] = tmp_path / name / "advdyn"
        shutil.copytree(PACKAGE_ROOT, copies[name],
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        edited = copies[name] / name / "__init__.py"
        edited.write_text(edited.read_text() + "# an edit\n")
    here, jobs = code_fingerprint(), job_code_fingerprint()
    assert jobs != here
    assert code_fingerprint(copies["claims"]) != here
    assert job_code_fingerprint(copies["claims"]) == jobs
    for name in ("runner", "experiments"):
        assert job_code_fingerprint(copies[name]) != jobs
