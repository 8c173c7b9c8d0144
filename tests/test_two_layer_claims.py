"""Every two-layer claim's judge on synthetic data: passing data at an adequate size →
supported, data that keeps the artifact without the mechanism → not supported, a size where the
rule cannot pass → inconclusive (underpowered); the power computations at their edges (36 units
for a counting rule, the exact Spearman critical ρ, the log-rank floor); the claims are
registered once; C3.1 counts trajectories that never switch. Every rule that decides three-way
from an effect's interval: an effect beyond the minimum → supported, smaller (but nonzero) or
reversed → not supported, an interval straddling the minimum → inconclusive."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from advdyn.claims import (
    INCONCLUSIVE,
    NOT_SUPPORTED,
    PARTLY,
    SUPPORTED,
    all_claims,
    escape_phase,
    lemmas,
    scale,
    theorems,
)
from advdyn.claims.rule_power import binomial_power
from advdyn.claims.survival import MIN_RUNS, rmst_difference
from advdyn.claims.two_layer import CLAIMS as TWO_LAYER

#: A T5.1 problem with exactly one minimum, counted by a complete census.
ONE = {"one_minimum": True, "unseen_mass": 0.0}
WIDTHS = (32, 128, 512, 2048)


def _width_rows(power: float, key: str, extra: dict) -> list[dict]:
    """``key ∝ m^power`` with a ±2.5 % offset per seed (the same at every width: the fitted
    slope is exactly ``power``, its standard error not zero)."""
    return [{"width": m, "seed": s, key: m ** power * (1 + 0.05 * (s % 2 - 0.5)), **extra}
            for m in WIDTHS for s in range(6)]


def _l41(power: float) -> list[dict]:
    return [{**r, "eta_factor": f, "eta": f, "interior_steps": 10, "frac_decrease": 1.0,
             "median": r["q01"]} for f in (0.5, 0.1) for r in _width_rows(power, "q01", {})]


def _l44(margin: float) -> list[dict]:
    return [{"seed": s, "phi": p, "points": 20, "margin": margin, "margin_unit": margin,
             "saddles": 0} for s in range(3) for p in (0.5, 0.9)]


def _t31(close: bool) -> list[dict]:
    return [{"seed": 0, "eps": 0.03, "eta": eta, "reached": close,
             "t_reach": int(10 / eta) if close else 10**6, "dist_end": 0.001 if close else 1.0,
             "close_end": close, "unseen_mass": 0.0} for eta in (1e-3, 5e-4, 2.5e-4)
            for _ in range(20)]


def _c31(slope: float, end: float) -> dict:
    rows = [{"switched": True, "slope": slope, "DS_over_D0": end, "z_over_z_plus_S": 0.1,
             "rate_per_step": -1e-3} for _ in range(40)]
    return {"rows": rows, "constant": rows}


def _trend(y_of_scale, scales=(0.01, 1, 100)) -> dict:
    """Spread ``y_of_scale(c)`` plus 0.01 on odd seeds (balanced over scales: the fitted slope
    per decade is exact, its standard error not zero)."""
    rows = [{"ratio": r, "scale": c, "seed": s, "spread": y_of_scale(c) + 0.01 * (s % 2)}
            for r in (1, 10) for c in scales for s in range(6)]
    return {"rows": rows, "cells": []}


def _eps_only(scale_matters: bool, shift: float = 0.0) -> dict:
    """1 − min cos = ε (+ the scale where it matters; + ``shift`` at the largest scale only),
    ± 5·10⁻⁴ by seed parity."""
    rows = [{"seed": s, "scale": c, "eps": e,
             "turn": e + (c if scale_matters else 0) + (shift if c == 10 else 0)
             + 1e-3 * (s % 2)}
            for c in (0.1, 1, 10) for e in (0.1, 1, 10) for s in range(6)]
    return {"rows": rows, "group": "eps", "level": "scale"}


def _phase(effect: bool) -> dict:
    """Counts and escape runs: with ``effect`` the count and the escape time grow with scale and
    with ratio; without it every cell is the same."""
    scales, ratios = (0.01, 1.0, 100.0), (0.1, 10.0)
    minima = [{"seed": s, "scale": c, "ratio": r,
               "minima": 1 + (int(np.log10(c) + 2) * (1 + int(r > 1)) + s % 2 if effect else 0)}
              for s in range(6) for c in scales for r in ratios]
    escape = {conv: [{"scale": c, "ratio": r,
                      "times": [int(10 + (50 * np.log10(c) + 100 + 30 * r if effect else 0) + k)
                                for k in range(12)], "escaped": [True] * 12}
                     for c in scales for r in ratios]
              for conv in ("normalized", "raw-fixed", "raw-eps2")}
    return {"minima": minima, "escape": escape, "mean_minima": []}


def _phase2(per_decade: float, later: float, runs: int = 40) -> dict:
    """Minima rising by ``per_decade`` per decade of scale and per decade of ratio (+0.1 on odd
    seeds); escape times ``later`` steps longer at scale 100 than at 0.01, and at ratio 10 than
    at 0.1 (runs jittered by 0–2 steps alike in every cell; all escape)."""
    scales, ratios = (0.01, 1.0, 100.0), (0.1, 10.0)

    def decades(c: float, r: float) -> tuple[float, float]:
        return float(np.log10(c) + 2), float(np.log10(r) + 1)

    minima = [{"seed": s, "scale": c, "ratio": r,
               "minima": 1 + per_decade * sum(decades(c, r)) + 0.1 * (s % 2)}
              for s in range(6) for c in scales for r in ratios]
    escape = {conv: [{"scale": c, "ratio": r,
                      "times": [100 + later * (decades(c, r)[0] / 4 + decades(c, r)[1] / 2)
                                + k % 3 for k in range(runs)],
                      "escaped": [True] * runs} for c in scales for r in ratios]
              for conv in ("normalized", "raw-fixed", "raw-eps2")}
    return {"minima": minima, "escape": escape, "mean_minima": []}


CASES = {
    "L4.1": (lemmas.judge_l41, _l41(0.0), _l41(-1.0)),
    "L4.2": (lemmas.judge_l42, [{"directions": 50, "max_ratio": 0.2, "max_error_over_eta": 0.1}],
             [{"directions": 50, "max_ratio": 50.0, "max_error_over_eta": 1.0}]),
    "L4.2-literal": (lemmas.judge_l42,
                     [{"directions": 50, "max_ratio": 0.2, "max_error_over_eta": 0.1}] * 2,
                     [{"directions": 50, "max_ratio": 0.2, "max_error_over_eta": 0.1},
                      {"directions": 50, "max_ratio": 250.0, "max_error_over_eta": 1.0}]),
    "L4.3": (lemmas.judge_l43, _width_rows(0.0, "B_l", {"L_times_B_l": 0.1}),
             _width_rows(-0.5, "B_l", {"L_times_B_l": 0.1})),
    "L4.3-literal": (lemmas.judge_l43_literal,
                     [{"min_ratio": 1.2, "frac_failing": 0.0, "min_cos": -0.4, "points": 50}],
                     [{"min_ratio": 0.1, "frac_failing": 0.2, "min_cos": -0.99, "points": 50}]),
    "L4.4": (lemmas.judge_l44, _l44(0.5), _l44(-3.0)),
    "L4.5": (lemmas.judge_l45,
             [{"cond6": True, "reached_sphere": 4, "trajectories": 40, "entered_minus": 0,
               "left_plus": 0}],
             [{"cond6": True, "reached_sphere": 4, "trajectories": 40, "entered_minus": 2,
               "left_plus": 0}]),
    "T3.1": (theorems.judge_t31, _t31(True), _t31(False)),
    "C3.1": (theorems.judge_c31, _c31(-2.0, 0.01), _c31(0.0, 0.9)),
    "T5.1": (theorems.judge_t51, [ONE] * 40, [{**ONE, "one_minimum": False}] * 20 + [ONE] * 20),
    "on-sphere": (scale.judge_on_sphere,
                  [{"rule": "normalized", "runs": 100, "on_sphere": 100, "seed": s, "scale": 1,
                    "ratio": 1} for s in range(5)],
                  [{"rule": "normalized", "runs": 100, "on_sphere": 10, "seed": s, "scale": 1,
                    "ratio": 1} for s in range(5)]),
    "concentration": (scale.judge_concentration, _trend(lambda c: np.log10(c) + 2),
                      _trend(lambda c: 0.0)),
    "eps-only": (scale.judge_eps_only, _eps_only(False), _eps_only(True)),
    "angle": (scale.judge_angle,
              [{"eps": e, "turn": e * 1e-3, "seed": s} for e in (1e-3, 1e-2, 1e-1, 1.0)
               for s in range(4)],
              [{"eps": e, "turn": 2.0 - 1e-3 * s, "seed": s} for e in (1e-3, 1e-2, 1e-1, 1.0)
               for s in range(4)]),
    "s5.1-minima": (scale.judge_minima, _phase(True), _phase(False)),
    "s5.1-escape": (escape_phase.judge_escape, _phase(True), _phase(False)),
    "fig1-ratio": (escape_phase.judge_fig1_ratio, _phase(True), _phase(False)),
}


@pytest.mark.parametrize("cid", list(CASES))
def test_judge_passes_good_data_and_rejects_bad(cid: str) -> None:
    """Good data at an adequate size: supported, with its power; data built to keep the
    measurement's artifact without the mechanism (the control's kind): not supported."""
    judge, good, bad = CASES[cid]
    seen, rejected = judge(good).powered(), judge(bad).powered()
    assert seen.verdict == SUPPORTED, seen.reason
    assert seen.power is not None and seen.power.adequate and seen.power.n > 0
    assert rejected.verdict == NOT_SUPPORTED, rejected.reason
    assert rejected.power is not None and rejected.power.adequate


def _angle(exponent: float) -> list[dict]:
    """1 − min cos = 10⁻³·ε^exponent, 10 % higher on odd seeds."""
    return [{"eps": e, "turn": 1e-3 * e ** exponent * (1 + 0.1 * (s % 2)), "seed": s}
            for e in (1e-3, 1e-2, 1e-1, 1.0) for s in range(4)]


#: Per three-way claim: data whose effect is smaller than the minimum but clearly nonzero
#: (where the minimum is positive, or a floor below 0: L4.1's slope), reversed (below 0; for
#: the equivalence margins of L4.3 and eps-only, minimum 0, a negative margin: the effect lies
#: outside the bound), and exactly at the minimum (the interval straddles it).
THREE_WAY = {
    "L4.1": {"smaller": _l41(-0.5), "straddles": _l41(-0.25)},
    "L4.3": {"reversed": _width_rows(0.5, "B_l", {"L_times_B_l": 0.1}),
             "straddles": _width_rows(0.25, "B_l", {"L_times_B_l": 0.1})},
    "concentration": {"smaller": _trend(lambda c: 0.02 * np.log10(c)),
                      "reversed": _trend(lambda c: -np.log10(c)),
                      "straddles": _trend(lambda c: 0.05 * np.log10(c))},
    "eps-only": {"reversed": _eps_only(False, shift=0.2),
                 "straddles": _eps_only(False, shift=0.05)},
    "angle": {"smaller": _angle(0.2), "reversed": _angle(-0.5), "straddles": _angle(0.5)},
    "s5.1-minima": {"smaller": _phase2(0.2, 200), "reversed": _phase2(-1, 200),
                    "straddles": _phase2(0.5, 200)},
    "s5.1-escape": {"smaller": _phase2(1, 2), "reversed": _phase2(1, -20),
                    "straddles": _phase2(1, 5)},
    "fig1-ratio": {"smaller": _phase2(0.2, 2), "reversed": _phase2(-1, -20),
                   "straddles": _phase2(0.5, 5)},
}


@pytest.mark.parametrize("cid", list(THREE_WAY))
def test_supported_effect_lies_beyond_the_minimum(cid: str) -> None:
    """The good data of :data:`CASES`: supported, with an interval beyond the minimum; the
    control's data: not supported, the interval below it."""
    judge, good, bad = CASES[cid]
    seen, rejected = judge(good), judge(bad)
    assert seen.verdict == SUPPORTED and seen.effect is not None, seen.reason
    assert seen.effect.low > seen.effect.min_effect and "beyond it" in seen.reason
    assert rejected.verdict == NOT_SUPPORTED and rejected.effect is not None, rejected.reason
    assert rejected.effect.high < rejected.effect.min_effect


