"""Each two-layer claim experiment at a tiny size: jobs → collect → both arms judged; the quick
overrides are valid configurations; bad configurations name the field."""

from __future__ import annotations

import importlib
import json

import pytest
import torch

from advdyn.claims import VERDICTS, claims_of
from advdyn.errors import AdvdynError
from advdyn.jsondata import plain
from inline_experiments import run_inline

TINY = {
    "advdyn.experiments.two_layer.l41": {"widths": (32, 128), "below_widths": (8,),
                                      "eta_factors": (0.5,), "starts": 4, "steps": 10,
                                      "seeds": 2},
    "advdyn.experiments.two_layer.l42": {"dims": (2, 5), "points": 500},
    "advdyn.experiments.two_layer.l43": {"widths": (32, 128, 512), "below_widths": (8,),
                                      "n_points": 100, "seeds": 3},
    "advdyn.experiments.two_layer.l44": {"width": 32, "n_points": 200, "census_starts": 16,
                                      "seeds": 1},
    "advdyn.experiments.two_layer.l45": {"width": 32, "scales": (1.0,), "ratios": (0.1,),
                                      "steps": 100, "n_points": 100, "starts": 4, "seeds": 1},
    "advdyn.experiments.two_layer.t31": {"width": 32, "ratios": (0.03,), "eta_factors": (0.8, 0.4),
                                      "base_steps": 300, "starts": 3, "seeds": 1, "stride": 20},
    "advdyn.experiments.two_layer.c31": {"width": 32, "starts": 2, "pre_steps": 400,
                                      "post_steps": 100, "seeds": 1},
    "advdyn.experiments.two_layer.on_sphere": {"width": 32, "scales": (1.0,), "ratios": (0.1,),
                                            "starts": 4, "steps": 60, "seeds": 2},
    "advdyn.experiments.two_layer.concentration": {
        "width": 32, "scales": (0.01, 100.0), "ratios": (1.0,), "eps_scales": (1.0, 10.0),
        "eps_values": (0.1, 1.0), "angle_eps": (0.001, 1.0), "n_angles": 512, "n_points": 50,
        "seeds": 2, "eps_seeds": 3},
    "advdyn.experiments.threshold": {"dims": (2,), "widths": (64,), "scales": (1.0,),
                                     "base_width": 64, "seeds": 2, "n_ratios": 6, "refine": 1,
                                     "below_dim": 2, "below_width": 4},
}
BAD = {
    "advdyn.experiments.two_layer.l41": ("widths", {"widths": (8,)}),
    "advdyn.experiments.two_layer.l43": ("betas", {"betas": (1.5,)}),
    "advdyn.experiments.two_layer.l44": ("dim", {"dim": 2}),
    "advdyn.experiments.two_layer.t31": ("eta_factors", {"eta_factors": (0.5,)}),
    "advdyn.experiments.two_layer.c31": ("starts", {"starts": 0}),
    "advdyn.experiments.two_layer.concentration": ("eps_seeds", {"eps_seeds": 0}),
    "advdyn.experiments.threshold": ("below_width", {"below_width": 64}),
}


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.parametrize("name", list(TINY))
def test_experiment_runs_and_both_arms_are_judged(name: str) -> None:
    experiment = importlib.import_module(name).EXPERIMENT
    config = experiment.make_config(TINY[name])
    result = run_inline(experiment, config)
    assert result["text"] and all({"title", "columns", "rows"} <= set(t)
                                  for t in result["tables"])
    claims = claims_of(experiment.name)
    assert claims
    for c in claims:
        rec = c.evaluate(result)
        assert rec.verdict in VERDICTS and rec.control["verdict"] in VERDICTS
        # as claims.json is written (an undetectable effect, inf, becomes null)
        json.dumps(plain(rec.to_json()), allow_nan=False)
    experiment.make_config({**TINY[name], **experiment.quick})  # quick overrides are valid


@pytest.mark.parametrize("name", list(BAD))
def test_bad_config_names_the_field(name: str) -> None:
    field, bad = BAD[name]
    experiment = importlib.import_module(name).EXPERIMENT
    with pytest.raises(AdvdynError, match=field):
        experiment.make_config({**TINY[name], **bad})


def test_concentration_counts_a_flat_landscape_without_inventing_a_spread() -> None:
    """A landscape with no strict minimum (here f ≡ 0) is recorded with no spread, and the cell
    means leave it out."""
    from advdyn.experiments.simulated import SimulatedSetup
    from advdyn.experiments.two_layer.concentration import cells, maxima_of_ell
    from advdyn.models import TwoLayerNet

    net = TwoLayerNet(torch.randn(4, 2, dtype=torch.float64), torch.zeros(4, dtype=torch.float64))
    obj = SimulatedSetup(2, 4).objective(net, torch.tensor([1.0, 0.0], dtype=torch.float64),
                                         [1.0])
    flat = maxima_of_ell(obj, 1.0, 0, 256)
    assert flat["minima"] == 0 and flat["spread"] is None
    rows = [{"scale": 1.0, "ratio": 1.0, **flat},
            {"scale": 1.0, "ratio": 1.0, "minima": 2, "spread": 0.5, "largest_angle": 1.0}]
    (cell,) = cells(rows)
    assert cell["mean_spread"] == 0.5 and cell["flat_seeds"] == 1 and cell["mean_minima"] == 1.0


def test_l45_a_gradient_that_does_not_turn_keeps_every_trajectory_out_of_delta_minus() -> None:
    """Why a larger step alone gives L4.5 no control that rejects: a raw step from inside the
    ball lands at ``εy/‖y‖``, ``y = δ + η g``, with ``⟨g, y⟩ > η‖g‖²/2 > 0``, so where ``∇L``
    does not turn over the step the landing has ``α > 0`` and is never in ``Δ⁻_η``
    (``α ≤ −1 + θ < 0``). One softplus neuron (``∇f ∥ w`` everywhere), the largest step the
    ruler allows (``η = 0.99·(L̂B̂_l)²``, ``θ ≈ 1``): every start reaches the sphere, enters
    ``Δ⁺_η`` and stays."""
    from advdyn.experiments.simulated import SimulatedSetup
    from advdyn.experiments.two_layer.common import ball_bounds
    from advdyn.experiments.two_layer.l45 import visits
    from advdyn.geometry import L2Ball
    from advdyn.models import TwoLayerNet

    net = TwoLayerNet(torch.tensor([[1.0, 0.0, 0.0]], dtype=torch.float64),
                      torch.ones(1, dtype=torch.float64))
    obj = SimulatedSetup(3, 1, "bce", 0.0).objective(
        net, torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64), [2.0])
    gen = torch.Generator().manual_seed(0)
    b = ball_bounds(obj, 1.0, 200, gen)
    eta = 0.99 * (b["L_hat"] * b["B_l"]) ** 2
    seen = visits(obj, 1.0, eta, 0.99 ** 0.5, L2Ball.sample(64, (3,), 1.0, gen), 200)
    assert seen["reached_sphere"] == seen["entered_plus"] == seen["kept"] == 64
    assert seen["entered_minus"] == seen["left_plus"] == 0
