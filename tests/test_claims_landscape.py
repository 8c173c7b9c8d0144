"""The Figure 1 claim's judge (advdyn.claims.landscape): fractions of networks with exact
Clopper–Pearson intervals against 0.9, decided three-way without "partly"; the verdict the
power computation predicts at the edge of detectability (36 networks); and the experiment's
linear-network control arm → not supported."""

from __future__ import annotations

import math

import pytest

from advdyn.claims import INCONCLUSIVE, NOT_SUPPORTED, SUPPORTED, claim
from advdyn.claims.landscape import fig1_arms, fig1_judge
from advdyn.claims.rule_power import HIGH, binomial_power
from advdyn.experiments.fig1 import Fig1Config, network_counts

SCALES, RATIOS = (0.01, 1.0, 100.0), (0.1, 1.0, 10.0)


def counts(row: int, corner: int) -> list[list[int]]:
    """A network's minima per (scale, ratio): ``row`` at every ratio of the smallest scale,
    ``corner`` at the largest scale and ratio, 3 elsewhere."""
    return [[row] * 3, [3] * 3, [3, 3, corner]]


def result(main: list[list[list[int]]], control: list[list[list[int]]] | None = None) -> dict:
    """A Figure 1 result whose networks have the given counts (control: one minimum
    everywhere, the linear network's landscape)."""
    control = control or [counts(1, 1)] * len(main)
    return {"networks": {"scales": list(SCALES), "ratios": list(RATIOS),
                         "main": [{"seed": s, "minima": m} for s, m in enumerate(main)],
                         "control": [{"seed": s, "minima": m} for s, m in enumerate(control)]},
            "config": {"width": 8, "loss": "bce", "label": 0.0, "seed": 0,
                       "networks": len(main)}}


def test_paper_like_networks_are_supported_and_the_one_minimum_control_is_not() -> None:
    rec = claim("fig1").evaluate(result([counts(1, 9)] * 60))
    assert rec.verdict == SUPPORTED and rec.control["verdict"] == NOT_SUPPORTED
    assert rec.values["one_in_row"] == rec.values["several_at_corner"] == 60
    assert rec.effect["min_effect"] == HIGH and rec.effect["low"] > HIGH
    assert rec.control["values"]["several_at_corner"] == 0
    assert "smaller than the minimum" in rec.control["reason"]


@pytest.mark.parametrize("main, verdict", [
    ([counts(2, 9)] * 60, NOT_SUPPORTED),                      # A fails: several at small scale
    ([counts(1, 1)] * 60, NOT_SUPPORTED),                      # B fails: one everywhere
    ([counts(1, 9)] * 56 + [counts(1, 1)] * 4, INCONCLUSIVE),  # B: 56/60, interval straddles
])
def test_either_half_failing_is_not_supported_and_a_straddle_inconclusive(
        main: list, verdict: str) -> None:
    arm, _ = fig1_arms(result(main))
    assert fig1_judge(arm).verdict == verdict


def test_the_edge_of_detectability_is_where_the_power_says() -> None:
    """The counting rule's power: n/n has the 95 % lower bound 0.025^{1/n}, at least 0.9 from
    n = 36 on. At 36 networks all passing the rule is adequate and says supported; at 35 it is
    not adequate, and the same perfect data cannot pass: their interval straddles 0.9."""
    edge = math.ceil(math.log(0.025) / math.log(HIGH))
    assert edge == 36
    for n, adequate in ((edge, True), (edge - 1, False)):
        rec = claim("fig1").evaluate(result([counts(1, 9)] * n))
        assert rec.power == binomial_power(n, "networks").to_json()
        assert rec.power["adequate"] is adequate
        if adequate:
            assert rec.verdict == SUPPORTED
            assert rec.power["detectable_effect"] == pytest.approx(0.8 ** (1 / n))
        else:
            assert rec.verdict == INCONCLUSIVE and "straddles" in rec.reason
            assert rec.power["why"].startswith("35 networks: even 35/35")


@pytest.mark.slow
def test_the_experiments_linear_control_arm_is_not_supported() -> None:
    """The control arm as the experiment builds it (linear networks f = γ_c w₁ᵀz of 36 draws,
    scanned on the same circles): one minimum of L everywhere, so B fails → not supported, at
    an adequate size."""
    cfg = Fig1Config(scales=(0.01, 1.0), ratios=(0.1, 1.0), width=16, networks=36)
    nets = {"scales": list(cfg.scales), "ratios": list(cfg.ratios),
            **network_counts(cfg, 0, cfg.networks)}
    _, control = fig1_arms({"networks": nets})
    judged = fig1_judge(control).powered()
    assert control["one_in_row"] == 36 and control["several_at_corner"] == 0
    assert judged.power is not None and judged.power.adequate
    assert judged.verdict == NOT_SUPPORTED