@pytest.mark.parametrize("cid, kind", [(c, k) for c, kinds in THREE_WAY.items() for k in kinds])
def test_three_way_smaller_reversed_straddling(cid: str, kind: str) -> None:
    """Smaller than the minimum or reversed: not supported, saying which; an interval that
    straddles the minimum: inconclusive. Each at an adequate size (the rule could have passed)."""
    seen = CASES[cid][0](THREE_WAY[cid][kind]).powered()
    effect = seen.effect
    assert effect is not None and seen.power is not None and seen.power.adequate, seen.reason
    if kind == "straddles":
        assert seen.verdict == INCONCLUSIVE, seen.reason
        assert effect.low <= effect.min_effect <= effect.high
        assert "straddles" in seen.reason
    else:
        assert seen.verdict == NOT_SUPPORTED, seen.reason
        assert effect.high < effect.min_effect
        assert ("reversed" if kind == "reversed" else "smaller than the minimum") in seen.reason
        if kind == "reversed":
            assert effect.high < 0
        else:
            assert "reversed" not in seen.reason


def test_one_of_two_effects_supported_is_partly() -> None:
    """fig1-ratio: minima rise by 1 per decade of the ratio (beyond 0.5), escape 2 steps sooner
    (below 5): partly supported, shown with the failing effect; s5.1-minima at ratio 0.1 only
    (the other ratio flat): partly."""
    seen = escape_phase.judge_fig1_ratio(_phase2(1, 2))
    assert seen.verdict == PARTLY, seen.reason
    assert seen.effect is not None and seen.effect.high < seen.effect.min_effect == 5.0
    mixed = _phase2(1, 200)
    mixed["minima"] = [{**r, "minima": 1 + 0.1 * (r["seed"] % 2)} if r["ratio"] == 10.0 else r
                       for r in mixed["minima"]]
    assert scale.judge_minima(mixed).verdict == PARTLY


