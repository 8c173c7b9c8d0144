"""The fraction rules of issue 18 (L4.2 and L4.2-literal share a judge; L4.3-literal, L4.4,
L4.5, C3.1): at the
edge of detectability each judge does what its power computation predicts — data drawn at the
reported detectable fraction pass about 80 % of the time, data at the minimum effect almost
never, and all-pass data are supported from exactly the size the Clopper–Pearson bound allows
and underpowered one unit below —; the controls as the experiments produce them (or a faithful
synthetic of them) are not supported."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

from advdyn.claims import (
    INCONCLUSIVE,
    NOT_SUPPORTED,
    SUPPORTED,
    Judgement,
    claim,
    for_every,
    theorems,
)
from advdyn.claims.rule_power import ALPHA, EVERY, HIGH

Arm = Callable[[int, int], Any]


def _l42(n: int, k: int) -> list[dict]:
    return [{"dim": 2, "eta_over_eps": 0.1, "directions": n, "within_bound": k,
             "max_ratio": 0.2, "max_error_over_eta": 0.1}]


def _l43_literal(n: int, k: int) -> list[dict]:
    return [{"beta": 0.5, "seed": 0, "points": n, "holding": k, "min_ratio": 0.5,
             "frac_failing": 0.0, "min_cos": -0.6}]


def _l44(n: int, k: int) -> list[dict]:
    return [{"seed": 0, "phi": 0.9, "points": n, "positive": k, "margin": 0.1,
             "margin_unit": 0.1, "saddles": 0}]


def _l45(n: int, k: int) -> list[dict]:
    """``n`` trajectories on the sphere where (6) held, ``k`` of them kept (plus 10 that never
    reach the sphere, kept and not units)."""
    return [{"cond6": True, "trajectories": n + 10, "reached_sphere": n, "kept": k + 10,
             "entered_minus": n - k, "left_plus": 0}]


def _c31(n: int, k: int) -> dict:
    rows = [{"switched": True, "slope": -2.0 if i < k else -1e-6,
             "DS_over_D0": 0.01 if i < k else 0.99, "z_over_z_plus_S": 0.1,
             "rate_per_step": -1e-3} for i in range(n)]
    return {"rows": rows, "constant": rows}


#: One cell each: (judge, arm of n units with k successes, minimum effect).
RULES: dict[str, tuple[Callable[[Any], Judgement], Arm, float]] = {
    "L4.2": (for_every.judge_l42, _l42, EVERY),
    "L4.3-literal": (for_every.judge_l43_literal, _l43_literal, EVERY),
    "L4.4": (for_every.judge_l44, _l44, EVERY),
    "L4.5": (for_every.judge_l45, _l45, EVERY),
    "C3.1": (theorems.judge_c31, _c31, HIGH),
}


def _pass_rate(judge: Callable[[Any], Judgement], arm: Arm, n: int, fraction: float) -> float:
    """The share of 2000 seeded Binomial(n, fraction) draws the judge calls supported (each
    distinct count judged once)."""
    draws = np.random.default_rng(0).binomial(n, fraction, size=2000)
    verdict = {int(k): judge(arm(n, int(k))).powered().verdict for k in np.unique(draws)}
    return float(np.mean([verdict[int(k)] == SUPPORTED for k in draws]))


@pytest.mark.parametrize("cid", list(RULES))
def test_the_detectable_fraction_passes_as_often_as_the_power_says(cid: str) -> None:
    """At the reported detectable fraction the rule passes with probability 0.8 (2000 draws:
    ± 0.03 is over three standard errors); at the minimum effect itself less than α."""
    judge, arm, floor = RULES[cid]
    n = 500 if floor == EVERY else 60
    power = judge(arm(n, n)).power
    assert power is not None and power.adequate and power.n == n
    assert floor < power.detectable_effect < 1
    assert abs(_pass_rate(judge, arm, n, power.detectable_effect) - 0.8) < 0.03
    assert _pass_rate(judge, arm, n, floor) < ALPHA


@pytest.mark.parametrize("cid", list(RULES))
def test_all_pass_data_are_supported_from_the_size_clopper_pearson_allows(cid: str) -> None:
    """n/n has the 95 % lower bound 0.025^(1/n): supported from the first n where that exceeds
    the minimum effect, inconclusive (underpowered) one unit below."""
    judge, arm, floor = RULES[cid]
    need = math.floor(math.log(ALPHA / 2) / math.log(floor)) + 1
    assert judge(arm(need, need)).powered().verdict == SUPPORTED
    below = judge(arm(need - 1, need - 1))
    assert below.power is not None and not below.power.adequate
    assert f"≥ {need} needed" in below.power.why
    assert below.powered().verdict == INCONCLUSIVE


def test_cells_are_judged_at_level_one_minus_alpha_over_k() -> None:
    """Two β cells of L4.3-literal: each interval at 97.5 %, so all-pass needs
    0.0125^(1/n) > 0.99 in each cell (n ≥ 437)."""
    need = math.floor(math.log(ALPHA / 4) / math.log(EVERY)) + 1
    rows = [{**_l43_literal(need, need)[0], "beta": b} for b in (0.5, 0.9)]
    seen = for_every.judge_l43_literal(rows)
    assert seen.verdict == SUPPORTED and seen.effect is not None
    assert seen.effect.level == pytest.approx(1 - ALPHA / 2)
    short = [{**r, "points": need - 1, "holding": need - 1} for r in rows]
    assert for_every.judge_l43_literal(short).powered().verdict == INCONCLUSIVE


def test_l44_needs_one_phi_and_rejects_only_when_every_phi_fails() -> None:
    """'There exists φ': one φ above 0.99 suffices; all below → not supported; a φ straddling
    with the others below → inconclusive."""
    good, bad, edge = _l44(500, 500)[0], _l44(500, 250)[0], _l44(500, 497)[0]
    assert for_every.judge_l44([good, {**bad, "phi": 0.5}]).verdict == SUPPORTED
    assert for_every.judge_l44([bad, {**bad, "phi": 0.5}]).verdict == NOT_SUPPORTED
    assert for_every.judge_l44([edge, {**bad, "phi": 0.5}]).verdict == INCONCLUSIVE


def test_l42_control_as_the_experiment_makes_it_is_not_supported() -> None:
    """The lemma42 job itself (d = 2, η/ε = 0.1, 2000 points): the outward directions keep the
    bound everywhere (supported), the inward ones — the control — break it."""
    from advdyn.experiments.two_layer import l42

    torch.set_num_threads(1)
    rows = l42.errors_job(dims=(2,), eps=1.0, step_fractions=(0.1,), points=2000, seed=0)["rows"]
    arms = {s: [r for r in rows if r["side"] == s] for s in ("outward", "inward")}
    for cid in ("L4.2", "L4.2-literal"):
        rec = claim(cid).evaluate({"arms": arms})
        assert rec.control["verdict"] == NOT_SUPPORTED, rec.control["reason"]
    assert claim("L4.2").evaluate({"arms": arms}).verdict == SUPPORTED
    assert claim("L4.2-literal").evaluate({"arms": arms}).verdict == NOT_SUPPORTED


def test_l43_literal_control_as_the_experiment_makes_it_is_not_supported() -> None:
    """The literal rows of lemma43 at its large-scale setting (input scale 10, ratio 1) on the
    first main network (d = 4, m = 32), as the experiment makes them."""
    from advdyn.experiments.two_layer import l43
    from advdyn.experiments.two_layer.common import problem

    torch.set_num_threads(1)
    obj, gen = problem(4, 32, 10.0, 0)
    rows = l43.literal_rows(obj, 10.0, 2000, (0.5, 0.9), gen)
    seen = for_every.judge_l43_literal(rows).powered()
    assert seen.verdict == NOT_SUPPORTED, seen.reason


def test_l45_control_with_few_trajectories_on_the_sphere_keeps_the_claim_inconclusive() -> None:
    """The control is the settings where (6) fails; where only a few of its trajectories reach
    the sphere (as in the reference run) the rule cannot reject it, so the claim cannot be
    supported, however clean the main arm."""
    main = _l45(600, 600)[0]
    fails = {**_l45(11, 11)[0], "cond6": False}
    rec = claim("L4.5").evaluate({"arms": {"main": [main, fails]}})
    assert rec.control["verdict"] == INCONCLUSIVE and not rec.control["power"]["adequate"]
    assert rec.verdict == INCONCLUSIVE and "does not discriminate" in rec.reason
    entering = {**_l45(400, 200)[0], "cond6": False}
    rec = claim("L4.5").evaluate({"arms": {"main": [main, entering]}})
    assert rec.control["verdict"] == NOT_SUPPORTED and rec.verdict == SUPPORTED


def test_c31_counts_a_trajectory_that_never_switched_on_both_sides() -> None:
    """40 converging trajectories and one that never reached t̃: the interval runs from the
    lower end with it failing to the upper end with it passing."""
    arm = _c31(40, 40)
    arm["rows"] = arm["rows"] + [{**arm["rows"][0], "switched": False, "slope": None}]
    seen = theorems.judge_c31(arm)
    assert seen.effect is not None
    assert seen.effect.low == pytest.approx(_cp_low(40, 41))
    assert seen.effect.high == 1.0 and seen.effect.estimate == pytest.approx(40 / 41)


def _cp_low(k: int, n: int) -> float:
    from scipy import stats

    return float(stats.beta.ppf(ALPHA / 2, k, n - k + 1))
