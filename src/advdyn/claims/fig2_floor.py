r"""Figure 2 effects measured against the ruler's floor (experiment ``fig2``).

An arm of the experiment (the CNN; or, as the negative control, the CNN linearised in its
input) is read beside its **floor**: the affine model probed on the same images with the same ε,
step rule, budget ``T`` and certification — a loss with one maximum over the ball, on which
normalised PGD still needs ≈ ln(2/τ)/ρ steps. For image ``i`` in cell ``c = (scale, ratio)`` the
**excess** is ``x_i(c) = t_i(c) − t_i^floor(c)``: escape steps of the arm minus the floor's on
the same image (images usable — certified with a gap — in both). A censored run is read at the
budget ``T``, a lower bound on its time; the Kaplan–Meier medians with censoring kept are shown
beside every decision.

A claim is a family of ``k`` **contrasts**, each a per-image difference ``d_i`` (an excess, or
the excess at a harder cell minus at an easier one on the same images). Per contrast: the mean
of ``d`` with its paired t interval at level ``1 − α/k`` (simultaneous over the family) and the
one-sided paired sign-flip p of ``mean(d − Δ) > 0``, Holm-adjusted over the family (shown). The
contrast with the lowest interval end decides three-way against ``Δ`` = :data:`MIN_STEPS`
(:func:`~advdyn.claims.core.three_way`); "supported" further needs the arm's Kaplan–Meier median
at that contrast's harder cell to be at least :data:`MIN_RATIO` times the floor's there.

**Power**: ``n`` = the fewest images of a contrast; ``min_p`` = the Holm floor ``k·2^{-n}``;
detectable effect ``Δ + (t + z_{0.8})·se`` (:func:`~advdyn.claims.calibrated.paired`, the
largest over contrasts); adequate iff ``n ≥ 3``, ``min_p ≤ α`` and the detectable effect is at
most ``T``. Every step convention is judged by the same rule; :data:`PRIMARY` decides.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from advdyn.claims.calibrated import paired
from advdyn.claims.core import INCONCLUSIVE, NOT_SUPPORTED, SUPPORTED, Judgement, Power, three_way
from advdyn.claims.power import holm_floor, paired_sign_flip, sign_flip_floor
from advdyn.claims.stats import holm
from advdyn.claims.survival import km

PRIMARY = "normalized"
ALPHA = 0.05
MIN_STEPS = 5.0   # escape steps beyond the floor
MIN_RATIO = 1.25  # the arm's median over the floor's, at the harder cell
CALIBRATION_ARMS = ("plain", "affine", "linearised")
Arm = Mapping[str, Any]
Cell = tuple[float, float]  # (scale, ratio)


@dataclass(frozen=True)
class Contrast:
    """One per-image difference of a claim: ``label``, ``d`` (image → steps), the ``harder``
    cell (where the ratio to the floor is checked) and every ``cells`` it reads."""

    label: str
    d: dict[int, float]
    harder: Cell
    cells: tuple[Cell, ...]


def arm_of(result: Mapping[str, Any], name: str) -> dict[str, Any]:
    """The arm ``name`` of a fig2 result with its floor (the ``affine`` arm) and, for the
    record, every calibration arm's groups."""
    groups = result["groups"]
    return {"name": name, "groups": [g for g in groups if g["arm"] == name],
            "floor": [g for g in groups if g["arm"] == "affine"],
            "shown": {a: [g for g in groups if g["arm"] == a] for a in CALIBRATION_ARMS},
            "budget": result["budget"]}


def cells(groups: Sequence[Mapping[str, Any]], conv: str) -> dict[Cell, Mapping[str, Any]]:
    """The groups of convention ``conv`` by (scale, ratio)."""
    return {(g["scale"], g["ratio"]): g for g in groups if g["convention"] == conv}


def _times(g: Mapping[str, Any] | None) -> dict[int, float]:
    if g is None:
        return {}
    return {int(i): float(t) for i, t in zip(g["image"], g["times"], strict=True)}


def excess(arm: Arm, conv: str, cell: Cell) -> dict[int, float]:
    """Per image usable in both: the arm's escape steps minus the floor's, in ``cell``."""
    main = _times(cells(arm["groups"], conv).get(cell))
    floor = _times(cells(arm["floor"], conv).get(cell))
    return {i: main[i] - floor[i] for i in main if i in floor}


def minus(a: dict[int, float], b: dict[int, float]) -> dict[int, float]:
    """``a − b`` on the images both hold."""
    return {i: a[i] - b[i] for i in a if i in b}


