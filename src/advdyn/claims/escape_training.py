r"""Figure 3 along adversarial training (experiment ``at_scale``): the escape probe's time per
usable image minus the affine floor's on the same image, scale and epoch (the *excess*), and how
training changes it — ``fig3`` at the smallest scale (epoch last minus first, paired by image),
``fig3-scale`` between the extreme scales — each decided three-way against :data:`FIG3_MIN`
steps with the paired rule of :func:`advdyn.claims.calibrated.paired`."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from advdyn.claims.calibrated import paired
from advdyn.claims.core import INCONCLUSIVE, PARTLY, SUPPORTED, Arm, Judgement, three_way

FIG3_MIN = 5.0        # steps of escape beyond the affine floor


def _excess(arm: Arm, scale: float, epoch: int) -> dict[int, float]:
    """Per usable image: escape time minus the affine floor's (ratios pooled by image)."""
    def times(groups: Sequence[Mapping[str, Any]]) -> dict[tuple[float, int], float]:
        return {(g["ratio"], i): t for g in groups if g["scale"] == scale
                and g["epoch"] == epoch for i, (t, u) in
                enumerate(zip(g["times"], g["usable"], strict=True)) if u}
    main, floor = times(arm["escape"]), times(arm["floor"]["escape"])
    return {k: main[k] - floor[k] for k in main if k in floor}  # type: ignore[misc]


def _slowdown(arm: Arm, scale: float, e0: int, e1: int) -> dict[Any, float]:
    a, b = _excess(arm, scale, e0), _excess(arm, scale, e1)
    return {k: b[k] - a[k] for k in a if k in b}


def _epochs(arm: Arm) -> list[int]:
    return sorted({g["epoch"] for g in arm["escape"]})


def _calibration(arm: Arm, scales: Sequence[float]) -> dict[str, Any]:
    """Median escape steps per scale and probe epoch, the arm's and the affine floor's."""
    def medians(groups: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, float | None]]:
        return {f"{s:g}": {str(e): _median(groups, s, e) for e in _epochs(arm)} for s in scales}
    return {"main_median_escape": medians(arm["escape"]),
            "floor_median_escape": medians(arm["floor"]["escape"])}


def judge_fig3(arm: Arm) -> Judgement:
    """fig3 rule (see the declaration), at the smallest scale."""
    epochs = _epochs(arm)
    if len(epochs) < 2:
        return Judgement(INCONCLUSIVE, "fewer than two probe epochs: nothing to compare", {})
    s = min(g["scale"] for g in arm["escape"])
    first, few, last = epochs[0], epochs[1] if len(epochs) > 2 else epochs[-1], epochs[-1]
    d = _slowdown(arm, s, first, last)
    if not d:
        return Judgement(INCONCLUSIVE, f"scale {s:g}: no image has a certified start with a gap "
                         f"at epochs {first} and {last} in both arms",
                         {"scale": s, "calibration": _calibration(arm, [s])})
    effect, power = paired(list(d.values()), FIG3_MIN,
                           f"escape excess over the affine floor, epoch {last} minus epoch "
                           f"{first} (steps)", float(arm["budget"]))
    verdict, phrase = three_way(effect)
    at_few = list(_excess(arm, s, few).values())
    easy = bool(at_few) and float(np.median(at_few)) <= FIG3_MIN
    if verdict == SUPPORTED and few != last and not easy:
        verdict = PARTLY
    few_text = (f"; median excess at epoch {few}: {np.median(at_few):.1f} steps "
                f"({'easy' if easy else 'not easy'})" if at_few and few != last else "")
    return Judgement(verdict, f"scale {s:g}: {phrase}{few_text}",
                     {"scale": s, "epochs": [first, few, last], "few_epochs_easy": easy,
                      "calibration": _calibration(arm, [s])}, power, effect)


def _median(groups: Sequence[Mapping[str, Any]], s: float, e: int) -> float | None:
    t = [x for g in groups if g["scale"] == s and g["epoch"] == e
         for x, u in zip(g["times"], g["usable"], strict=True) if u]
    return float(np.median(t)) if t else None


def judge_fig3_scale(arm: Arm) -> Judgement:
    """fig3-scale rule (see the declaration)."""
    epochs = _epochs(arm)
    scales = sorted({g["scale"] for g in arm["escape"]})
    if len(epochs) < 2 or len(scales) < 2:
        return Judgement(INCONCLUSIVE, "fewer than two probe epochs or scales", {})
    lo = _slowdown(arm, scales[0], epochs[0], epochs[-1])
    hi = _slowdown(arm, scales[-1], epochs[0], epochs[-1])
    d = [hi[k] - lo[k] for k in lo if k in hi]
    if not d:
        return Judgement(INCONCLUSIVE, "no image has certified starts with a gap at both "
                         "epochs, both extreme scales and in both arms",
                         {"calibration": _calibration(arm, scales)})
    effect, power = paired(d, FIG3_MIN, f"training's slow-down of escape over the affine floor "
                           f"(epoch {epochs[-1]} minus {epochs[0]}), scale {scales[-1]:g} minus "
                           f"{scales[0]:g} (steps)", float(arm["budget"]))
    verdict, phrase = three_way(effect)
    per = {f"{s:g}": float(np.mean(list(_slowdown(arm, s, epochs[0], epochs[-1]).values())
                                   or [math.nan])) for s in scales}
    return Judgement(verdict, phrase, {"slowdown_per_scale": per,
                                       "calibration": _calibration(arm, scales)}, power, effect)