def test_records_carry_the_effect_and_the_control_is_rejected() -> None:
    """Through ``Claim.evaluate`` on results shaped as the experiments store them: the main arm
    supported with its effect and power in the record, the control rejected by the same rule."""
    from advdyn.claims import claim

    results = {
        "s5.1-escape": {"arms": {"main": _phase(True), "control": _phase(False)}},
        "fig1-ratio": {"arms": {"main": _phase(True), "control": _phase(False)}},
        "s5.1-minima": {"arms": {"main": _phase(True), "control": _phase(False)}},
        "concentration": {"concentration": {"main": CASES["concentration"][1],
                                            "control": CASES["concentration"][2]}},
        "eps-only": {"eps_only": {"main": CASES["eps-only"][1], "control": CASES["eps-only"][2]}},
        "angle": {"angle": {"main": CASES["angle"][1], "control": CASES["angle"][2]}},
    }
    for cid, result in results.items():
        rec = claim(cid).evaluate(result)
        assert rec.verdict == SUPPORTED, (cid, rec.reason)
        assert rec.min_effect and rec.effect is not None and rec.power is not None
        assert rec.effect["low"] > rec.effect["min_effect"]
        assert rec.control["as_expected"] and rec.control["effect"] is not None, cid


def _small_phase() -> dict:
    """One seed at two scales (two points per slope: fewer than 3), three runs per cell (fewer
    than the bootstrap's 5): too few for any of the phase rules."""
    out = _phase(True)
    out["minima"] = [r for r in out["minima"] if r["seed"] == 0 and r["scale"] != 1.0]
    for cells in out["escape"].values():
        for c in cells:
            c["times"], c["escaped"] = c["times"][:3], c["escaped"][:3]
    return out


