"""The phase diagram: per-seed counts against an independent dense scan, the three step
conventions, censoring, the linear-network control, determinism, bad input, and its claims
evaluated on a small run."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from advdyn.claims import VERDICTS, claims_of
from advdyn.errors import AdvdynError
from advdyn.experiments.phase import EXPERIMENT, PhaseConfig, phase_seed
from advdyn.experiments.phase_escape import CONVENTIONS, cell_runs
from advdyn.jsondata import plain
from advdyn.sphere import scan_circle
from inline_experiments import run_inline

SMALL = {"scales": (0.01, 1.0, 100.0), "ratios": (0.1, 10.0), "seeds": 2, "width": 64,
         "steps": 120}


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def small() -> dict:
    return run_inline(EXPERIMENT, PhaseConfig(**SMALL))


def test_per_seed_counts_match_an_independent_dense_scan() -> None:
    cfg = PhaseConfig(**SMALL)
    res = phase_seed(cfg, 1)
    net, u, _ = cfg.setup().draw(1)
    obj = cfg.setup().objective(net, u, [s for s in cfg.scales for _ in cfg.ratios])
    eps = torch.tensor([s * r for s in cfg.scales for r in cfg.ratios])
    dense = scan_circle(obj, eps, 32768)
    assert res["minima"].ravel().tolist() == [len(c.minima) for c in dense]
    assert np.bincount(res["start_cell"], minlength=6).tolist() == [len(c.maxima)
                                                                    for c in dense]
    for conv in CONVENTIONS:
        assert res[f"steps_{conv}"].shape == res["start_cell"].shape
    # at the smallest scale the landscape is nearly linear: ℓ is linear along the crossing, so
    # half of its gap is covered at the centre, after about 1/ρ = 20 normalised steps
    tiny = res["steps_normalized"][res["start_cell"] < 2]
    assert np.all((tiny >= 15) & (tiny <= 23))


def test_control_is_linear_one_minimum_everywhere(small: dict) -> None:
    ctrl = small["arms"]["control"]
    assert all(r["minima"] == 1 for r in ctrl["minima"])
    times = [t for c in ctrl["escape"]["normalized"] for t in c["times"]]
    assert times and max(times) - min(times) <= 2  # the same straight crossing in every cell


def test_censored_runs_are_kept_as_censored() -> None:
    per_seed = [{"start_cell": np.array([0, 0, 1]), "steps_normalized": np.array([5, -1, 7])}]
    cells = cell_runs(per_seed, 2, 100, "normalized")
    assert cells[0] == {"times": [5, 100], "escaped": [True, False]}
    assert cells[1] == {"times": [7], "escaped": [True]}


def test_result_shapes_and_claims(small: dict) -> None:
    main = small["arms"]["main"]
    assert np.asarray(main["mean_minima"]).shape == (3, 2)
    assert set(main["escape"]) == set(CONVENTIONS)
    assert len(main["minima"]) == 2 * 3 * 2
    assert np.asarray(main["mean_minima"])[0].tolist() == [1.0, 1.0]
    records = [c.evaluate(small) for c in claims_of("phase")]
    assert [r.id for r in records] == ["s5.1-minima", "s5.1-escape", "fig1-ratio"]
    for r in records:
        assert r.verdict in VERDICTS and r.power is not None
        # a control rejects where its rule has the power to; else it is underpowered, said so
        if r.control["power"]["adequate"]:
            assert r.control["verdict"] == "not supported", r.id
        else:
            assert r.control["verdict"] == "inconclusive" and "underpowered" in r.control["reason"]
    # as claims.json is written: the project's one conversion (an undetectable effect, inf,
    # becomes null)
    json.dumps(plain([r.to_json() for r in records]), allow_nan=False)


def test_deterministic(small: dict) -> None:
    again = run_inline(EXPERIMENT, PhaseConfig(**{**SMALL, "seeds": 1}))
    once = run_inline(EXPERIMENT, PhaseConfig(**{**SMALL, "seeds": 1}))
    assert json.dumps(again, default=str) == json.dumps(once, default=str)


@pytest.mark.parametrize("field, value", [("scales", (0.1, -1.0)), ("ratios", (1.0, 1.0)),
                                          ("seeds", 0), ("dim", 1), ("perturb", -1e-3),
                                          ("census_starts", 0), ("label", 2.0),
                                          ("raw_eta", 0.0), ("control_gamma", -1.0),
                                          ("gap_fraction", 1.0)])
def test_bad_config_names_the_field(field: str, value: object) -> None:
    with pytest.raises(AdvdynError, match=field):
        PhaseConfig(**{field: value})


def test_sweep_row_has_one_escape_fraction_per_convention() -> None:
    value = phase_seed(PhaseConfig(**{**SMALL, "scales": (0.01,), "ratios": (1.0,)}), 0)
    row = EXPERIMENT.row(value)
    assert row["escape_runs"] == len(value["start_cell"])
    assert {f"escaped_fraction_{c}" for c in CONVENTIONS} <= set(row)
    assert row["escaped_fraction_normalized"] == 1.0  # a nearly linear landscape: 2/ρ steps
