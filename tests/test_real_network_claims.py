"""The real-network claims: each judge on synthetic passing data says "supported" and on failing
data "not supported"; the negative controls behave as declared."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from advdyn.claims import INCONCLUSIVE, NOT_SUPPORTED, SUPPORTED, claim
from advdyn.claims.survival import compare, difficult, easy, rmst, sooner

CONVENTIONS = ("normalized", "raw_fixed", "raw_eps2", "random")
BUDGET = 100


def _group(arm, conv, scale, ratio, times, budget=BUDGET):
    t = [float(x) for x in times]
    return {"arm": arm, "convention": conv, "scale": scale, "ratio": ratio,
            "times": [min(x, budget) for x in t], "escaped": [x < budget for x in t],
            "certified": len(t), "rejected": 0}


def _never(arm, s, r):
    return 2 * BUDGET


def _fig2(time_of, random_time=_never) -> dict:
    """A fig2 result whose escape times are ``time_of(arm, scale, ratio)`` + jitter; the
    ``random`` convention (steps in random directions) takes ``random_time`` (default: it never
    escapes within the budget)."""
    rng = np.random.default_rng(0)
    groups = [_group(arm, conv, s, r, (random_time if conv == "random" else time_of)(arm, s, r)
                     + rng.integers(0, 3, 20))
              for arm in ("plain", "invisible") for conv in CONVENTIONS
              for s in (0.1, 10.0, 1000.0) for r in (0.001, 0.1, 10.0)]
    return {"groups": groups, "budget": BUDGET}


def _paper(arm, s, r):
    """The paper's picture in the plain arm: escape slows with scale and (at scale 10) with
    ratio; the invisible arm does not depend on the scale."""
    if arm == "invisible":
        return 10 + 5 * np.log10(r / 0.001)
    return {0.1: 5, 10.0: 20 + 8 * np.log10(r / 0.001), 1000.0: 200}[s]


def _flat(arm, s, r):
    return 12.0


@pytest.mark.parametrize("cid", ["fig2a", "fig2b", "fig2c", "fig2-scale"])
def test_fig2_claims_pass_on_the_papers_picture(cid):
    rec = claim(cid).evaluate(_fig2(_paper))
    assert rec.verdict == SUPPORTED, rec.reason
    assert rec.control["verdict"] == NOT_SUPPORTED, rec.control["reason"]
    assert set(rec.values["verdict_per_convention"]) == set(CONVENTIONS)


@pytest.mark.parametrize("cid", ["fig2b", "fig2c", "fig2-scale"])
def test_fig2_claims_fail_on_a_flat_picture(cid):
    rec = claim(cid).evaluate(_fig2(_flat))
    assert rec.verdict in (NOT_SUPPORTED, INCONCLUSIVE)
    assert claim(cid).judge(claim(cid).arms(_fig2(_flat))[0]).verdict == NOT_SUPPORTED


def test_fig2a_control_is_the_same_cell_with_random_directions():
    """The control (same cell, steps in random directions) never escapes: rejected. Where random
    steps escape as easily as PGD, the rule does not discriminate: inconclusive."""
    rec = claim("fig2a").evaluate(_fig2(_flat))
    assert rec.verdict == SUPPORTED and rec.control["verdict"] == NOT_SUPPORTED
    assert rec.control["values"]["where"]["steps"] == "random directions"
    rec = claim("fig2a").evaluate(_fig2(_flat, random_time=_flat))
    assert rec.control["verdict"] == SUPPORTED and rec.verdict == INCONCLUSIVE
    slow = claim("fig2a").evaluate(_fig2(lambda a, s, r: 3 * BUDGET))
    assert slow.verdict == NOT_SUPPORTED


def test_a_group_without_certified_starts_is_inconclusive_not_a_verdict():
    result = _fig2(_paper)
    for g in result["groups"]:
        if g["scale"] == 0.1 and g["ratio"] == 10.0:
            g["times"], g["escaped"], g["certified"], g["rejected"] = [], [], 0, 20
    rec = claim("fig2a").evaluate(result)  # main arm and control share that cell
    assert rec.control["verdict"] == INCONCLUSIVE and rec.verdict == INCONCLUSIVE


def test_fig2_scale_reversed_order_is_not_supported():
    rec = claim("fig2-scale").evaluate(_fig2(lambda a, s, r: 300 / (1 + np.log10(s / 0.01))))
    assert rec.verdict == NOT_SUPPORTED


def test_easy_difficult_and_censoring():
    assert easy({"times": [5.0] * 10, "escaped": [True] * 10}, BUDGET)
    # 2 of 10 censored: not easy, whatever the median
    assert not easy({"times": [5.0] * 8 + [100.0] * 2, "escaped": [True] * 8 + [False] * 2},
                    BUDGET)
    assert difficult({"times": [100.0] * 6 + [3.0] * 4, "escaped": [False] * 6 + [True] * 4},
                     BUDGET)
    assert not difficult({"times": [], "escaped": []}, BUDGET)
    assert rmst([100.0] * 3, [False] * 3, BUDGET) == BUDGET
    assert rmst([10.0, 20.0], [True, True], BUDGET) == pytest.approx(15.0)
    # the vectorised Kaplan–Meier area agrees with scipy's estimate, censoring included
    rng = np.random.default_rng(5)
    t = rng.integers(0, 101, 40).astype(float)
    e = (t < 100) & (rng.random(40) < 0.7)
    sf = stats.ecdf(stats.CensoredData(uncensored=t[e], right=t[~e])).sf
    assert rmst(t, e, BUDGET) == pytest.approx(float(sf.evaluate(np.arange(100) + 0.5).sum()))
    # identical all-escape-at-once groups: log-rank undefined, read as p = 1
    assert sooner([5.0, 5.0], [True, True], [5.0, 5.0], [True, True]) == 1.0
    fast = {"times": [2.0] * 15, "escaped": [True] * 15}
    slow = {"times": [40.0] * 15, "escaped": [True] * 15}
    assert compare([(fast, slow)], [("a", "b")])["verdict"] == "supported"
    assert compare([(slow, fast)], [("a", "b")])["verdict"] == "not supported"
