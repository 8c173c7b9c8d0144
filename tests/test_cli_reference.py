"""The ``advdyn pgd`` / ``advdyn diagnose`` CLI against the independent NumPy reference.

Held-out problems from ``problem_gen`` are written to disk (SPEC §6 files); the CLI's JSON must
match ``reference.py`` to relative error < 1e-6 in every numeric field (float64). A field that is
a difference with cancellation (Γ, λ, alignment) is measured against
``max(|ref|, 1e-6 · its natural scale)``, i.e. to an absolute 1e-12 of that scale where it is
itself ~0. To keep the suite fast, all numeric invocations run in one subprocess through the
console script's entry point ``advdyn.cli.main:main``; a few are repeated through the real
console script, which must print the identical JSON, and bad input goes through it too.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from problem_gen import Case, held_out_cases
from reference import Array, diagnose, pgd, save_problem

ADVDYN = shutil.which("advdyn")
CLI = [ADVDYN] if ADVDYN else [sys.executable, "-m", "advdyn.cli.main"]
RTOL = 1e-6
CASES = held_out_cases()

DRIVER = """
import contextlib, io, json, sys, traceback
from advdyn.cli.main import main
with open(sys.argv[1]) as fh:
    jobs = json.load(fh)
out = []
for argv in jobs:
    o, e = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(o), contextlib.redirect_stderr(e):
        try:
            rc = main(argv)
        except SystemExit as x:
            rc = x.code if isinstance(x.code, int) else 1
        except Exception:
            traceback.print_exc()
            rc = 1
    out.append({"rc": rc, "stdout": o.getvalue(), "stderr": e.getvalue()})
with open(sys.argv[2], "w") as fh:
    json.dump(out, fh)
"""


@dataclass(frozen=True)
class Point:
    """A diagnosis point of a case and what the test expects of its ``type``."""

    delta: Array
    expect_type: str | None


@dataclass(frozen=True)
class Written:
    """Paths and argument lists of one case on disk."""

    problem: Path
    pgd_argv: dict[str, list[str]]
    points: list[Point]
    diag_argv: list[list[str]]


def _points(case: Case) -> list[Point]:
    """Random sphere and interior points, both PGD outputs, and the polished critical points."""
    p = case.problem
    out = [Point(q, None) for q in case.points]
    out += [Point(pgd(p, case.delta0, eta, case.steps, rule), None)
            for rule, eta in (("raw", case.eta_raw), ("normalized", case.eta_normalized))]
    return out + [Point(q, kind) for q, kind in case.critical]


def _write(case: Case, root: Path) -> Written:
    """Write the problem and all δ files of ``case`` under ``root``; build the argument lists."""
    root.mkdir()
    prob = root / "problem.npz"
    save_problem(prob, case.problem, with_loss_key=case.with_loss_key)
    np.save(root / "delta0.npy", case.delta0)
    pgd_argv = {
        rule: ["pgd", str(prob), "--eta", repr(eta), "--steps", str(case.steps), "--rule", rule,
               "--delta0", str(root / "delta0.npy"), "--dtype", "float64", "--json"]
        for rule, eta in (("raw", case.eta_raw), ("normalized", case.eta_normalized))
    }
    points, diag_argv = _points(case), []
    for k, pt in enumerate(points):
        np.save(root / f"point{k}.npy", pt.delta)
        diag_argv.append(["diagnose", str(prob), "--delta", str(root / f"point{k}.npy"),
                          "--dtype", "float64", "--json"])
    return Written(prob, pgd_argv, points, diag_argv)


@pytest.fixture(scope="module")
def cli_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Every case's invocations, run in one subprocess through ``advdyn.cli.main:main``."""
    root = tmp_path_factory.mktemp("cli_reference")
    written = {c.name: _write(c, root / c.name) for c in CASES}
    jobs = [argv for w in written.values() for argv in (*w.pgd_argv.values(), *w.diag_argv)]
    (root / "jobs.json").write_text(json.dumps(jobs))
    subprocess.run([sys.executable, "-c", DRIVER, str(root / "jobs.json"), str(root / "out.json")],
                   check=True, timeout=600)
    results = json.loads((root / "out.json").read_text())
    by_argv = {json.dumps(a): r for a, r in zip(jobs, results, strict=True)}
    return {"written": written, "by_argv": by_argv}


