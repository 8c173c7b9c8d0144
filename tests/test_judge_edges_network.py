"""Issue 18, the real-network judges at the edge of detectability, each fed through its
claim's ``arms`` function from a synthetic experiment result (``fig2``, ``at_scale``).

The Figure 2 rules, fig3, fig3-scale and concentration-cnn decide on a paired t interval
``mean(d) ± t·sd(d)/√n`` (``t = t_{1−α/2k, n−1}``, ``k`` contrasts), at-scale on a Welch
interval: supported iff its low end exceeds the minimum ``Δ``. With per-unit differences of
exactly known mean and sample sd, the verdict must flip at ``mean = Δ + t·se`` and the reported
detectable effect be ``Δ + (t + z₀.₈)·se``; at-scale's, drawn with Gaussian noise, passes ≈ 0.8
of the time. The sizes where each rule's power flips (Holm floor ``k·2⁻ⁿ ≤ α``; 3 units;
q1-cnn's 5 images and 2× the floor within the steps followed) turn the same strong data from
supported to inconclusive (underpowered)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from advdyn.claims import INCONCLUSIVE, SUPPORTED, Judgement, claim
from advdyn.claims.power import DETECTION_POWER
from test_training_claims import _history, _result

Z = float(stats.norm.ppf(DETECTION_POWER))
ALPHA = 0.05


def _z(n: int) -> np.ndarray:
    """``n`` fixed values with sample mean 0 and sample sd 1."""
    z = np.random.default_rng(n).standard_normal(n)
    return (z - z.mean()) / z.std(ddof=1)


def _judge(cid: str, result: dict) -> Judgement:
    """The claim's judge on the main arm its ``arms`` function picks from ``result``."""
    c = claim(cid)
    return c.judge(c.arms(result)[0])


# ----------------------------------------------------------------------------- Figure 2

SCALES, RATIOS, FLOOR, BUDGET = (0.1, 10.0, 1000.0), (0.001, 10.0), 10.0, 1000


def _fig2(excess: np.ndarray) -> dict:
    """A fig2 result (normalised steps): the affine floor and the linearised arm escape in 10
    steps from every image; the CNN ``excess`` steps later at scale 1000 (every ratio) and at
    scale 10, ratio 10 — so every Figure 2 contrast is ``excess`` — and with the floor
    elsewhere."""
    images, groups = list(range(excess.size)), []
    for arm in ("plain", "affine", "linearised"):
        for s in SCALES:
            for r in RATIOS:
                hard = arm == "plain" and (s == 1000.0 or (s, r) == (10.0, 10.0))
                t = FLOOR + (excess if hard else np.zeros(excess.size))
                groups.append({"arm": arm, "convention": "normalized", "scale": s, "ratio": r,
                               "image": images, "times": t.tolist(),
                               "escaped": [True] * excess.size})
    return {"groups": groups, "budget": BUDGET}


#: The number of contrasts of each Figure 2 claim on this grid.
FIG2_K = {"fig2a": 1, "fig2b": 1, "fig2c": 1, "fig2-scale": len(RATIOS)}


@pytest.mark.parametrize("cid", list(FIG2_K))
def test_fig2_verdict_flips_where_the_paired_interval_meets_five_steps(cid: str) -> None:
    n, sd, k = 12, 4.0, FIG2_K[cid]
    se, t = sd / np.sqrt(n), float(stats.t.ppf(1 - ALPHA / (2 * k), n - 1))
    edge = 5.0 + t * se
    beyond = _judge(cid, _fig2(edge + 1e-6 + sd * _z(n)))
    short = _judge(cid, _fig2(edge - 1e-6 + sd * _z(n)))
    assert beyond.verdict == SUPPORTED, beyond.reason
    assert short.verdict == INCONCLUSIVE and "straddles" in short.reason, short.reason
    assert beyond.power is not None and beyond.power.adequate and beyond.power.n == n
    assert beyond.power.min_p == pytest.approx(k * 0.5 ** n)
    assert beyond.power.detectable_effect == pytest.approx(5.0 + (t + Z) * se, rel=1e-9)


@pytest.mark.parametrize("cid", list(FIG2_K))
def test_fig2_power_flips_at_the_holm_floor(cid: str) -> None:
    """The fewest images whose Holm floor k·2⁻ⁿ reaches α = 0.05 (5 for one contrast, 6 for
    two): 40 steps beyond the floor on every image is supported there, underpowered one image
    fewer."""
    k = FIG2_K[cid]
    need = next(n for n in range(1, 20) if k * 0.5 ** n <= ALPHA)
    for n, verdict in ((need, SUPPORTED), (need - 1, INCONCLUSIVE)):
        seen = _judge(cid, _fig2(40.0 + _z(n))).powered()
        assert seen.verdict == verdict, seen.reason
        assert seen.power is not None and seen.power.adequate is (n == need)
    assert "smallest Holm p" in _judge(cid, _fig2(40.0 + _z(need - 1))).power.why