#: Each judge's good data cut to a size where its rule cannot pass.
UNDERPOWERED = {
    "L4.1": _l41(0.0)[:2],
    "L4.2": [{"directions": 5, "max_ratio": 0.2, "max_error_over_eta": 0.1}],
    "L4.3": _width_rows(0.0, "B_l", {"L_times_B_l": 0.1})[:2],
    "L4.3-literal": [{"min_ratio": 1.2, "frac_failing": 0.0, "min_cos": -0.4, "points": 10}],
    "L4.4": [{**r, "points": 2} for r in _l44(0.5)],
    "L4.5": [{"cond6": True, "reached_sphere": 4, "trajectories": 4, "entered_minus": 0,
              "left_plus": 0}],
    "T3.1": _t31(True)[:2] + _t31(True)[20:22],
    "C3.1": {"rows": _c31(-2.0, 0.01)["rows"][:4], "constant": _c31(-2.0, 0.01)["rows"][:4]},
    "T5.1": [ONE] * 20,
    "on-sphere": [{"rule": "normalized", "runs": 20, "on_sphere": 20, "seed": 0, "scale": 1,
                   "ratio": 1}],
    "concentration": {"rows": [r for r in _trend(lambda c: np.log10(c) + 2, (0.01, 100))["rows"]
                               if r["seed"] == 0], "cells": []},
    "eps-only": {**_eps_only(False), "rows": [r for r in _eps_only(False)["rows"]
                                              if r["seed"] == 0]},
    "angle": [{"eps": e, "turn": e * 1e-3, "seed": 0} for e in (1e-3, 1e-2)],
    "s5.1-minima": _small_phase(),
    "s5.1-escape": _small_phase(),
    "fig1-ratio": _small_phase(),
}


