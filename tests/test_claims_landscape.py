"""The Figure 1 claim's judge (advdyn.claims.landscape): failing counts → not supported, passing
counts → supported, one half → partly supported, and the scale-swapped control of a
scale-dependent landscape → not supported (so the main verdict stands); the power of exact
counts, and an empty row → inconclusive (underpowered)."""

from __future__ import annotations

import pytest

from advdyn.claims import INCONCLUSIVE, NOT_SUPPORTED, PARTLY, SUPPORTED, claim
from advdyn.claims.landscape import fig1_arms, fig1_judge

SCALES, RATIOS = (0.01, 1.0, 100.0), (0.1, 1.0, 10.0)


def result(minima: dict[tuple[float, float], int]) -> dict:
    """A Figure 1 result with the given local-minimum counts per (scale, ratio) (1 elsewhere)."""
    panels = [{"scale": s, "ratio": r, "minima": minima.get((s, r), 1)}
              for s in SCALES for r in RATIOS]
    return {"panels": panels, "config": {"width": 8, "loss": "bce", "label": 0.0, "seed": 0}}


# the paper's picture: one minimum at small scale, many at large scale and ratio
PAPER = result({(100.0, 1.0): 3, (100.0, 10.0): 9, (1.0, 10.0): 2})


def test_paper_like_counts_are_supported_and_the_swapped_control_is_not() -> None:
    main, control = fig1_arms(PAPER)
    assert fig1_judge(main).verdict == SUPPORTED
    assert fig1_judge(control).verdict == NOT_SUPPORTED
    rec = claim("fig1").evaluate(PAPER)
    assert rec.verdict == SUPPORTED and rec.control["verdict"] == NOT_SUPPORTED
    assert rec.values["row_minima"] == {"0.1": 1, "1": 1, "10": 1}
    assert rec.values["corner_minima"] == 9


@pytest.mark.parametrize("counts, verdict", [
    ({(0.01, 10.0): 2}, NOT_SUPPORTED),                 # several at small scale, one at corner
    ({(0.01, 1.0): 2, (100.0, 10.0): 4}, PARTLY),       # B holds, A fails
    ({}, PARTLY),                                       # A holds, B fails (one everywhere)
])
def test_failing_counts_are_not_or_partly_supported(counts: dict, verdict: str) -> None:
    main, _ = fig1_arms(result(counts))
    assert fig1_judge(main).verdict == verdict


def test_a_scale_free_landscape_makes_the_claim_inconclusive() -> None:
    """Counts that do not depend on the input scale pass the rule on both arms: the control is
    not rejected, so the rule cannot tell the claim from its absence."""
    flat = result({(s, 10.0): 3 for s in SCALES})
    main, control = fig1_arms(flat)
    assert fig1_judge(main).verdict == fig1_judge(control).verdict == PARTLY
    rec = claim("fig1").evaluate(flat)
    assert rec.verdict == INCONCLUSIVE and "does not discriminate" in rec.reason


def test_power_of_the_exact_counts() -> None:
    """Exact counts of one network: no p-value, a difference of one minimum is seen, over the
    row's panels and the corner; a run with no panel in the row could not pass (underpowered)."""
    rec = claim("fig1").evaluate(PAPER)
    assert rec.power == {"n": len(RATIOS) + 1, "min_p": 0.0, "detectable_effect": 1.0,
                         "adequate": True, "why": ""}
    main, _ = fig1_arms(PAPER)
    empty = fig1_judge({**main, "row_minima": {}, "corner_minima": 9})
    assert empty.power is not None and not empty.power.adequate
    powered = empty.powered()
    assert powered.verdict == INCONCLUSIVE and "underpowered: no panel in the row" in powered.reason
