"""The claims core: one vocabulary, both arms judged by the same rule, a control that must fail,
and the shared statistics (Holm, Kaplan–Meier, log-rank) checked on data with known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from advdyn.claims import INCONCLUSIVE, NOT_SUPPORTED, SUPPORTED, Claim, Judgement
from advdyn.claims.stats import escapes_sooner, holm, kaplan_meier
from advdyn.errors import AdvdynError


def _judge(arm):
    ok = arm["effect"] > 1.0
    return Judgement(SUPPORTED if ok else NOT_SUPPORTED, f"effect {arm['effect']}",
                     {"effect": arm["effect"]})


def _claim(**kw):
    base = dict(id="toy", section="§0", quote="q", measurement="m", rule="effect > 1",
                control="effect removed", experiment="toy",
                arms=lambda r: (r["main"], r["control"]), judge=_judge)
    return Claim(**{**base, **kw})


def test_both_arms_judged_by_the_same_rule():
    rec = _claim().evaluate({"main": {"effect": 3.0}, "control": {"effect": 0.2}})
    assert rec.verdict == SUPPORTED
    assert rec.control["verdict"] == NOT_SUPPORTED
    j = rec.to_json()
    assert set(j) == {"id", "label", "section", "quote", "measurement", "values", "rule",
                      "min_effect", "verdict", "reason", "power", "effect", "regime", "control"}
    assert set(j["control"]) == {"description", "as_expected", "verdict", "reason", "values",
                                 "power", "effect"}
    assert j["values"] == {"effect": 3.0}


def test_a_rule_that_accepts_its_control_is_inconclusive():
    rec = _claim().evaluate({"main": {"effect": 3.0}, "control": {"effect": 2.0}})
    assert rec.verdict == INCONCLUSIVE
    assert "does not discriminate" in rec.reason


def test_declaration_and_vocabulary_are_checked():
    with pytest.raises(AdvdynError, match="rule"):
        _claim(rule=" ")
    with pytest.raises(AdvdynError, match="verdict"):
        Judgement("held", "old vocabulary")


def test_holm_matches_hand_computation():
    # sorted p: .005 .01 .03 .04 → ×4, ×3, ×2, ×1 = .02 .03 .06 .04 → running max .02 .03 .06 .06
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    with pytest.raises(AdvdynError, match="pvalues"):
        holm([0.5, math.nan])


def test_kaplan_meier_median_of_censored_exponentials():
    rng = np.random.default_rng(0)
    t = rng.exponential(10.0, 4000)
    km = kaplan_meier(np.minimum(t, 30.0), t < 30.0)
    assert km["censored"] == int((t >= 30).sum()) > 0
    assert km["median"] == pytest.approx(10.0 * math.log(2), rel=0.05)
    assert kaplan_meier([5.0, 5.0], [False, False])["median"] == math.inf


def test_logrank_direction_and_null():
    rng = np.random.default_rng(1)
    fast, slow = rng.exponential(10.0, 300), rng.exponential(20.0, 300)
    args = (np.minimum(fast, 40), fast < 40, np.minimum(slow, 40), slow < 40)
    assert escapes_sooner(*args) < 1e-6
    assert escapes_sooner(args[2], args[3], args[0], args[1]) > 0.5
    p = [escapes_sooner(a, a < 40, b, b < 40)
         for a, b in (rng.exponential(10.0, (2, 200)) for _ in range(200))]
    assert 0.02 < np.mean(np.array(p) < 0.05) < 0.09  # level ≈ 5 % under the null


def test_a_rule_without_data_reports_zero_power():
    from advdyn.claims.core import Power

    empty = Judgement(INCONCLUSIVE, "no certified start", {"cells": 0}).powered()
    assert empty.verdict == INCONCLUSIVE and empty.power is not None
    assert (empty.power.n, empty.power.adequate) == (0, False)
    assert "no certified start" in empty.power.why
    decided = Judgement(SUPPORTED, "clear", {}, Power(30, 1e-6, 0.1, True)).powered()
    assert decided.verdict == SUPPORTED and decided.power.n == 30
