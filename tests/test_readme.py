"""The README as a newcomer meets it: its Python blocks run as printed and show what they
promise (the ten-line example flags at least 90 % of its converged trajectories as KKT points),
and a float32 ε gives the same answer as the float64 one."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import torch

from advdyn.geometry import in_dtype
from advdyn.losses import Quadratic
from advdyn.models import TwoLayerNet, TwoLayerObjective
from advdyn.pgd import run_pgd
from advdyn.sphere import diagnose

ROOT = Path(__file__).resolve().parents[1]


def python_blocks(text: str) -> list[str]:
    """The ```python fenced blocks of a Markdown text, as printed."""
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M)


def test_readme_example_flags_kkt_points() -> None:
    blocks = python_blocks((ROOT / "README.md").read_text(encoding="utf-8"))
    assert blocks, "the README has no python block"
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        for code in blocks:
            exec(compile(code, "README.md", "exec"), {"__name__": "readme"})
    found = re.search(r"KKT points: (\d+)% of (\d+)", printed.getvalue())
    assert found, printed.getvalue()
    assert int(found.group(1)) >= 90 and int(found.group(2)) == 64


def test_narrow_eps_is_the_number_written() -> None:
    assert float(in_dtype(torch.tensor(0.3, dtype=torch.float32), torch.float64)) == 0.3
    assert in_dtype(torch.full((3,), 0.1, dtype=torch.float32), torch.float64).tolist() == [0.1] * 3
    wide = torch.tensor(0.30000001192092896, dtype=torch.float64)
    assert float(in_dtype(wide, torch.float32)) == float(torch.tensor(0.3, dtype=torch.float32))


def test_float32_eps_same_answer_as_float64() -> None:
    net = TwoLayerNet.xavier(d=4, m=50, generator=torch.Generator().manual_seed(1))
    obj = TwoLayerObjective(net, Quadratic, x=torch.ones(4), y=0.5)
    runs = [run_pgd(obj, eps=eps, eta=0.05, steps=300, rule="normalized", batch=8,
                    generator=3) for eps in (torch.full((8,), 0.3), 0.3)]
    assert torch.equal(runs[0].delta, runs[1].delta)
    narrow = diagnose(obj, runs[0].delta, eps=torch.full((8,), 0.3))
    wide = diagnose(obj, runs[0].delta, eps=0.3)
    assert torch.equal(narrow.on_sphere, wide.on_sphere) and bool(wide.on_sphere.all())
    assert torch.equal(narrow.kkt, wide.kkt)
