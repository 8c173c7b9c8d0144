"""Every two-layer claim's judge on synthetic data: passing data at an adequate size →
supported, data that keeps the artifact without the mechanism → not supported, a size where the
rule cannot pass → inconclusive (underpowered); the power computations at their edges (36 units
for a counting rule, the exact Spearman critical ρ, the log-rank floor); the claims are
registered once; C3.1 counts trajectories that never switch (the three-way decisions from the
effects' intervals: tests/test_two_layer_effects.py)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from advdyn.claims import (
    INCONCLUSIVE,
    NOT_SUPPORTED,
    SUPPORTED,
    all_claims,
    escape_phase,
    for_every,
    lemmas,
    scale,
    theorems,
)
from advdyn.claims.rule_power import binomial_power
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


def _l42(within: float, points: int = 500, cells: int = 2) -> list[dict]:
    """``cells`` (d, η/ε) cells of ``points`` directions each, a fraction ``within`` of them
    keeping the bound."""
    return [{"dim": d, "eta_over_eps": 0.1, "directions": points,
             "within_bound": round(within * points), "max_ratio": 0.2 if within == 1 else 50.0,
             "max_error_over_eta": 0.1} for d in (2, 5, 20)[:cells]]


def _l43_literal(holding: float, points: int = 500) -> list[dict]:
    return [{"beta": b, "seed": s, "points": points, "holding": round(holding * points),
             "min_ratio": 1.2 if holding == 1 else 0.1, "frac_failing": 1 - holding,
             "min_cos": -0.4} for b in (0.5, 0.9) for s in range(2)]


def _l44(positive: float, points: int = 300) -> list[dict]:
    return [{"seed": s, "phi": p, "points": points, "positive": round(positive * points),
             "margin": 0.5 if positive == 1 else -3.0, "margin_unit": 0.5 if positive == 1
             else -3.0, "saddles": 0 if positive == 1 else 2}
            for s in range(3) for p in (0.5, 0.9)]


def _l45(kept_on_sphere: int, reached: int = 400, cond6: bool = True) -> list[dict]:
    """One setting of 500 trajectories, ``reached`` of them on the sphere; ``kept`` counts the
    100 that never reach it as kept."""
    return [{"cond6": cond6, "trajectories": 500, "reached_sphere": reached,
             "kept": kept_on_sphere + 500 - reached, "entered_minus": reached - kept_on_sphere,
             "left_plus": 0}]


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


def _eps_only(scale_matters: bool, shift: float = 0.0, seeds: int = 6) -> dict:
    """1 − min cos = ε (+ the scale where it matters; + ``shift`` at the largest scale only;
    + 10⁻³ on odd seeds at the largest scale), per seed and (scale, ε) cell, paired across
    cells as the experiment stores them."""
    return {"seeds": list(range(seeds)),
            "cells": [{"scale": c, "eps": e,
                       "turn": [e + (c if scale_matters else 0)
                                + ((shift + 1e-3 * (s % 2)) if c == 10 else 0)
                                for s in range(seeds)]}
                      for c in (0.1, 1, 10) for e in (0.1, 1, 10)]}


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


CASES = {
    "L4.1": (lemmas.judge_l41, _l41(0.0), _l41(-1.0)),
    "L4.2": (for_every.judge_l42, _l42(1.0), _l42(0.3)),
    "L4.2-literal": (for_every.judge_l42, _l42(1.0), _l42(1.0) + _l42(0.3)),
    "L4.3": (lemmas.judge_l43, _width_rows(0.0, "B_l", {"L_times_B_l": 0.1}),
             _width_rows(-0.5, "B_l", {"L_times_B_l": 0.1})),
    "L4.3-literal": (for_every.judge_l43_literal, _l43_literal(1.0), _l43_literal(0.8)),
    "L4.4": (for_every.judge_l44, _l44(1.0), _l44(0.5)),
    "L4.5": (for_every.judge_l45, _l45(400), _l45(380)),
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
    "L4.2": _l42(1.0, points=300),
    "L4.3": _width_rows(0.0, "B_l", {"L_times_B_l": 0.1})[:2],
    "L4.3-literal": _l43_literal(1.0, points=100),
    "L4.4": _l44(1.0, points=50),
    "L4.5": _l45(300, reached=300),
    "T3.1": _t31(True)[:2] + _t31(True)[20:22],
    "C3.1": {"rows": _c31(-2.0, 0.01)["rows"][:4], "constant": _c31(-2.0, 0.01)["rows"][:4]},
    "T5.1": [ONE] * 20,
    "on-sphere": [{"rule": "normalized", "runs": 20, "on_sphere": 20, "seed": 0, "scale": 1,
                   "ratio": 1}],
    "concentration": {"rows": [r for r in _trend(lambda c: np.log10(c) + 2, (0.01, 100))["rows"]
                               if r["seed"] == 0], "cells": []},
    "eps-only": _eps_only(False, seeds=2),
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
    """0.025^(1/n) > 0.9 first at n = 36: 36/36 is supported, 35/35 underpowered; against
    0.99 first at n = 368."""
    assert theorems.judge_t51([ONE] * 36).powered().verdict == SUPPORTED
    assert theorems.judge_t51([ONE] * 35).powered().verdict == INCONCLUSIVE
    for n in (35, 36):
        power = binomial_power(n, "units")
        assert power.adequate == (n == 36)
        assert power.min_p == pytest.approx(0.9 ** n)
    edge = binomial_power(36, "units")
    assert edge.detectable_effect == pytest.approx(0.8 ** (1 / 36))
    assert [binomial_power(n, "units", floor=0.99).adequate for n in (367, 368)] == [False, True]
    assert "≥ 368 needed" in binomial_power(367, "units", floor=0.99).why


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


def test_every_two_layer_claim_is_registered_once_and_tested_here() -> None:
    ids = [c.id for c in all_claims()]
    assert len(ids) == len(set(ids))
    mine = {c.id for c in TWO_LAYER}
    assert set(CASES) <= set(ids) and mine <= set(CASES)


def test_c31_counts_trajectories_that_never_switch() -> None:
    """Regression (issue 10): a seed where no trajectory reaches t̃ is counted, not dropped."""
    from advdyn.experiments.two_layer import c31

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