@pytest.mark.parametrize("cid", [c for c in CASES if c in UNDERPOWERED])
def test_underpowered_size_is_inconclusive(cid: str) -> None:
    judge = CASES[cid][0]
    seen = judge(UNDERPOWERED[cid])
    assert seen.power is not None and not seen.power.adequate and seen.power.why
    powered = seen.powered()
    assert powered.verdict == INCONCLUSIVE
    if seen.verdict != INCONCLUSIVE:
        assert "underpowered" in powered.reason


def test_counting_rules_pass_from_36_units_as_the_binomial_predicts() -> None:
    """0.025^(1/n) ≥ 0.9 first at n = 36: 36/36 is supported, 35/35 underpowered."""
    assert theorems.judge_t51([ONE] * 36).powered().verdict == SUPPORTED
    assert theorems.judge_t51([ONE] * 35).powered().verdict == INCONCLUSIVE
    for n in (35, 36):
        power = binomial_power(n, "units", all_pass=True)
        assert power.adequate == (n == 36)
        assert power.min_p == pytest.approx(0.9 ** n)
    edge = binomial_power(36, "units", all_pass=True)
    assert edge.detectable_effect == pytest.approx(0.8 ** (1 / 36))


def test_fractions_are_decided_three_way_against_0_9() -> None:
    """k/n with its Clopper–Pearson interval against the minimum effect 0.9: 40/40 ([0.912, 1])
    supported, 36/40 ([0.763, 0.972]) straddles it: inconclusive, 20/40 below: not supported."""
    no = {**ONE, "one_minimum": False}
    for k, verdict in ((40, SUPPORTED), (36, INCONCLUSIVE), (20, NOT_SUPPORTED)):
        seen = theorems.judge_t51([ONE] * k + [no] * (40 - k))
        assert seen.verdict == verdict, seen.reason
        assert seen.effect is not None and seen.effect.min_effect == 0.9
        assert seen.effect.low <= k / 40 <= seen.effect.high


