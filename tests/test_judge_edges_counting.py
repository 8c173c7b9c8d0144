"""Issue 18, the counting rules not covered by tests/test_two_layer_fractions.py (T3.1,
on-sphere, sphere-at, L4.2-literal): each arm built by the claim's own ``arms`` function from a
synthetic experiment result, drawn at the detectable fraction the judge reports, passes about
as often as :data:`~advdyn.claims.power.DETECTION_POWER` says (0.8), and at the minimum effect
almost never; all-pass data are supported from the size the Clopper–Pearson bound allows and
inconclusive (underpowered) one unit below."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest

from advdyn.claims import INCONCLUSIVE, SUPPORTED, claim
from advdyn.claims.power import DETECTION_POWER
from advdyn.claims.rule_power import ALPHA, EVERY, HIGH
from test_two_layer_fractions import _pass_rate

ETAS = (1e-3, 5e-4, 2.5e-4)


def _t31(n: int, k: int) -> dict:
    """A theorem31 result: ``n`` trajectories over three η cells (the first ``k`` close at the
    budget), every one reaching a target after 10/η steps (the time's exponent −1 > −2)."""
    rows = [{"seed": 0, "eps": 0.03, "eta": ETAS[i % 3], "reached": True,
             "t_reach": int(10 / ETAS[i % 3]), "dist_end": 0.001 if i < k else 1.0,
             "close_end": i < k, "unseen_mass": 0.0} for i in range(n)]
    return {"arms": {"main": rows, "control": rows}}


def _on_sphere(n: int, k: int) -> dict:
    """An on_sphere result: one normalised-step setting of ``n`` runs, ``k`` on the sphere."""
    rows = [{"rule": "normalized", "runs": n, "on_sphere": k, "seed": 0, "scale": 1.0,
             "ratio": 0.1}, {"rule": "raw", "runs": n, "on_sphere": 0, "seed": 0,
                             "scale": 1.0, "ratio": 0.1}]
    return {"arms": {"main": rows, "control": rows}}


def _sphere_at(n: int, k: int) -> dict:
    """An at_scale result: one trained run whose attack put ``k`` of the ``n`` box images on
    the sphere at its one trained epoch (all of them without the box)."""
    history = [{"epoch": 0, "on_sphere": None, "on_sphere_box": None, "start_on_sphere": None},
               {"epoch": 1, "on_sphere": 1.0, "on_sphere_box": k / n, "start_on_sphere": 0.0}]
    return {"runs": [{"arm": "plain", "scale": 1.0, "seed": 0, "history": history}],
            "box_images": n}


def _l42_literal(n: int, k: int) -> dict:
    """A lemma42 result: the literal arm is outward + inward directions; ``n`` in all (half of
    them inward), ``k`` within the bound."""
    half = n // 2
    row = {"dim": 2, "eta_over_eps": 0.1, "max_ratio": 0.2, "max_error_over_eta": 0.1}
    return {"arms": {"outward": [{**row, "directions": half, "within_bound": min(k, half)}],
                     "inward": [{**row, "directions": n - half,
                                 "within_bound": max(k - half, 0)}]}}


#: Per claim: the synthetic result of ``n`` units with ``k`` successes, the minimum effect,
#: and the size of the pass-rate test.
RESULTS: dict[str, tuple[Callable[[int, int], dict], float, int]] = {
    "T3.1": (_t31, HIGH, 60),
    "on-sphere": (_on_sphere, HIGH, 60),
    "sphere-at": (_sphere_at, 0.5, 64),
    "L4.2-literal": (_l42_literal, EVERY, 500),
}


def _main_arm(cid: str) -> Callable[[int, int], Any]:
    """``(n, k) ↦`` the main arm as the claim's ``arms`` function picks it."""
    result = RESULTS[cid][0]
    return lambda n, k: claim(cid).arms(result(n, k))[0]


@pytest.mark.parametrize("cid", list(RESULTS))
def test_the_detectable_fraction_passes_as_often_as_the_power_says(cid: str) -> None:
    """At the reported detectable fraction the rule passes with probability 0.8 (2000 draws;
    ± 0.03 is over three standard errors); at the minimum effect less than α."""
    _, floor, n = RESULTS[cid]
    judge, arm = claim(cid).judge, _main_arm(cid)
    power = judge(arm(n, n)).power
    assert power is not None and power.adequate and power.n == n
    assert floor < power.detectable_effect < 1
    assert abs(_pass_rate(judge, arm, n, power.detectable_effect) - DETECTION_POWER) < 0.03
    assert _pass_rate(judge, arm, n, floor) < ALPHA


@pytest.mark.parametrize("cid", list(RESULTS))
def test_all_pass_data_are_supported_from_the_size_clopper_pearson_allows(cid: str) -> None:
    """n/n has the 95 % lower bound 0.025^(1/n): supported from the first n where that exceeds
    the minimum effect (36 for 0.9, 6 for 1/2, 368 for 0.99), inconclusive (underpowered) one
    unit below — through ``Claim.evaluate`` where the control can be made to fail."""
    _, floor, _ = RESULTS[cid]
    judge, arm = claim(cid).judge, _main_arm(cid)
    need = math.floor(math.log(ALPHA / 2) / math.log(floor)) + 1
    assert judge(arm(need, need)).powered().verdict == SUPPORTED
    below = judge(arm(need - 1, need - 1))
    assert below.power is not None and not below.power.adequate
    assert f"≥ {need} needed" in below.power.why
    powered = below.powered()
    assert powered.verdict == INCONCLUSIVE and powered.reason.startswith("underpowered")


def test_t31_needs_three_eta_cells_to_fit_the_times_slope() -> None:
    """T3.1's second condition: with two η cells the time's exponent cannot be fitted, so the
    rule is underpowered however many trajectories are close."""
    rows = [r for r in _t31(60, 60)["arms"]["main"] if r["eta"] != ETAS[-1]]
    seen = claim("T3.1").judge(rows)
    assert seen.power is not None and not seen.power.adequate
    assert "2 (seed, ε, η) cells" in seen.power.why
    assert seen.powered().verdict == INCONCLUSIVE
