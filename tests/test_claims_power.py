"""The three-way decision, power, and the small-sample tests of ``advdyn.claims.power``."""

from __future__ import annotations

import math

import pytest

from advdyn import AdvdynError
from advdyn.claims import (
    INCONCLUSIVE,
    NOT_SUPPORTED,
    SUPPORTED,
    Claim,
    Effect,
    Judgement,
    Power,
    three_way,
)
from advdyn.claims.power import (
    holm_floor,
    paired_sign_flip,
    sign_flip_floor,
)


def _effect(low: float, high: float) -> Effect:
    return Effect(estimate=(low + high) / 2, low=low, high=high, min_effect=1.0, units="steps")


def test_three_way_decides_from_the_interval_against_the_minimum_effect() -> None:
    assert three_way(_effect(1.5, 3.0))[0] == SUPPORTED
    assert three_way(_effect(0.5, 3.0))[0] == INCONCLUSIVE
    verdict, phrase = three_way(_effect(0.1, 0.5))
    assert verdict == NOT_SUPPORTED and "smaller than the minimum" in phrase
    verdict, phrase = three_way(_effect(-3.0, -0.5))
    assert verdict == NOT_SUPPORTED and "reversed" in phrase


def test_an_existence_claim_needs_one_cell_and_every_cell_to_fail() -> None:
    """``three_way_any``: one cell beyond the minimum → supported (deciding on it); every cell
    below → not supported; a straddling cell beside failing ones → inconclusive; no cell → an
    error naming the field."""
    from advdyn.claims.core import three_way_any

    passed, straddles, fails = _effect(1.5, 3.0), _effect(0.5, 3.0), _effect(0.1, 0.5)
    verdict, phrase, deciding = three_way_any({"a": fails, "b": passed})
    assert verdict == SUPPORTED and deciding is passed and phrase.startswith("a: ")
    assert three_way_any({"a": fails, "b": fails})[0] == NOT_SUPPORTED
    assert three_way_any({"a": fails, "b": straddles})[0] == INCONCLUSIVE
    with pytest.raises(AdvdynError, match="effects"):
        three_way_any({})


def test_an_effect_interval_in_the_wrong_order_is_refused() -> None:
    with pytest.raises(AdvdynError, match=r"effect\.low"):
        Effect(estimate=0, low=1, high=0, min_effect=0, units="x")


def test_an_underpowered_decisive_verdict_becomes_inconclusive() -> None:
    weak = Power(n=6, min_p=1 / 64, detectable_effect=math.inf, adequate=False,
                 why="6 pairs: smallest p 1/64 > 0.0167")
    for verdict in (SUPPORTED, NOT_SUPPORTED, INCONCLUSIVE):
        j = Judgement(verdict, "numbers", {}, weak).powered()
        assert j.verdict == INCONCLUSIVE and j.reason.startswith("underpowered: 6 pairs")
        assert f"it read: {verdict}; numbers" in j.reason
        assert j.powered() == j  # said once
    strong = Power(n=60, min_p=1e-18, detectable_effect=0.1, adequate=True)
    assert Judgement(NOT_SUPPORTED, "numbers", {}, strong).powered().verdict == NOT_SUPPORTED


def _claim(judge) -> Claim:  # type: ignore[no-untyped-def]
    return Claim(id="demo-1", label="Demo (1)", section="§0", quote="q", measurement="m",
                 rule="r", control="c", experiment="e", min_effect="1 step",
                 arms=lambda res: (res["main"], res["control"]), judge=judge)


def test_claim_ids_are_typable_and_labels_are_kept() -> None:
    with pytest.raises(AdvdynError, match="claim id"):
        Claim(id="§5.1 (escape)", section="s", quote="q", measurement="m", rule="r",
              control="c", experiment="e", arms=lambda r: (r, r),
              judge=lambda a: Judgement(SUPPORTED, ""))
    strong = Power(n=60, min_p=1e-18, detectable_effect=0.1, adequate=True)
    rec = _claim(lambda arm: Judgement(arm, "x", {}, strong, _effect(2, 3))).evaluate(
        {"main": SUPPORTED, "control": NOT_SUPPORTED}).to_json()
    assert rec["id"] == "demo-1" and rec["label"] == "Demo (1)"
    assert rec["verdict"] == SUPPORTED and rec["power"]["adequate"] is True
    assert rec["effect"]["low"] == 2 and rec["control"]["as_expected"] is True


def test_an_underpowered_control_makes_the_claim_inconclusive() -> None:
    def judge(arm: str) -> Judgement:
        adequate = arm == "main"
        return Judgement(SUPPORTED if adequate else NOT_SUPPORTED, arm, {},
                         Power(3, 0.05, math.inf, adequate, "" if adequate else "3 runs"))
    rec = _claim(judge).evaluate({"main": "main", "control": "control"})
    assert rec.verdict == INCONCLUSIVE and rec.control["as_expected"] is False
    assert "underpowered" in rec.control["reason"]


def test_floors() -> None:
    assert sign_flip_floor(6) == 1 / 64
    assert holm_floor(1 / 64, 3) == pytest.approx(3 / 64)


def test_paired_sign_flip() -> None:
    res = paired_sign_flip([1.0, 2.0, 0.5, 3.0, 1.5, 2.5])
    assert res["p"] == pytest.approx(1 / 64) and res["min_p"] == pytest.approx(1 / 64)
    assert paired_sign_flip([0.0, 0.0])["p"] == 1.0


