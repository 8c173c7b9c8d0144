"""How the peers are installed: torchattacks never through an extra (it would pull torchvision),
always with ``--no-deps`` by the setup script, and the README says so."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")

ROOT = Path(__file__).resolve().parent.parent


def _requirements() -> dict[str, list[str]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return {"dependencies": project["dependencies"], **project["optional-dependencies"]}


def test_no_requirement_pulls_torchvision() -> None:
    for group, requirements in _requirements().items():
        names = [re.split(r"[<>=~!\[; ]", r, maxsplit=1)[0].lower() for r in requirements]
        assert "torchattacks" not in names and "torchvision" not in names, group
    assert set(_requirements()["peers"]) >= {"foolbox>=3.3",
                                             "adversarial-robustness-toolbox>=1.17"}


def test_setup_installs_torchattacks_without_its_dependencies() -> None:
    setup = (ROOT / "scripts" / "setup.sh").read_text(encoding="utf-8")
    assert re.search(r"--no-deps \"?torchattacks==3\.5\.1", setup)
    extras = re.search(r'-e "\.\[([a-z,]+)\]"', setup)
    assert extras and {"test", "peers"} <= set(extras.group(1).split(","))
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "pip install --no-deps torchattacks==3.5.1" in readme