# ---------------------------------------------------------------------- at_scale claims


def _at_scale(acc_small: np.ndarray, acc_large: np.ndarray) -> dict:
    """An at_scale result whose CNN runs end at the given robust test accuracies, per seed, at
    scale 0.1 and at scale 1000."""
    result = _result()
    other = [r for r in result["runs"] if r["arm"] != "plain"]
    plain = [{"arm": "plain", "scale": s, "seed": i, "history": _history(float(a))}
             for s, accs in ((0.1, acc_small), (1000.0, acc_large)) for i, a in enumerate(accs)]
    return {**result, "runs": plain + other}


def test_at_scale_verdict_flips_where_the_welch_interval_meets_the_minimum() -> None:
    """Equal sample sds σ over n seeds: se = σ√(2/n), Welch's 2(n − 1) degrees of freedom."""
    n, sd = 8, 0.04
    se, t = sd * np.sqrt(2 / n), float(stats.t.ppf(0.975, 2 * (n - 1)))
    edge = 0.05 + t * se
    large = 0.5 + sd * _z(n)
    beyond = _judge("at-scale", _at_scale(large + edge + 1e-9, large))
    short = _judge("at-scale", _at_scale(large + edge - 1e-9, large))
    assert beyond.verdict == SUPPORTED and short.verdict == INCONCLUSIVE, short.reason
    assert beyond.power is not None and beyond.power.adequate
    assert beyond.power.detectable_effect == pytest.approx(0.05 + (t + Z) * se, rel=1e-9)


def test_at_scale_difference_at_the_detectable_effect_passes_as_often_as_the_power_says() -> None:
    """12 seeds a scale, Gaussian accuracies of sd 0.04: at the true difference
    0.05 + (t + z₀.₈)·σ√(2/n) (t on 22 degrees of freedom) 0.8 of 1000 draws pass (± 0.04)."""
    n, sd = 12, 0.04
    detect = 0.05 + (float(stats.t.ppf(0.975, 2 * (n - 1))) + Z) * sd * np.sqrt(2 / n)
    rng = np.random.default_rng(1)
    passed = [_judge("at-scale", _at_scale(0.5 + detect + sd * rng.standard_normal(n),
                                           0.5 + sd * rng.standard_normal(n))).powered().verdict
              == SUPPORTED for _ in range(1000)]
    assert abs(np.mean(passed) - DETECTION_POWER) < 0.04


def _escape(slow: np.ndarray, scale: float) -> dict:
    """An at_scale result whose CNN escapes ``slow`` steps later than the affine floor at the
    last probe epoch at ``scale`` (one image per entry), like the floor everywhere else."""
    result, n = _result(), slow.size
    rows = []
    for arm in ("plain", "affine"):
        for s in (0.1, 1000.0):
            for e in (0, 1, 5):
                extra = slow if (arm, s, e) == ("plain", scale, 5) else np.zeros(n)
                rows.append({"arm": arm, "scale": s, "epoch": e, "ratio": 0.1,
                             "times": (20.0 + extra).tolist(), "escaped": [True] * n,
                             "usable": [True] * n})
    return {**result, "escape": rows}


def _restarts(wider: np.ndarray) -> dict:
    """An at_scale result whose CNN restarts spread ``wider`` more at scale 1000 than at 0.1
    (one value per (epoch, image), three epochs)."""
    result = _result()
    per = wider.reshape(3, -1)
    rows = [{**r, "spread": (0.1 + (per[(0, 1, 5).index(r["epoch"])]
                                    if r["scale"] == 1000.0 else np.zeros(per.shape[1]))).tolist()}
            for r in result["restarts"] if r["arm"] == "plain"]
    return {**result, "restarts": rows + [r for r in result["restarts"] if r["arm"] != "plain"]}


#: Per paired claim: the result whose contrast is the per-unit differences d, the minimum Δ,
#: and the number of units.
PAIRED = {
    "fig3": (lambda d: _escape(d, 0.1), 5.0, 12),
    "fig3-scale": (lambda d: _escape(d, 1000.0), 5.0, 12),
    "concentration-cnn": (_restarts, 0.05, 36),
}


@pytest.mark.parametrize("cid", list(PAIRED))
def test_paired_training_rules_flip_where_the_interval_meets_the_minimum(cid: str) -> None:
    build, delta, n = PAIRED[cid]
    sd = 3.0 if delta == 5.0 else 0.02
    se, t = sd / np.sqrt(n), float(stats.t.ppf(0.975, n - 1))
    edge = delta + t * se
    beyond = _judge(cid, build(edge + 1e-9 + sd * _z(n)))
    short = _judge(cid, build(edge - 1e-9 + sd * _z(n)))
    assert beyond.verdict == SUPPORTED, beyond.reason
    assert short.verdict == INCONCLUSIVE and "straddles" in short.reason, short.reason
    assert beyond.power is not None and beyond.power.adequate and beyond.power.n == n
    assert beyond.power.detectable_effect == pytest.approx(delta + (t + Z) * se, rel=1e-9)


