"""The real-network commands on MNIST IDX files the test writes: fig2, fig3 (the at_scale
experiment) and train, through the composition layer; bad input exits 2 with one line."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("advdyn.pipeline")  # the composition layer (issue 11) runs the commands

from advdyn.cli.main import main
from test_mnist_data import write_mnist_dir

TINY_PROBE = ["--arch", "tiny", "--no-progress"]


@pytest.fixture(scope="module")
def mnist_dir(tmp_path_factory):
    return str(write_mnist_dir(tmp_path_factory.mktemp("idx"), n_train=40, n_test=12))


def _ids(folder):
    return [r["id"] for r in json.loads((folder / "claims.json").read_text())]


def test_fig2_command(tmp_path, mnist_dir, capsys):
    out = tmp_path / "fig2"
    assert main(["fig2", "--out", str(out), "--mnist-dir", mnist_dir, "--scales", "0.1", "1000",
                 "--ratios", "0.01", "1", "--images", "2", "--steps", "6", "--ascent-steps",
                 "12", "--reference-steps", "6", *TINY_PROBE]) == 0
    assert _ids(out) == ["fig2a", "fig2b", "fig2c", "fig2-scale"]
    result = json.loads((out / "fig2.json").read_text())
    assert result["checks"]["rows_with_zero_ell"] == 0
    assert (out / "fig2.png").is_file() and "rows with ℓ = 0: 0" in capsys.readouterr().out


def test_fig3_command(tmp_path, mnist_dir):
    out = tmp_path / "fig3"
    assert main(["fig3", "--out", str(out), "--mnist-dir", mnist_dir, "--scales", "0.1", "10",
                 "--seeds", "0", "--epochs", "1", "--probe-epochs", "0", "1",
                 "--train-images", "16", "--eval-images", "8", "--eval-restarts", "1",
                 "--batch-size", "8", "--pgd-steps", "2", "--probe-images", "2",
                 "--probe-ratios", "0.1", "--probe-steps", "5", "--probe-ascent-steps", "8",
                 "--probe-reference-steps", "5", "--q1-images", "2", "--q1-steps", "5",
                 "--validation", "8", "--lr-points", "2", "--q1-runs", "2",
                 "--affine-probes", "2", "--restarts", "3", "--restart-steps", "3",
                 *TINY_PROBE]) == 0
    assert _ids(out) == ["at-scale", "sphere-at", "fig3", "fig3-scale", "q1-cnn",
                         "concentration-cnn"]
    assert (out / "at_scale.json").is_file() and (out / "q1_stationarity.png").is_file()


def test_train_command_resumes_and_refuses_other_settings(tmp_path, mnist_dir, capsys):
    out = tmp_path / "train"
    flags = ["--out", str(out), "--mnist-dir", mnist_dir, "--arch", "tiny", "--train-images",
             "16", "--eval-images", "8", "--batch-size", "8", "--pgd-steps", "1",
             "--no-progress"]
    assert main(["train", "--epochs", "1", *flags]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["epoch_0001.pt", "last.pt", "train.json"]
    assert main(["train", "--epochs", "2", *flags]) == 0
    saved = json.loads((out / "train.json").read_text())
    assert saved["resumed_from"] == 1 and [h["epoch"] for h in saved["history"]] == [0, 1, 2]
    capsys.readouterr()
    before = sorted(p.name for p in out.iterdir())
    assert main(["train", "--epochs", "3", *flags, "--lr", "0.5"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "resume" in err
    assert sorted(p.name for p in out.iterdir()) == before


@pytest.mark.parametrize("argv", [
    ["fig2", "--scales", "0.1", "0.1"], ["fig2", "--pool", "median"],
    ["fig3", "--probe-epochs", "0", "99"], ["train", "--epochs", "-1"],
    ["train", "--box", "maybe"]])
def test_bad_input_exits_2_with_one_line_and_writes_nothing(tmp_path, capsys, argv):
    out = tmp_path / "out"
    try:
        rc = main([*argv, "--out", str(out)])
    except SystemExit as e:  # argparse's own errors (a flag value of the wrong type)
        rc = e.code
    err = capsys.readouterr().err
    assert rc == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert not out.exists()
