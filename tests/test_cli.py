"""The CLI contract: --help everywhere, JSON fields, exact step counts, one-line errors (exit 2)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from advdyn.cli.main import COMMANDS, build_parser, main

ADVDYN = [sys.executable, "-m", "advdyn.cli.main"]


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*ADVDYN, *args], capture_output=True, text=True, timeout=300)


def command_names() -> list[str]:
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    return sorted(sub.choices)


def test_every_registered_command_has_help(capsys):
    names = command_names()
    assert len(names) == len(COMMANDS)
    for name in names:
        with pytest.raises(SystemExit) as e:
            main([name, "--help"])
        assert e.value.code == 0
        assert "usage: advdyn " + name in capsys.readouterr().out


def test_pgd_json_runs_exactly_the_steps(problem_file, tmp_path):
    np.save(tmp_path / "d0.npy", np.zeros(3))
    out = run("pgd", str(problem_file), "--eta", "0.05", "--steps", "17", "--rule", "normalized",
              "--delta0", str(tmp_path / "d0.npy"), "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["steps"] == 17 and len(data["delta"]) == 3
    assert data["L"] == pytest.approx(-data["adv_loss"])
    assert np.linalg.norm(data["delta"]) <= data["eps"] * (1 + 1e-12)


def test_pgd_seeded_start_is_reproducible(problem_file):
    a = run("pgd", str(problem_file), "--eta", "0.1", "--steps", "3", "--seed", "5", "--json")
    b = run("pgd", str(problem_file), "--eta", "0.1", "--steps", "3", "--seed", "5", "--json")
    assert a.stdout == b.stdout and a.returncode == 0


def test_diagnose_fields(problem_file, tmp_path):
    np.save(tmp_path / "d.npy", np.array([0.3, -0.1, 0.2]))
    out = run("diagnose", str(problem_file), "--delta", str(tmp_path / "d.npy"), "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    for key in ("L", "lambda", "gamma", "xi", "tangent_eigenvalues", "alignment", "type"):
        assert key in data
    assert np.shape(data["xi"]) == (3, 3) and len(data["tangent_eigenvalues"]) == 2
    assert data["on_sphere"] is False and data["type"] == "not-critical"


@pytest.mark.parametrize("args", [
    ["pgd", "{p}", "--eta", "-1", "--steps", "3"],
    ["pgd", "{p}", "--eta", "0.1", "--steps", "3", "--rule", "adam"],
    ["pgd", "{p}", "--eta", "abc", "--steps", "3"],
    ["pgd", "{missing}", "--eta", "0.1", "--steps", "3"],
    ["pgd", "{p}", "--eta", "0.1", "--steps", "3", "--delta0", "{far}"],
    ["diagnose", "{p}", "--delta", "{zero}"],
    ["diagnose", "{p}", "--delta", "{short}"],
    ["diagnose", "{p}", "--delta", "{text}"],
    ["nonsense"],
])
def test_bad_input_exits_2_with_one_line(args, problem_file, tmp_path):
    np.save(tmp_path / "far.npy", np.array([100.0, 0.0, 0.0]))
    np.save(tmp_path / "zero.npy", np.zeros(3))
    np.save(tmp_path / "short.npy", np.zeros(2))
    (tmp_path / "text.npy").write_text("hello")
    paths = {"p": problem_file, "missing": tmp_path / "none.npz", "far": tmp_path / "far.npy",
             "zero": tmp_path / "zero.npy", "short": tmp_path / "short.npy",
             "text": tmp_path / "text.npy"}
    out = run(*[a.format(**paths) for a in args])
    assert out.returncode == 2
    assert out.stdout == ""
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in out.stderr, out.stderr