def _median(groups: Sequence[Mapping[str, Any]], conv: str, cell: Cell) -> float | None:
    g = cells(groups, conv).get(cell)
    return None if g is None or not g["times"] else float(km(g)["median"])


def calibration(arm: Arm, used: Sequence[Cell]) -> dict[str, dict[str, float | None]]:
    """Kaplan–Meier median escape steps of every calibration arm (``plain`` = the CNN), per
    convention and cell the claim reads (``inf``: more than half censored)."""
    convs = sorted({g["convention"] for g in arm["groups"]})
    return {f"{c}, scale {s:g}, ratio {r:g}": {
        a: _median(arm["shown"][a], c, (s, r)) for a in CALIBRATION_ARMS}
        for c in convs for s, r in used}


def _ratio(arm: Arm, conv: str, cell: Cell) -> float:
    main, floor = _median(arm["groups"], conv, cell), _median(arm["floor"], conv, cell)
    if main is None or floor is None or floor <= 0 or math.isinf(floor):
        return math.nan
    return main / floor


def decide(arm: Arm, conv: str, contrasts: Sequence[Contrast]) -> Judgement:
    """The rule of the module docstring on one convention's contrasts."""
    k, budget = len(contrasts), float(arm["budget"])
    level = 1 - ALPHA / k
    rows = []
    for c in contrasts:
        d = [float(v) for v in c.d.values()]
        effect, power = paired(d, MIN_STEPS, f"escape steps beyond the affine floor: "
                               f"{c.label}", budget, level=level)
        p = paired_sign_flip([v - MIN_STEPS for v in d])["p"] if len(d) > 1 else 1.0
        rows.append((c, effect, power, p))
    p_holm = holm([r[3] for r in rows])
    worst = min(range(k), key=lambda j: rows[j][1].low)
    c, effect = rows[worst][0], rows[worst][1]
    verdict, phrase = three_way(effect)
    ratio = _ratio(arm, conv, c.harder)
    if verdict == SUPPORTED and not ratio >= MIN_RATIO:
        verdict, phrase = NOT_SUPPORTED, (f"{phrase}, but the median is {ratio:.3g}× the "
                                          f"floor's: smaller than the minimum ratio")
    n = min(r[2].n for r in rows)
    min_p = holm_floor(sign_flip_floor(n), k)
    detect = max(r[2].detectable_effect for r in rows)
    why = [w for w in (f"{n} images: fewer than 3" if n < 3 else "",
                       f"{n} images, {k} contrasts: smallest Holm p {min_p:.3g} > {ALPHA:g}"
                       if min_p > ALPHA else "",
                       f"detectable effect {detect:.3g} steps exceeds the budget {budget:g}"
                       if detect > budget else "") if w]
    power = Power(n, min_p, detect, not why, "; ".join(why))
    details = [{"contrast": r[0].label, "images": r[2].n, "effect": r[1].to_json(),
                "p_sign_flip_holm": p_holm[j], "ratio_to_floor_median": _ratio(
                    arm, conv, r[0].harder)} for j, r in enumerate(rows)]
    reason = (f"{c.label}: {phrase} (median ratio to the floor {ratio:.3g}, Holm sign-flip "
              f"p {p_holm[worst]:.3g})")
    if why and verdict == INCONCLUSIVE:
        reason = f"underpowered: {power.why} ({reason})"
    return Judgement(verdict, reason,
                     {"contrasts": details}, power, effect)


def judge_family(arm: Arm, contrasts_of: Callable[[Arm, str], list[Contrast]]) -> Judgement:
    """:func:`decide` on every convention's contrasts; the :data:`PRIMARY` convention's
    judgement is the verdict, the others' verdicts and effects are shown in ``values``."""
    convs = sorted({g["convention"] for g in arm["groups"]}, key=lambda c: (c != PRIMARY, c))
    judged = {c: (decide(arm, c, cs), cs) for c in convs if (cs := contrasts_of(arm, c))}
    if PRIMARY not in judged:
        return Judgement(NOT_SUPPORTED, "no run of the normalised convention", {})
    main, used = judged[PRIMARY]
    values = {"arm": arm["name"], "convention": PRIMARY,
              "verdict_per_convention": {c: j.verdict for c, (j, _) in judged.items()},
              "details": {c: j.values["contrasts"] for c, (j, _) in judged.items()},
              "calibration": calibration(arm, sorted({x for c in used for x in c.cells}))}
    others = "; ".join(f"{c}: {j.verdict}" for c, (j, _) in judged.items() if c != PRIMARY)
    return Judgement(main.verdict, f"{main.reason} [decided on {PRIMARY} steps" +
                     (f"; {others}]" if others else "]"), values, main.power, main.effect)
