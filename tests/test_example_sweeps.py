"""The sweep files shipped in examples/ load: every point has jobs."""

from __future__ import annotations

from pathlib import Path

import pytest

from advdyn.runner.sweep import load_sweep

EXAMPLES = sorted((Path(__file__).resolve().parent.parent / "examples").glob("*.yaml"))


def test_there_are_examples() -> None:
    assert EXAMPLES


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_sweeps_are_valid(path: Path) -> None:
    sweep = load_sweep(path)
    assert sweep.points and all(sweep.jobs)