def _ok_json(run: dict[str, Any]) -> dict[str, Any]:
    """The JSON object of a successful run (exit 0, nothing on stderr)."""
    assert run["rc"] == 0 and run["stderr"] == "", run["stderr"]
    return json.loads(run["stdout"])


def _rel(ours: Any, ref: Any, floor: float = 0.0) -> float:
    """``‖ours - ref‖ / max(‖ref‖, floor)`` (Euclidean / Frobenius norm)."""
    ref = np.asarray(ref, np.float64)
    den = max(float(np.linalg.norm(ref)), floor, np.finfo(np.float64).tiny)
    return float(np.linalg.norm(np.asarray(ours, np.float64) - ref)) / den


def pgd_errors(out: dict[str, Any], case: Case, rule: str) -> dict[str, float]:
    """Relative error per numeric field of ``advdyn pgd --json`` against the reference."""
    p = case.problem
    eta = case.eta_raw if rule == "raw" else case.eta_normalized
    delta = pgd(p, case.delta0, eta, case.steps, rule)
    r = diagnose(p, delta)
    return {"delta": _rel(out["delta"], delta), "L": _rel(out["L"], r["L"]),
            "adv_loss": _rel(out["adv_loss"], r["adv_loss"]),
            "norm": _rel(out["norm"], np.linalg.norm(delta)), "eps": _rel(out["eps"], p.eps)}


def diagnose_errors(out: dict[str, Any], case: Case, delta: Array) -> dict[str, float]:
    """Relative error per numeric field of ``advdyn diagnose --json`` against the reference."""
    r = diagnose(case.problem, delta)
    gnorm = float(np.linalg.norm(r["grad"]))
    gamma_floor = RTOL * gnorm
    return {
        "L": _rel(out["L"], r["L"]),
        "adv_loss": _rel(out["adv_loss"], r["adv_loss"]),
        "lambda": _rel(out["lambda"], r["lambda"], RTOL * gnorm / (2 * np.linalg.norm(delta))),
        "gamma": _rel(out["gamma"], r["gamma"], gamma_floor),
        "gamma_norm": _rel(out["gamma_norm"], np.linalg.norm(r["gamma"]), gamma_floor),
        "grad": _rel(out["grad"], r["grad"]),
        "xi": _rel(out["xi"], r["xi"]),
        "tangent_eigenvalues": _rel(np.sort(out["tangent_eigenvalues"]),
                                    r["tangent_eigenvalues"]),
        "alignment": _rel(out["alignment"], r["alignment"], RTOL),
        "norm": _rel(out["norm"], np.linalg.norm(delta)),
        "eps": _rel(out["eps"], case.problem.eps),
    }


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_pgd_matches_reference(cli_runs: dict[str, Any], case: Case) -> None:
    w = cli_runs["written"][case.name]
    for rule, argv in w.pgd_argv.items():
        out = _ok_json(cli_runs["by_argv"][json.dumps(argv)])
        assert out["steps"] == case.steps
        assert len(out["delta"]) == case.problem.d
        errors = pgd_errors(out, case, rule)
        assert max(errors.values()) < RTOL, (rule, errors)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_diagnose_matches_reference(cli_runs: dict[str, Any], case: Case) -> None:
    w = cli_runs["written"][case.name]
    for k, (pt, argv) in enumerate(zip(w.points, w.diag_argv, strict=True)):
        out = _ok_json(cli_runs["by_argv"][json.dumps(argv)])
        d = case.problem.d
        assert np.shape(out["xi"]) == (d, d) and np.shape(out["tangent_eigenvalues"]) == (d - 1,)
        assert np.all(np.diff(out["tangent_eigenvalues"]) >= 0), "eigenvalues not ascending"
        errors = diagnose_errors(out, case, pt.delta)
        assert max(errors.values()) < RTOL, (k, errors)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_diagnose_type(cli_runs: dict[str, Any], case: Case) -> None:
    """Polished minima/maxima get their type (minima with λ ≤ 0 are KKT points of the ball);
    random sphere points, far from critical (‖Γ‖ > 1e-3‖∇L‖), are "not-critical"."""
    w = cli_runs["written"][case.name]
    for k, (pt, argv) in enumerate(zip(w.points, w.diag_argv, strict=True)):
        out = _ok_json(cli_runs["by_argv"][json.dumps(argv)])
        r = diagnose(case.problem, pt.delta)
        if pt.expect_type is not None:
            assert out["type"] == pt.expect_type, (k, out["type"], r["tangent_eigenvalues"])
            assert out["on_sphere"] is True
            if pt.expect_type == "minimum":
                assert out["kkt"] is (r["lambda"] <= 0), (k, r["lambda"])
        elif k < 2:
            assert np.linalg.norm(r["gamma"]) > 1e-3 * np.linalg.norm(r["grad"])
            assert out["type"] == "not-critical" and out["kkt"] is False
            assert out["on_sphere"] is True
        elif k == 2:
            assert out["on_sphere"] is False


