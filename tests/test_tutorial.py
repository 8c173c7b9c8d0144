"""The tutorial notebook ``examples/tutorial.ipynb``: stored without outputs, and it runs.

It is executed with nbclient in a kernel of the running interpreter (``ipykernel`` from the
``docs`` extra; a kernel spec written for the test, so that no other installed "python3" kernel
is picked up); the test reads its printed results back."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[1] / "examples" / "tutorial.ipynb"


def test_tutorial_stored_without_outputs() -> None:
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code, "the tutorial has no code"
    for cell in code:
        assert cell.outputs == [] and cell.execution_count is None, cell.source[:60]


def test_tutorial_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("torchattacks")
    spec = tmp_path / "jupyter" / "kernels" / "advdyn-test"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "advdyn test", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    nb = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(nb, timeout=120, kernel_name="advdyn-test",
                   resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert any("image/png" in o.get("data", {}) for o in outputs), "no figure"
    ours, theirs = map(float, re.search(
        r"start KS p-value: advdyn ([0-9.e+-]+), torchattacks ([0-9.e+-]+)", text).groups())
    assert ours > 0.05 and theirs < 1e-6
    assert "accuracy under attack" in text and "types:" in text
    masked = float(re.search(r"unavailable_gradients fraction ([0-9.]+)", text).group(1))
    assert masked >= 0.9 and "verdicts:" in text
