"""The package's annotations hold: mypy (configured in ``pyproject.toml``) passes on
``src/advdyn``, and the same configuration fails on a copy with one deliberately wrong
annotation (so the check can fail). Both runs use the project's ``.mypy_cache`` (git-ignored):
a fresh clone analyses torch and the other libraries once (about a minute on two cores), later
runs take seconds."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


CACHE = ROOT / ".mypy_cache"


def _mypy(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mypy", "--config-file", "pyproject.toml",
                           "--cache-dir", str(CACHE)],
                          cwd=root, capture_output=True, text=True, timeout=600)


def test_package_is_typed() -> None:
    assert (ROOT / "src" / "advdyn" / "py.typed").is_file()


def test_mypy_passes() -> None:
    done = _mypy(ROOT)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Success: no issues found" in done.stdout


def test_mypy_rejects_a_wrong_annotation(tmp_path: Path) -> None:
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    shutil.copytree(ROOT / "src" / "advdyn", tmp_path / "src" / "advdyn",
                    ignore=shutil.ignore_patterns("__pycache__"))
    geometry = tmp_path / "src" / "advdyn" / "geometry.py"
    text = geometry.read_text(encoding="utf-8")
    right = "def row_norm(v: torch.Tensor, keepdim: bool = False) -> torch.Tensor:"
    assert right in text
    geometry.write_text(text.replace(right, right.replace("-> torch.Tensor:", "-> str:")),
                        encoding="utf-8")
    done = _mypy(tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "geometry.py" in done.stdout and "[return-value]" in done.stdout, done.stdout
