"""The escape probe: the statistic, the claim tests, the probe on a small model, fig2 CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

from advdyn.cli.main import main
from advdyn.errors import AdvdynError
from advdyn.experiments.escape import (
    EscapeConfig,
    EscapeCurve,
    compare_escape,
    rule_step,
    run_escape_probe,
    scale_claim,
    steps_to_escape,
    summarize,
    training_claim,
    verdict,
)
from test_mnist_data import write_mnist_dir


def test_steps_to_escape_on_hand_made_curves():
    ell = np.column_stack([
        [1.0, 2.0, 3.0, 4.0, 5.0],    # linear rise 1 → 5: half the rise (3) at t = 2
        [2.0, 2.0, 2.0, 2.0, 2.0],    # flat: never rose, censored at T = 4
        [5.0, 5.0, 5.0, 5.0, 5.0],    # flat too
        [3.0, 3.0, 9.0, 4.0, 3.5],    # overshoot to 9 at t = 2, then back: rise 6
    ])
    steps, escaped = steps_to_escape(ell, 0.5)
    assert steps.tolist() == [2, 4, 4, 2]
    assert escaped.tolist() == [True, False, False, True]
    assert steps_to_escape(ell, 1.0)[0].tolist() == [4, 4, 4, 2]
    assert steps_to_escape(ell, 0.2)[0].tolist() == [1, 4, 4, 2]
    with pytest.raises(AdvdynError, match="ell"):
        steps_to_escape(ell[:1], 0.5)


def test_a_rise_below_resolution_is_not_an_escape():
    """Noise floor: a rise must exceed 1e-12 · max(1, |ℓ₀|)."""
    ell = np.array([[2.0, 1e6, 1e-20, 2.0], [2.0 + 1e-9, 1e6 + 1e-7, 5e-13, 2.0 + 1e-13]])
    _, escaped = steps_to_escape(ell, 0.5)
    assert escaped.tolist() == [True, False, False, False]


def test_paired_comparison_and_verdict():
    fast = np.array([10, 11, 12, 10])
    assert compare_escape(fast, fast + 5)["outcome"] == "held"
    assert compare_escape(fast + 5, fast)["outcome"] == "contradicted"
    assert compare_escape(fast, fast)["outcome"] == "tie"
    noisy = compare_escape(fast, np.array([20, 1, 30, 0]))
    assert noisy["outcome"] == "tie" and noisy["mean_difference"] == pytest.approx(2.0)
    slightly = fast + np.array([1, 0, 1, 1])        # 3/4 of a step on average
    assert compare_escape(fast, slightly, margin=0.0)["outcome"] == "held"
    assert compare_escape(fast, slightly)["outcome"] == "tie"    # below the 1-step margin
    assert verdict(["held", "held"]) == "held"
    assert verdict(["held", "tie"]) == "partly"
    assert verdict(["held", "contradicted"]) == "not held"
    assert verdict(["tie", "tie"]) == "not held"


def _curve(scale, ratio, steps, epoch=None):
    steps = np.asarray(steps)
    n = steps.size
    ell = np.zeros((3, n))
    return EscapeCurve(scale=scale, ratio=ratio, eps=1.0, ell=ell, steps_to_escape=steps,
                       escaped=np.ones(n, bool), ascent_steps=np.zeros(n, int),
                       ascent_converged=np.ones(n, bool), ell_at_max=np.zeros(n),
                       alignment_at_max=-np.ones(n), on_sphere=np.ones(n, bool),
                       flat=np.zeros(n, bool), epoch=epoch)


def test_scale_claim_per_scale():
    base = np.array([5, 6, 7, 5])
    curves = [_curve(0.1, 1, base), _curve(0.1, 10, base),
              _curve(10, 1, base + 3), _curve(10, 10, base),        # tie at ratio 10
              _curve(1000, 1, base + 9), _curve(1000, 10, base + 9)]
    claims = {c["scale"]: c for c in scale_claim(curves)}
    assert claims[0.1]["verdict"] == "partly" and claims[0.1]["ties"] == 1
    assert claims[10]["held"] == 3 and claims[10]["ties"] == 1
    assert claims[1000]["verdict"] == "held"
    assert [p["faster"] for p in claims[10]["comparisons"]] == ["scale 0.1", "scale 10"]


def test_training_claim_per_scale():
    base = np.array([5, 6, 7, 5])
    curves = [_curve(0.1, r, base + k, epoch=e) for e, k in ((0, 0), (10, 4), (100, 2))
              for r in (1, 10)]
    (claim,) = training_claim(curves)
    assert claim["epochs"] == [0, 10, 100]
    assert claim["verdict"] == "not held" and claim["contradicted"] == 2 and claim["held"] == 2
    with pytest.raises(AdvdynError, match="epoch"):
        training_claim([_curve(0.1, 1, base)])


def test_rule_step():
    assert rule_step("normalized", 0.1, 2.0) == pytest.approx(0.2)
    assert rule_step("sign", 0.1, 2.0) == pytest.approx(0.2)
    assert rule_step("raw", 0.1, 2.0) == pytest.approx(0.4)


@pytest.mark.parametrize(("field", "value"), [("fraction", 1.5), ("rho", 0.0),
                                              ("scales", ()), ("ratios", (1.0, 1.0)),
                                              ("rule", "adam"), ("images", 0),
                                              ("seed", -1)])
def test_config_validation_names_the_field(field, value):
    with pytest.raises(AdvdynError, match=field):
        EscapeConfig(**{field: value})


def _linear_model() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 10, dtype=torch.float32))


def _images(n: int = 3):
    g = torch.Generator().manual_seed(1)
    return (torch.rand(n, 1, 28, 28, generator=g, dtype=torch.float64),
            torch.tensor([1, 4, 7][:n]))


CFG = EscapeConfig(scales=(0.1, 1.0), ratios=(0.1, 1.0), images=3, steps=40, ascent_steps=150,
                   perturb=1e-2)


@pytest.fixture(scope="module")
def probe():
    x, y = _images()
    return run_escape_probe(_linear_model(), x, y, 9.0, CFG)


def test_probe_finds_a_maximum_then_escapes(probe):
    assert [(c.scale, c.ratio) for c in probe] == [(0.1, 0.1), (0.1, 1.0), (1, 0.1), (1, 1.0)]
    for c in probe:
        assert c.eps == pytest.approx(c.ratio * c.scale * 9.0)
        assert c.ell.shape == (CFG.steps + 1, 3)
        assert c.on_sphere.all() and c.ascent_converged.all()
        # a linear-logit model is smooth: at the max ∇L is radial and outward (α ≈ -1)
        assert (c.alignment_at_max < -0.99).all()
        assert (c.ell_at_max <= c.ell[0] + 1e-6 * np.abs(c.ell[0]) + 1e-12).all()
        assert c.escaped.all() and (c.ell.max(axis=0) > c.ell[0]).all()
        assert (c.steps_to_escape < CFG.steps).all()


def test_probe_is_deterministic_and_rows_are_independent(probe):
    x, y = _images()
    again = run_escape_probe(_linear_model(), x, y, 9.0, CFG)
    for a, b in zip(probe, again, strict=True):
        np.testing.assert_array_equal(a.ell, b.ell)
    alone = run_escape_probe(_linear_model(), x, y, 9.0,
                             EscapeConfig(**{**CFG.__dict__, "ratios": (1.0,)}))
    for a, b in zip([c for c in probe if c.ratio == 1.0], alone, strict=True):
        np.testing.assert_allclose(a.ell, b.ell, rtol=1e-9)
        np.testing.assert_array_equal(a.steps_to_escape, b.steps_to_escape)


def test_summary_is_json_ready(probe):
    s = summarize(probe[0])
    text = json.dumps(s, default=lambda o: o.tolist())
    back = json.loads(text)
    assert back["images"] == 3 and back["scale"] == 0.1 and back["ratio"] == 0.1
    assert set(back["steps_to_escape"]) >= {"mean", "std", "median", "censored", "per_image"}
    assert len(back["curve"]["progress_mean"]) == CFG.steps + 1
    assert back["curve"]["progress_mean"][0] == 0.0


def test_fig2_cli_on_idx_files(tmp_path, capsys):
    mnist = write_mnist_dir(tmp_path / "mnist", n_train=20, n_test=8)
    out = tmp_path / "fig"
    rc = main(["fig2", "--out", str(out), "--mnist-dir", str(mnist), "--no-progress",
               "--scales", "0.1", "10", "--ratios", "0.1", "1", "--images", "2", "--steps", "6",
               "--ascent-steps", "10", "--ascent-check", "5"])
    assert rc == 0
    assert {p.name for p in out.iterdir()} == {"fig2.json", "fig2.png", "fig2.pdf"}
    d = json.loads((out / "fig2.json").read_text())
    assert d["data"]["source"].startswith("MNIST IDX files")
    assert d["config"]["images"] == 2 and d["config"]["ascent_steps"] == 10
    assert [(c["scale"], c["ratio"]) for c in d["curves"]] == [(0.1, 0.1), (0.1, 1.0),
                                                               (10.0, 0.1), (10.0, 1.0)]
    assert all(c["images"] == 2 and "mean" in c["steps_to_escape"] for c in d["curves"])
    assert [c["scale"] for c in d["claims_per_scale"]] == [0.1, 10.0]
    assert all(c["verdict"] in ("held", "partly", "not held") for c in d["claims_per_scale"])
    assert "claim" in capsys.readouterr().out


@pytest.mark.parametrize("argv", [
    ["--fraction", "2"], ["--scales", "-1"], ["--rule", "adam"], ["--images", "x"],
    ["--mnist-dir", "/nonexistent/mnist"]])
def test_fig2_cli_bad_input(tmp_path, capsys, argv):
    out = tmp_path / "never"
    with pytest.raises(SystemExit) as e:
        raise SystemExit(main(["fig2", "--out", str(out), *argv]))
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "error" in err
    assert not out.exists()