def test_a_paired_difference_at_the_detectable_effect_passes_as_often_as_the_power_says() -> None:
    """concentration-cnn over 36 image-epochs, Gaussian differences of sd 0.02: at the true
    mean 0.05 + (t + z₀.₈)·σ/√n (t on 35 degrees of freedom) 0.8 of 1000 draws pass (± 0.04);
    at the minimum 0.05 itself, at most α/2 (+ 0.01)."""
    n, sd = 36, 0.02
    detect = 0.05 + (float(stats.t.ppf(0.975, n - 1)) + Z) * sd / np.sqrt(n)
    rng = np.random.default_rng(2)

    def rate(mean: float) -> float:
        return float(np.mean([_judge("concentration-cnn", _restarts(
            mean + sd * rng.standard_normal(n))).powered().verdict == SUPPORTED
            for _ in range(1000)]))

    assert abs(rate(detect) - DETECTION_POWER) < 0.04
    assert rate(0.05) < ALPHA / 2 + 0.01


@pytest.mark.parametrize("cid", ["fig3", "fig3-scale"])
def test_escape_slowdown_with_fewer_than_three_images_is_underpowered(cid: str) -> None:
    build = PAIRED[cid][0]
    assert _judge(cid, build(40.0 + _z(3))).powered().verdict == SUPPORTED
    seen = _judge(cid, build(np.array([40.0, 41.0])))
    assert seen.power is not None and not seen.power.adequate and "fewer than 3" in seen.power.why
    assert seen.powered().verdict == INCONCLUSIVE


def _q1(images: int, floor_t90: int, budget: int = 60) -> dict:
    """An at_scale result whose runs (two per image) are stationary and at the plateau after
    ``floor_t90`` steps on the affine arm and half as many on the CNN (ratio 1/2)."""
    result, rows = _result(), []
    for r in result["q1"]:
        t = floor_t90 if r["arm"] != "plain" else floor_t90 // 2
        rec = {"times": [t] * 2 * images, "hit": [True] * 2 * images}
        rows.append({**r, "budget": budget, "image": np.repeat(np.arange(images), 2).tolist(),
                     "stationary": {"0.05": rec}, "plateau": {"0.05": rec}})
    return {**result, "q1": rows}


def test_q1_power_flips_at_five_images_and_at_twice_the_floor_within_the_budget() -> None:
    """q1-cnn can pass only where 2× the floor's T90 fits in the steps followed and with at
    least 5 images: floor T90 30 of 60 steps with 5 images is supported; 31 steps, or 4
    images, the same picture is inconclusive (underpowered)."""
    for images, floor_t90, adequate in ((5, 30, True), (5, 31, False), (4, 30, False)):
        seen = _judge("q1-cnn", _q1(images, floor_t90))
        assert seen.verdict == SUPPORTED, seen.reason
        assert seen.power is not None and seen.power.adequate is adequate
        assert seen.powered().verdict == (SUPPORTED if adequate else INCONCLUSIVE)


def test_q1_detectable_effect_is_the_bootstrap_half_width_scaled_to_power_0_8() -> None:
    """q1-cnn's detectable effect: the half-width of its bootstrap interval of the worst ratio,
    × (z₀.₉₇₅ + z₀.₈)/z₀.₉₇₅ — finite for the paper's picture, infinite where a cell's ratio
    is unbounded (the CNN never 90 % stationary within the budget)."""
    result = _result()
    rng = np.random.default_rng(7)
    for r in result["q1"]:
        if r["arm"] == "plain":   # runs whose T90 varies with the images drawn
            k = len(r["image"])
            rec = {"times": rng.integers(4, 30, k).tolist(), "hit": [True] * k}
            r["stationary"] = {key: rec for key in r["stationary"]}
    rec = claim("q1-cnn").evaluate(result)
    effect, power = rec.effect, rec.power
    assert 0 < power["detectable_effect"] < np.inf
    half = (effect["high"] - effect["low"]) / 2
    z, z_power = stats.norm.ppf(0.975), stats.norm.ppf(DETECTION_POWER)
    assert power["detectable_effect"] == pytest.approx(half * (z + z_power) / z, rel=1e-9)
    result = _result()
    for r in result["q1"]:
        if r["arm"] == "plain":
            k = len(r["image"])
            never = {"times": [60] * k, "hit": [False] * k}
            r["stationary"] = {key: never for key in r["stationary"]}
    assert claim("q1-cnn").evaluate(result).power["detectable_effect"] == np.inf