def test_every_case_has_critical_points() -> None:
    assert all(c.critical for c in CASES)


@pytest.fixture(scope="module")
def console_runs(
    cli_runs: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> dict[str, subprocess.CompletedProcess[str]]:
    """Real console-script invocations, started concurrently: two good ones and bad input."""
    root = tmp_path_factory.mktemp("cli_console")
    case = CASES[1]
    w = cli_runs["written"][case.name]
    p, d = case.problem, case.problem.d
    save_problem(root / "neg_eps.npz", replace(p, eps=-p.eps))
    np.savez(root / "no_a.npz", W=p.W, x=p.x, y=p.y, eps=p.eps)
    np.save(root / "wrong_shape.npy", np.full(d + 1, p.eps / (2 * np.sqrt(d + 1))))
    delta = ["--delta", w.diag_argv[0][3]]
    pgd_tail = ["--eta", "0.01", "--steps", "5", "--dtype", "float64", "--json"]
    argvs = {
        "pgd_good": w.pgd_argv["raw"],
        "diagnose_good": w.diag_argv[0],
        "negative_eps": ["diagnose", str(root / "neg_eps.npz"), *delta, "--json"],
        "missing_key": ["pgd", str(root / "no_a.npz"), *pgd_tail],
        "wrong_shape_delta": ["diagnose", str(w.problem), "--delta",
                              str(root / "wrong_shape.npy"), "--json"],
        "nonexistent_file": ["pgd", str(root / "does_not_exist.npz"), *pgd_tail],
        "unknown_rule": ["pgd", str(w.problem), "--rule", "bogus", *pgd_tail],
    }
    procs = {k: subprocess.Popen([*CLI, *a], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                 text=True) for k, a in argvs.items()}
    done = {}
    for k, proc in procs.items():
        out, err = proc.communicate(timeout=300)
        done[k] = subprocess.CompletedProcess(argvs[k], proc.returncode, out, err)
    return done


@pytest.mark.parametrize("name", ["pgd_good", "diagnose_good"])
def test_console_script_prints_the_same_json(
    cli_runs: dict[str, Any], console_runs: dict[str, subprocess.CompletedProcess[str]],
    name: str,
) -> None:
    run = console_runs[name]
    driver = cli_runs["by_argv"][json.dumps(run.args)]
    assert run.returncode == 0 and run.stderr == ""
    assert json.loads(run.stdout) == json.loads(driver["stdout"])


@pytest.mark.parametrize("name", ["negative_eps", "missing_key", "wrong_shape_delta",
                                  "nonexistent_file", "unknown_rule"])
def test_bad_input_is_one_line_exit_2(
    console_runs: dict[str, subprocess.CompletedProcess[str]], name: str
) -> None:
    run = console_runs[name]
    assert run.returncode == 2, (run.returncode, run.stderr)
    assert run.stdout == ""
    assert "Traceback" not in run.stderr
    assert len(run.stderr.splitlines()) == 1 and run.stderr.endswith("\n"), run.stderr
