"""The layers of the design are enforced: ``lint-imports`` (import-linter, contracts in
pyproject.toml) passes on the package, and fails on a copy with a deliberate upward import or
with one command module importing another."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT = shutil.which("lint-imports") or str(Path(sys.executable).parent / "lint-imports")


def lint(src: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``lint-imports`` with the repository's contracts on the package under ``src``."""
    env = {**os.environ, "PYTHONPATH": str(src)}
    return subprocess.run([LINT, "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A scratch copy of the package (its ``src`` folder)."""
    src = tmp_path_factory.mktemp("lint") / "src"
    shutil.copytree(ROOT / "src" / "advdyn", src / "advdyn",
                    ignore=shutil.ignore_patterns("__pycache__"))
    return src


def test_the_package_keeps_every_contract(tmp_path: Path) -> None:
    run = lint(ROOT / "src", tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Contracts: 4 kept, 0 broken." in run.stdout


@pytest.mark.parametrize("module, line, expected", [
    # an experiment drawing: experiments sit below plots
    ("experiments/base.py", "from advdyn.plots import drawing  # noqa: F401",
     "advdyn.experiments.base -> advdyn.plots.drawing"),
    # the runner reading a report: runner, plots and report are independent siblings
    ("runner/run.py", "import advdyn.report.data  # noqa: F401",
     "advdyn.runner.run -> advdyn.report.data"),
    # one command module importing another
    ("cli/cmd_pgd.py", "from advdyn.cli import cmd_census  # noqa: F401",
     "advdyn.cli.cmd_pgd -> advdyn.cli.cmd_census"),
    # a claim writing a file
    ("claims/core.py", "from advdyn import atomic  # noqa: F401",
     "advdyn.claims.core -> advdyn.atomic"),
])
def test_a_forbidden_import_breaks_a_contract(copy: Path, tmp_path: Path, module: str,
                                              line: str, expected: str) -> None:
    target = copy / "advdyn" / module
    original = target.read_text()
    target.write_text(original + "\n" + line + "\n")
    try:
        run = lint(copy, tmp_path)
    finally:
        target.write_text(original)
    assert run.returncode != 0
    assert "BROKEN" in run.stdout and expected in run.stdout, run.stdout
