"""The two-layer rules that decide three-way from an effect's interval (slopes, equivalence
margins, RMST differences): an effect beyond the minimum → supported, smaller (but nonzero) or
reversed → not supported, an interval straddling the minimum → inconclusive, the control's data →
not supported; "partly" where one of several cells passes; the records through
``Claim.evaluate``; the power edges of the RMST bootstrap and of eps-only's paired interval, and
eps-only's control arm as the experiment builds it."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from advdyn.claims import INCONCLUSIVE, NOT_SUPPORTED, PARTLY, SUPPORTED, claim, escape_phase, scale
from advdyn.claims.survival import MIN_RUNS, rmst_difference
from test_two_layer_claims import CASES, _eps_only, _l41, _phase, _trend, _width_rows


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


def _eps_edge(amplitude: float, n: int) -> dict:
    """eps-only at 4 scales × 3 ε (18 pairs): 1 − min cos = ε, and ±``amplitude`` on alternate
    seeds at scale 1, ε 0.1 (paired differences of mean 0 and sample sd
    ``amplitude·√(n/(n − 1))`` in the three pairs with scale 1 at ε 0.1; 0 in the others)."""
    return {"seeds": list(range(n)),
            "cells": [{"scale": c, "eps": e,
                       "turn": [e + (amplitude * (-1) ** s if (c, e) == (1, 0.1) else 0)
                                for s in range(n)]}
                      for c in (0.1, 1, 10, 100) for e in (0.1, 1, 10)]}


@pytest.mark.parametrize("detectable, adequate", [(0.045, True), (0.055, False)])
def test_eps_only_at_the_edge_of_detectability(detectable: float, adequate: bool) -> None:
    """The paired rule's power: the worst pair's detectable margin (t_{1−α/2k, n−1} + z₀.₈)·se
    must be within the bound 0.05 (k = 18 pairs, α = 0.05). Data whose se puts it at 0.045
    are adequately powered and, equivalent (mean difference 0), supported; at 0.055 the same
    equivalent data read supported but the rule could not reliably have passed: inconclusive
    (underpowered)."""
    n, k = 40, 18
    factor = stats.t.ppf(1 - 0.05 / (2 * k), n - 1) + stats.norm.ppf(0.8)
    sd = detectable / factor * np.sqrt(n)              # the paired differences' sample sd
    seen = scale.judge_eps_only(_eps_edge(sd * np.sqrt((n - 1) / n), n))
    assert seen.power is not None and seen.power.n == n
    assert seen.power.detectable_effect == pytest.approx(detectable)
    assert seen.power.adequate is adequate
    assert seen.verdict == SUPPORTED, seen.reason
    powered = seen.powered()
    assert powered.verdict == (SUPPORTED if adequate else INCONCLUSIVE)
    if not adequate:
        assert powered.reason.startswith("underpowered: 40 seeds (paired across cells)")


@pytest.mark.slow
def test_the_experiments_eps_only_control_is_not_supported() -> None:
    """The control arm as the experiment builds it (f_c(z) = c·f(z/c) on the same networks and
    points; 1000 seeds, ε = 1 at input scales 0.01 and 100, i.e. ratios 100 and 0.01): the turn
    follows the ratio, so the input scale moves it far beyond the bound: not supported, at an
    adequate size."""
    from advdyn.experiments.two_layer.concentration import EXPERIMENT, eps_cells
    from advdyn.runner.executors import execute

    cfg = EXPERIMENT.make_config({"width": 64, "n_points": 25, "eps_scales": (0.01, 100.0),
                                  "eps_values": (1.0,), "seeds": 1, "eps_seeds": 1000})
    values = [execute(job)[1] for job in EXPERIMENT.jobs(cfg)[cfg.seeds:]]
    grid, turn = eps_cells(cfg, values)
    _, control = scale.eps_only_arms({"eps_only": grid, "eps_only_turn": turn})
    assert control["seeds"] == list(range(1000))
    seen = scale.judge_eps_only(control).powered()
    assert seen.power is not None and seen.power.adequate, seen.power
    assert seen.verdict == NOT_SUPPORTED, seen.reason
    assert seen.effect is not None and seen.effect.high < 0    # wholly outside the bound


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


def _eps_result(main: dict, control: dict) -> dict:
    """Two eps-only arms as the experiment stores them: the grid, and the turns as an array
    ``(arm, cell, seed)``."""
    return {"eps_only": {"seeds": main["seeds"],
                         "cells": [{"scale": c["scale"], "eps": c["eps"]} for c in main["cells"]]},
            "eps_only_turn": np.array([[c["turn"] for c in arm["cells"]]
                                       for arm in (main, control)])}


def test_records_carry_the_effect_and_the_control_is_rejected() -> None:
    """Through ``Claim.evaluate`` on results shaped as the experiments store them: the main arm
    supported with its effect and power in the record, the control rejected by the same rule."""

    results = {
        "s5.1-escape": {"arms": {"main": _phase(True), "control": _phase(False)}},
        "fig1-ratio": {"arms": {"main": _phase(True), "control": _phase(False)}},
        "s5.1-minima": {"arms": {"main": _phase(True), "control": _phase(False)}},
        "concentration": {"concentration": {"main": CASES["concentration"][1],
                                            "control": CASES["concentration"][2]}},
        "eps-only": _eps_result(CASES["eps-only"][1], CASES["eps-only"][2]),
        "angle": {"angle": {"main": CASES["angle"][1], "control": CASES["angle"][2]}},
    }
    for cid, result in results.items():
        rec = claim(cid).evaluate(result)
        assert rec.verdict == SUPPORTED, (cid, rec.reason)
        assert rec.min_effect and rec.effect is not None and rec.power is not None
        assert rec.effect["low"] > rec.effect["min_effect"]
        assert rec.control["as_expected"] and rec.control["effect"] is not None, cid


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
