"""Issue 18, the two-layer negative controls as the experiments build them: each experiment run
(its own jobs and ``collect``) at the smallest size where the control's rule is adequately
powered, and each claim's control arm picked by the claim's own ``arms`` function, keeping every
artifact of the measurement (the same census, PGD runs, sampled points, schedules and
bookkeeping) without the claimed mechanism. The same rule must say "not supported" there, at an
adequate size. (L4.2, L4.2-literal and L4.3-literal: tests/test_two_layer_fractions.py; eps-only:
tests/test_two_layer_effects.py; fig1: tests/test_claims_landscape.py; L4.5: owned elsewhere.)"""

from __future__ import annotations

import importlib

import pytest

from advdyn.claims import NOT_SUPPORTED, claim
from inline_experiments import run_inline

#: Per experiment module: the configuration, the claims whose control it checks, and whether
#: it takes more than a few seconds here.
CONTROLS: dict[str, tuple[dict, tuple[str, ...], bool]] = {
    "advdyn.experiments.two_layer.l41": (
        {"widths": (32, 128), "below_widths": (8,), "eta_factors": (0.5,), "starts": 4,
         "steps": 10, "seeds": 2}, ("L4.1",), False),
    "advdyn.experiments.two_layer.l43": (
        {"widths": (32, 128, 512), "below_widths": (8,), "n_points": 100, "seeds": 8},
        ("L4.3",), False),
    "advdyn.experiments.two_layer.l44": (
        {"width": 32, "n_points": 1500, "census_starts": 16, "seeds": 1}, ("L4.4",), False),
    "advdyn.experiments.two_layer.on_sphere": (
        {"width": 32, "scales": (1.0,), "ratios": (0.1,), "starts": 20, "steps": 60,
         "seeds": 2}, ("on-sphere",), False),
    "advdyn.experiments.two_layer.concentration": (
        {"width": 32, "scales": (0.01, 100.0), "ratios": (1.0,), "eps_scales": (1.0, 10.0),
         "eps_values": (0.1, 1.0), "angle_eps": (0.001, 1.0), "n_angles": 512,
         "n_points": 50, "seeds": 2, "eps_seeds": 3}, ("concentration", "angle"), False),
    "advdyn.experiments.phase": (
        {"scales": (0.01, 100.0), "ratios": (0.1, 10.0), "seeds": 6, "width": 32,
         "steps": 100, "min_angles": 256, "max_angles": 1024},
        ("s5.1-minima", "s5.1-escape", "fig1-ratio"), False),
    "advdyn.experiments.two_layer.t31": (
        {"width": 32, "ratios": (0.03,), "eta_factors": (0.8, 0.4, 0.2), "base_steps": 300,
         "starts": 12, "seeds": 1, "stride": 20}, ("T3.1",), True),
    "advdyn.experiments.two_layer.c31": (
        {"width": 32, "starts": 36, "pre_steps": 2000, "post_steps": 600, "seeds": 1},
        ("C3.1",), True),
    "advdyn.experiments.threshold": (
        {"dims": (2,), "widths": (64,), "scales": (1.0,), "base_width": 64, "seeds": 36,
         "n_ratios": 6, "refine": 1, "below_dim": 2, "below_width": 4}, ("T5.1",), True),
}


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if slow else n
                                  for n, (_, _, slow) in CONTROLS.items()])
def test_the_control_the_experiment_builds_is_not_supported(name: str) -> None:
    config, cids, _ = CONTROLS[name]
    experiment = importlib.import_module(name).EXPERIMENT
    result = run_inline(experiment, experiment.make_config(config))
    for cid in cids:
        rec = claim(cid).evaluate(result)
        control = rec.control
        assert control["power"] is not None and control["power"]["adequate"], (cid, control)
        assert control["verdict"] == NOT_SUPPORTED, (cid, control["reason"])
        assert control["as_expected"]