def test_incomplete_census_makes_t51_and_t31_inconclusive() -> None:
    """A census that may have missed minima (unseen mass 0.02 > 0.01) cannot decide."""
    rows = [{"one_minimum": True, "unseen_mass": 0.02}] * 40
    seen = theorems.judge_t51(rows)
    assert seen.verdict == INCONCLUSIVE and "incomplete census" in seen.reason
    assert seen.values["max_census_unseen_mass"] == 0.02
    t31 = theorems.judge_t31([{**r, "unseen_mass": 0.5} for r in _t31(True)])
    assert t31.verdict == INCONCLUSIVE and "0.5 > 0.01" in t31.reason
    assert theorems.judge_t51([{**r, "unseen_mass": 0.01} for r in rows]).verdict == SUPPORTED


def test_rmst_bootstrap_needs_five_runs_a_cell() -> None:
    """The escape rules' power edge: 4 runs a cell are too few for the bootstrap interval
    (underpowered, whatever the data), 5 are enough for a 190-step difference."""
    for n, adequate in ((MIN_RUNS - 1, False), (MIN_RUNS, True)):
        slow = {"times": [200 + k for k in range(n)], "escaped": [True] * n}
        fast = {"times": [10 + k for k in range(n)], "escaped": [True] * n}
        effect, power = rmst_difference(slow, fast, 5.0, "steps", "runs per cell")
        assert power.adequate == adequate and power.n == n
        assert effect.estimate == pytest.approx(190.0) and effect.low > 5.0


def test_rmst_difference_keeps_censored_runs_censored() -> None:
    """Runs censored at the budget 100 stay censored: up to τ = 100 the RMST of half-censored
    runs equals that of the same times read as escapes at 100 (10 + 90/2 = 55 both); once a run
    reaches 200 the censored ones stay at risk (Kaplan–Meier 11/21 from 10 to 200: RMST
    10 + 190·11/21 ≈ 110) where escapes at 100 would have left (RMST = the mean ≈ 62)."""
    censored = {"times": [10] * 10 + [100] * 10, "escaped": [True] * 10 + [False] * 10}
    as_escapes = {"times": [10] * 10 + [100] * 10, "escaped": [True] * 20}
    far = {"times": [200], "escaped": [True]}
    same, _ = rmst_difference(censored, as_escapes, 5.0, "steps", "runs")
    assert same.estimate == pytest.approx(0.0)
    longer, _ = rmst_difference({k: censored[k] + far[k] for k in far},
                                {k: as_escapes[k] + far[k] for k in far}, 5.0, "steps", "runs")
    assert longer.estimate > 30


def test_every_two_layer_claim_is_registered_once_and_tested_here() -> None:
    ids = [c.id for c in all_claims()]
    assert len(ids) == len(set(ids))
    mine = {c.id for c in TWO_LAYER}
    assert set(CASES) <= set(ids) and mine <= set(CASES)


def test_c31_counts_trajectories_that_never_switch() -> None:
    """Regression (issue 10): a seed where no trajectory reaches t̃ is counted, not dropped."""
    from advdyn.experiments.claims import c31

    torch.set_num_threads(1)
    value = c31.seed_job(dim=3, width=32, below_width=8, scale=1.0, ratio=0.03, eta_factor=0.5,
                         starts=3, pre_steps=1, post_steps=5, arm="main", run_seed=0)
    rows = value["rows"]
    assert len(rows) == 3 * len(c31.SCHEDULES) and not any(r["switched"] for r in rows)
    result = c31.EXPERIMENT.collect(c31.Config(seeds=1, starts=3, pre_steps=1, post_steps=5),
                                    [value, value])
    j = theorems.judge_c31(result["arms"]["main"])
    assert j.verdict == INCONCLUSIVE and j.values["trajectories"] == 3
    assert j.values["switched"] == 0
