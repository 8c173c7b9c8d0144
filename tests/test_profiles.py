"""Run profiles (quick / full / reference), ``run.json``, and the report's reference column:
``reproduce --profile reference`` sizes each experiment by its ``reference`` overrides, writes
the run's record (profile, commit, code, machine, wall and CPU time per experiment), and a
report shows the reference run's verdict beside each verdict, marking where they differ."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest

import toy_experiments
from advdyn.errors import AdvdynError
from advdyn.pipeline import PROFILES, Done, plan, reference_verdicts, reproduce
from advdyn.pipeline.reproduce import time_left
from advdyn.report.data import Section
from advdyn.runner.executors import InlineExecutor
from advdyn.runner.store import code_fingerprint

ROOT = Path(__file__).resolve().parents[1]


def _toy() -> object:
    return dataclasses.replace(toy_experiments.TOY, quick={"n": 2}, reference={"n": 5})


def test_each_profile_takes_its_overrides() -> None:
    toy = _toy()
    sizes = {p: plan([toy], profile=p).entries[0][1].n for p in PROFILES}
    default = toy.parameters()["n"]
    assert sizes == {"quick": 2, "full": default, "reference": 5}
    assert plan([toy], quick=True).profile == "quick" and plan([toy]).profile == "full"
    with pytest.raises(AdvdynError, match="profile"):
        plan([toy], profile="huge")


def test_run_json_records_the_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    toy_experiments.register(monkeypatch)
    toy = _toy()
    monkeypatch.setattr(toy_experiments, "TOY", toy)
    reproduce(plan([toy], profile="reference"), tmp_path, InlineExecutor(), progress=False,
              command="advdyn reproduce --profile reference")
    run = json.loads((tmp_path / "run.json").read_text())
    assert run["profile"] == "reference" and run["code"] == code_fingerprint()
    assert run["command"] == "advdyn reproduce --profile reference"
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True,
                          text=True, check=False).stdout.strip()
    assert run["commit"]["sha"] == (head or None)
    assert run["machine"]["cpu cores"] and run["threads_per_job"] == 1
    toy_run = run["experiments"]["toy"]
    assert toy_run["jobs"] == 5 and toy_run["reused"] == 0 and not toy_run["failed"]
    assert 0 < toy_run["wall_s"] <= run["wall_s"] and toy_run["cpu_s"] > 0
    assert run["verdicts"] == {"supported": 1}
    assert json.loads((tmp_path / "toy" / "toy.json").read_text())["n"] == 5


def test_the_report_shows_the_reference_verdict_and_marks_a_difference(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    toy_experiments.register(monkeypatch)
    claims = tmp_path / "ref.json"
    claims.write_text(json.dumps([{"id": "T0.1", "verdict": "not supported"}]))
    reference = reference_verdicts(claims)
    assert reference == {"T0.1": "not supported"}
    assert reference_verdicts(tmp_path / "absent.json") == {}
    report = reproduce(plan([toy_experiments.TOY], quick=True), tmp_path / "out",
                       InlineExecutor(), progress=False, reference=reference)
    page = (tmp_path / "out" / "report.md").read_text()
    assert "Quick verdicts are smoke tests" in page and "≠ not supported" in page
    assert "reference run" in page and report.profile == "quick"
    html_page = (tmp_path / "out" / "report.html").read_text()
    assert 'class="differs"' in html_page and 'class="smoke"' in html_page
    claims.write_text("not json")
    with pytest.raises(AdvdynError, match="reference_claims"):
        reference_verdicts(claims)


def test_quick_and_another_profile_contradict(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "advdyn", "reproduce", "--out",
                           str(tmp_path / "o"), "--quick", "--profile", "full"],
                          capture_output=True, text=True, check=False, timeout=120)
    assert done.returncode == 2 and "--quick" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and not (tmp_path / "o").exists()


def test_time_left_scales_the_earlier_runs_times() -> None:
    toy = _toy()
    the_plan = plan([toy, dataclasses.replace(toy, name="toy2")], profile="quick")
    section = Section("toy", "Toy", "", {}, wall_s=10.0, compute_s=10.0, n_jobs=2, n_reused=0)
    done = [Done(section, None, [])]
    # this run took twice the earlier run's 5 s, so toy2's earlier 600 s becomes 20 min
    assert time_left(the_plan, done, {"toy": 5.0, "toy2": 600.0}) == \
        "≈ 20 min (from the earlier run's times)"
    # by jobs: 5 s per computed job, toy2's 2 jobs left
    assert time_left(the_plan, done, {}) == "≈ 0 min (by jobs)"
    assert time_left(the_plan, done, {"toy": 5.0}) == "≈ 0 min (by jobs)"


def test_a_rerun_keeps_the_record_of_the_run_that_computed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    toy_experiments.register(monkeypatch)
    the_plan = plan([toy_experiments.TOY], quick=True)
    reproduce(the_plan, tmp_path, InlineExecutor(), progress=False, command="first")
    first = json.loads((tmp_path / "run.json").read_text())
    assert first["earlier"] == [] and first["experiments"]["toy"]["reused"] == 0
    reproduce(the_plan, tmp_path, InlineExecutor(), progress=False, command="second")
    second = json.loads((tmp_path / "run.json").read_text())
    assert second["command"] == "second" and second["experiments"]["toy"]["reused"] == 2
    assert second["earlier"] == [{k: v for k, v in first.items() if k != "earlier"}]
    reproduce(the_plan, tmp_path, InlineExecutor(), progress=False, command="third")
    third = json.loads((tmp_path / "run.json").read_text())
    assert [r["command"] for r in third["earlier"]] == ["second", "first"]
