"""``advdyn audit`` on the command line: the healthy zoo model and a broken one, the files it
writes, and bad input (one line naming the flag, exit 2, nothing written)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

import zoo
from advdyn.cli.main import main

ZOO = str(Path(zoo.__file__).resolve())
PGD = ["--attack", "torchattacks:PGDL2", "--attack-args", '{"alpha": 0.25, "steps": 40}',
       "--eps", "3"]


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    model, _, _ = zoo.trained()
    folder = tmp_path_factory.mktemp("weights")
    paths = {"tiny_cnn": folder / "tiny.pt", "quantised_cnn": folder / "quantised.pt"}
    torch.save(model.state_dict(), paths["tiny_cnn"])
    torch.save(zoo.quantised(model).state_dict(), paths["quantised_cnn"])
    return paths


@pytest.mark.parametrize(("factory", "quiet"), [("tiny_cnn", True), ("quantised_cnn", False)])
def test_audit_writes_json_and_html(weights, tmp_path: Path, factory: str, quiet: bool,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("torchattacks")
    out = tmp_path / "out"
    rc = main(["audit", "--model", f"{ZOO}:{factory}", "--weights", str(weights[factory]),
               *PGD, "--n", "32", "--out", str(out), "--json"])
    assert rc == 0
    printed = json.loads(capsys.readouterr().out)
    data = json.loads((out / "audit.json").read_text())
    assert printed["indicators"] == data["indicators"] and len(data["samples"]) == 32
    fractions = {k: v["fraction"] for k, v in data["indicators"].items()}
    if quiet:
        assert max(fractions.values()) <= 0.05, fractions
    else:
        assert fractions["unavailable_gradients"] >= 0.9, fractions
        flagged = data["indicators"]["unavailable_gradients"]["rows"]
        assert all("unavailable_gradients" in data["samples"][r]["indicators"] for r in flagged)
    page = (out / "audit.html").read_text()
    assert "data:image/png;base64," in page and "unavailable_gradients" in page


def _npz(tmp_path: Path) -> Path:
    path = tmp_path / "data.npz"
    np.savez(path, images=np.zeros((2, 1, 28, 28), np.float32))
    return path


BAD = {
    "--model": lambda t: ["--model", "no_such_module_xyz:f", *PGD],
    "--model ": lambda t: [*PGD],
    "--attack": lambda t: ["--model", f"{ZOO}:tiny_cnn", "--attack", "cleverhans:FGSM",
                           "--eps", "1"],
    "--attack-args": lambda t: ["--model", f"{ZOO}:tiny_cnn", "--attack",
                                "torchattacks:PGDL2", "--attack-args", "{alpha: 1}", "--eps",
                                "1"],
    "--weights": lambda t: ["--model", f"{ZOO}:tiny_cnn", "--weights", str(t / "none.pt"),
                            *PGD],
    "--data": lambda t: ["--model", f"{ZOO}:tiny_cnn", "--data", str(_npz(t)), *PGD],
    "--eps": lambda t: ["--model", f"{ZOO}:tiny_cnn", "--attack", "torchattacks:PGDL2",
                        "--eps", "nan"],
    "--norm": lambda t: ["--model", f"{ZOO}:tiny_cnn", "--attack", "torchattacks:PGDL2",
                         "--eps", "1", "--norm", "linf"],
}


@pytest.mark.parametrize("flag", list(BAD))
def test_bad_input_one_line_exit_2_nothing_written(flag: str, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("torchattacks")
    out = tmp_path / "out"
    try:
        rc = main(["audit", *BAD[flag](tmp_path), "--out", str(out)])
    except SystemExit as e:
        rc = e.code
    err = capsys.readouterr().err.splitlines()
    assert rc == 2 and len(err) == 1, err
    assert flag.strip() in err[0] and "Traceback" not in err[0]
    assert not out.exists()
