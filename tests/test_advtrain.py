"""Adversarial training: determinism, atomic checkpoints, resume after a kill, the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import advdyn.experiments.advtrain as advtrain
from advdyn.cli.main import main
from advdyn.data import MnistData
from advdyn.errors import AdvdynError
from advdyn.experiments.advtrain import (
    TrainConfig,
    accuracies,
    adversarial_examples,
    load_checkpoint,
    read_checkpoint,
    train,
)
from test_mnist_data import write_mnist_dir


def _data(n_train: int = 48, n_test: int = 16) -> MnistData:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, n_train + n_test)
    images = np.zeros((n_train + n_test, 28, 28), dtype=np.uint8)
    for i, y in enumerate(labels):      # a learnable toy: the digit's column is inked
        images[i, 4:24, 2 + 2 * y] = 255
    return MnistData(images[:n_train], labels[:n_train], images[n_train:], labels[n_train:],
                     "toy columns")


CFG = TrainConfig(scale=1.0, ratio=0.1, pgd_steps=2, batch_size=16, eval_images=16, lr=3e-3)


def _same_weights(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    return all(torch.equal(p, q) for p, q in zip(a.state_dict().values(),
                                                  b.state_dict().values(), strict=True))


def _strip(history: list[dict]) -> list[dict]:
    return [{k: v for k, v in h.items() if k != "seconds"} for h in history]


@pytest.fixture(scope="module")
def straight(tmp_path_factory):
    """An uninterrupted 3-epoch run."""
    out = tmp_path_factory.mktemp("straight")
    return out, train(CFG, _data(), out, 3, (0, 2))


def test_run_writes_checkpoints_and_history(straight):
    out, run = straight
    assert sorted(p.name for p in out.iterdir()) == ["epoch_0000.pt", "epoch_0002.pt",
                                                     "epoch_0003.pt", "last.pt"]
    assert [h["epoch"] for h in run.history] == [0, 1, 2, 3]
    assert run.history[0]["train_loss"] is None and run.resumed_from is None
    assert run.eps == pytest.approx(0.1 * run.unit_mean_norm)
    state = read_checkpoint(out / "epoch_0002.pt")
    assert state["epoch"] == 2 and state["config"]["pgd_steps"] == 2
    assert len(state["history"]) == 3
    model, _ = load_checkpoint(out / "epoch_0003.pt")
    final, _ = load_checkpoint(out / "last.pt")
    assert _same_weights(model, final)
    init, _ = load_checkpoint(out / "epoch_0000.pt")
    assert not _same_weights(init, final)


def test_resume_after_a_kill_gives_the_uninterrupted_result(straight, tmp_path, monkeypatch):
    _, ref = straight
    real_save = advtrain._save

    def killed_at_epoch_2(path, epoch, *args):
        if epoch == 2:
            path.with_name(f".{path.name}.x.part.pt").write_bytes(b"half a file")
            raise KeyboardInterrupt
        real_save(path, epoch, *args)

    monkeypatch.setattr(advtrain, "_save", killed_at_epoch_2)
    with pytest.raises(KeyboardInterrupt):
        train(CFG, _data(), tmp_path, 3, (0, 2))
    assert read_checkpoint(tmp_path / "last.pt")["epoch"] == 1   # the last complete epoch
    monkeypatch.setattr(advtrain, "_save", real_save)
    run = train(CFG, _data(), tmp_path, 3, (0, 2))
    assert run.resumed_from == 1
    assert _strip(run.history) == _strip(ref.history)
    a, _ = load_checkpoint(tmp_path / "last.pt")
    b, _ = load_checkpoint(ref.checkpoints[3])
    assert _same_weights(a, b)
    # a finished run resumes to itself; asking for a checkpoint in the past is an error
    assert train(CFG, _data(), tmp_path, 3, (0, 2)).resumed_from == 3
    with pytest.raises(AdvdynError, match="epoch"):
        train(CFG, _data(), tmp_path, 3, (1,))


def test_resume_refuses_another_configuration(straight):
    out, _ = straight
    with pytest.raises(AdvdynError, match="another configuration"):
        train(TrainConfig(**{**CFG.__dict__, "lr": 1e-2}), _data(), out, 4)


def test_foreign_files_are_not_checkpoints(tmp_path):
    (tmp_path / "x.pt").write_bytes(b"not a checkpoint at all")
    with pytest.raises(AdvdynError, match="not a readable checkpoint"):
        read_checkpoint(tmp_path / "x.pt")
    torch.save({"weights": torch.zeros(2)}, tmp_path / "y.pt")
    with pytest.raises(AdvdynError, match="not an advdyn"):
        read_checkpoint(tmp_path / "y.pt")
    with pytest.raises(AdvdynError, match="no such"):
        read_checkpoint(tmp_path / "z.pt")


def test_attack_stays_in_ball_and_box():
    from advdyn.models.cnn import build_cnn

    data = _data()
    x = torch.as_tensor(data.test_images[:8] / 255.0, dtype=torch.float32)[:, None]
    y = torch.as_tensor(data.test_labels[:8])
    model = build_cnn()
    adv = adversarial_examples(model, x, y, 0.5, CFG, torch.Generator().manual_seed(0))
    d = (adv - x).reshape(8, -1).norm(dim=1)
    assert float(d.max()) <= 0.5 * (1 + 1e-5)
    assert float(adv.min()) >= 0 and float(adv.max()) <= 1
    clean, robust = accuracies(model, x, y, 0.5, CFG, seed=0)
    assert 0 <= robust <= 1 and (clean, robust) == accuracies(model, x, y, 0.5, CFG, seed=0)


@pytest.mark.parametrize(("field", "value"), [("optimizer", "lbfgs"), ("lr", 0.0),
                                              ("pgd_steps", -1), ("arch", "resnet"),
                                              ("seed", -2)])
def test_config_validation_names_the_field(field, value):
    with pytest.raises(AdvdynError, match=field):
        TrainConfig(**{field: value})


def test_train_and_fig3_cli_on_idx_files(tmp_path, capsys):
    mnist = write_mnist_dir(tmp_path / "mnist", n_train=24, n_test=8)
    common = ["--mnist-dir", str(mnist), "--no-progress", "--pgd-steps", "1",
              "--eval-images", "8", "--batch-size", "12"]
    assert main(["train", "--out", str(tmp_path / "t"), "--epochs", "1", *common]) == 0
    t = json.loads((tmp_path / "t" / "train.json").read_text())
    assert [h["epoch"] for h in t["history"]] == [0, 1] and t["config"]["pgd_steps"] == 1
    assert "robust_acc" in capsys.readouterr().out
    out = tmp_path / "f3"
    rc = main(["fig3", "--out", str(out), "--epochs", "0", "1", *common, "--ratios", "0.1", "1",
               "--images", "2", "--steps", "5", "--ascent-steps", "10", "--ascent-check", "5"])
    assert rc == 0
    assert {"fig3.json", "fig3.png", "fig3.pdf", "checkpoints"} <= {p.name for p in out.iterdir()}
    d = json.loads((out / "fig3.json").read_text())
    assert [(c["epoch"], c["scale"], c["ratio"]) for c in d["curves"]] == [
        (0, 0.1, 0.1), (0, 0.1, 1.0), (1, 0.1, 0.1), (1, 0.1, 1.0)]
    assert d["training"]["config"]["scale"] == 0.1 and d["data"]["source"].startswith("MNIST")
    assert d["claims_per_scale"][0]["epochs"] == [0, 1]


@pytest.mark.parametrize("argv", [["--epochs", "-1"], ["--epochs", "2", "--lr", "0"],
                                  ["--epochs", "2", "--checkpoint-epochs", "5"],
                                  ["--epochs", "2", "--mnist-dir", "/nonexistent"]])
def test_train_cli_bad_input(tmp_path, capsys, argv):
    out = tmp_path / "never"
    try:
        rc = main(["train", "--out", str(out), *argv])
    except SystemExit as e:  # refused by a flag's type
        rc = e.code
    assert rc == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "error" in err
    assert not out.exists()
