"""The claims vocabulary, the declaration of a claim, power and three-way decisions, and a
claim's record in ``claims.json``.

**Three-way decisions** (docs/claims/index.md). Before any run a claim states a minimum effect
``Δ_min`` in its own units (:attr:`Claim.min_effect`). A judge estimates the effect with an interval
``I = [lo, hi]`` (oriented so that the claimed direction is *larger*) and decides with
:func:`three_way`: *supported* when ``lo > Δ_min``; *not supported* when ``hi < Δ_min`` (the
effect is smaller than the minimum, or reversed when ``hi < 0 ≤ Δ_min``: the reason says which;
a minimum ``Δ_min < 0`` is a floor, with no reversed side); *inconclusive* when ``I`` straddles
``Δ_min``. A claim read in several cells decides with :func:`three_way_cells`: every cell
supported → supported; every cell not supported → not supported; where the rule allows
"partly", some cells supported and every other not supported → partly supported (without it:
any cell not supported → not supported); otherwise inconclusive. A claim that some cell holds
("there exists φ") decides with :func:`three_way_any`: some cell supported → supported; every
cell not supported → not supported; otherwise inconclusive.

**Power.** Each judgement carries a :class:`Power`: the size it ran at, the smallest p its test
can reach there, the smallest effect it could detect, and whether the rule could have said
"supported" at all. :meth:`Claim.evaluate` turns a *supported* or *not supported* verdict of an
arm whose power is not adequate into *inconclusive* with the reason ``"underpowered: …"``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from advdyn.errors import check_choice, fail

SUPPORTED = "supported"
PARTLY = "partly supported"
NOT_SUPPORTED = "not supported"
INCONCLUSIVE = "inconclusive"
OUTSIDE = "outside the regime"
#: The one vocabulary of verdicts, used from the judges to the report.
VERDICTS = (SUPPORTED, PARTLY, NOT_SUPPORTED, INCONCLUSIVE, OUTSIDE)
#: The characters a claim id may hold (ids are typed after ``advdyn check``).
ID_PATTERN = re.compile(r"[A-Za-z0-9._-]+")

Arm = Mapping[str, Any]
"""The data of one arm of an experiment as a mapping (the common form; a judge may instead read
a list of rows, so :attr:`Claim.judge` takes any arm)."""


@dataclass(frozen=True)
class Power:
    """What the rule could have shown at the size it ran.

    - ``n``: the number of independent units the test ran on (images, seeds, networks, …; the
      claim's ``measurement`` says which);
    - ``min_p``: the smallest p-value the test can reach at this ``n`` (after any Holm
      correction inside the claim); 0 where the decision uses no p-value;
    - ``detectable_effect``: the smallest effect (the claim's units) the rule could call
      supported at this ``n`` (exact, or simulated under the claim's own test);
    - ``adequate``: whether the rule could have said "supported" at this size;
    - ``why``: when not adequate, why (e.g. ``"6 pairs: smallest one-sided p 1/64 > α/3"``)."""

    n: int
    min_p: float
    detectable_effect: float
    adequate: bool
    why: str = ""

    def to_json(self) -> dict[str, Any]:
        """The ``power`` field of a ``claims.json`` row."""
        return asdict(self)


@dataclass(frozen=True)
class Effect:
    """An effect estimate with its interval, in the claim's units, oriented so that the
    claimed direction is larger (``estimate``, ``low``, ``high``), against the stated minimum
    ``min_effect``; ``level`` is the interval's coverage (e.g. 0.95), ``units`` what it counts."""

    estimate: float
    low: float
    high: float
    min_effect: float
    units: str
    level: float = 0.95

    def __post_init__(self) -> None:
        if not self.low <= self.high:
            raise fail("effect.low", f"{self.low} exceeds high {self.high}",
                       "give the interval's ends in order")

    def to_json(self) -> dict[str, Any]:
        """The ``effect`` field of a ``claims.json`` row."""
        return asdict(self)


def three_way(effect: Effect) -> tuple[str, str]:
    """The three-way decision of the interval against the minimum effect (module docstring):
    ``(verdict, phrase)``, the phrase giving the interval, the minimum and, for "not supported",
    whether the effect is smaller than the minimum or reversed."""
    e = effect
    text = (f"{e.units} {e.estimate:.4g} ({100 * e.level:g}% interval [{e.low:.4g}, "
            f"{e.high:.4g}]) against a minimum effect of {e.min_effect:.4g}")
    if e.low > e.min_effect:
        return SUPPORTED, f"{text}: beyond it"
    if e.high < e.min_effect:
        how = "reversed" if e.high < 0 <= e.min_effect else "smaller than the minimum"
        return NOT_SUPPORTED, f"{text}: {how}"
    return INCONCLUSIVE, f"{text}: the interval straddles it"


def three_way_cells(effects: Mapping[str, Effect], *, partly: bool) -> tuple[str, str, Effect]:
    """The decision over a claim's cells (module docstring): ``(verdict, phrase, deciding
    effect)``, the deciding effect being the weakest cell's (not supported before inconclusive
    before supported; then the lowest ``low − min_effect``), the phrase every cell's."""
    if not effects:
        raise fail("effects", "no cell to decide", "give at least one cell's effect")
    seen = {k: three_way(e) for k, e in effects.items()}
    verdicts = [v for v, _ in seen.values()]
    rank = {NOT_SUPPORTED: 0, INCONCLUSIVE: 1, SUPPORTED: 2}
    weakest = min(effects, key=lambda k: (rank[seen[k][0]],
                                          effects[k].low - effects[k].min_effect))
    passed, failed = verdicts.count(SUPPORTED), verdicts.count(NOT_SUPPORTED)
    if passed == len(verdicts):
        verdict = SUPPORTED
    elif failed == len(verdicts) or (failed and not partly):
        verdict = NOT_SUPPORTED
    elif partly and passed and passed + failed == len(verdicts):
        verdict = PARTLY
    else:
        verdict = INCONCLUSIVE
    phrase = "; ".join(f"{k}: {p}" for k, (_, p) in seen.items())
    return verdict, phrase, effects[weakest]


def three_way_any(effects: Mapping[str, Effect]) -> tuple[str, str, Effect]:
    """The decision of an existence claim over its cells (module docstring): ``(verdict,
    phrase, deciding effect)``, the deciding effect being the strongest cell's (the highest
    ``low − min_effect``), the phrase every cell's."""
    if not effects:
        raise fail("effects", "no cell to decide", "give at least one cell's effect")
    seen = {k: three_way(e) for k, e in effects.items()}
    verdicts = [v for v, _ in seen.values()]
    best = max(effects, key=lambda k: effects[k].low - effects[k].min_effect)
    verdict = (SUPPORTED if SUPPORTED in verdicts
               else NOT_SUPPORTED if set(verdicts) == {NOT_SUPPORTED} else INCONCLUSIVE)
    return verdict, "; ".join(f"{k}: {p}" for k, (_, p) in seen.items()), effects[best]


@dataclass(frozen=True)
class Judgement:
    """What a judge says of one arm: a verdict of :data:`VERDICTS`, one sentence giving the
    numbers that decided it, those numbers (JSON data), the rule's :class:`Power` at this size
    and, where the rule estimates one, the :class:`Effect` with its interval."""

    verdict: str
    reason: str
    values: Mapping[str, Any] = field(default_factory=dict)
    power: Power | None = None
    effect: Effect | None = None

    def __post_init__(self) -> None:
        check_choice("judgement.verdict", self.verdict, VERDICTS)

    def powered(self) -> Judgement:
        """This judgement with an underpowered verdict made "inconclusive (underpowered: …)": a
        rule that could not have said "supported" at this size cannot say "not supported"
        either, and an inconclusive verdict says that the size, not the data, left it open.
        An inconclusive judgement that states no power (the rule found no data it could use)
        gets ``n = 0`` and ``adequate = False``."""
        p = self.power
        if p is None and self.verdict == INCONCLUSIVE:  # the rule had no data it could use
            return Judgement(INCONCLUSIVE, self.reason, self.values,
                             Power(0, 1.0, math.inf, False, f"no usable data: {self.reason}"),
                             self.effect)
        if (p is None or p.adequate or self.reason.startswith("underpowered")
                or self.verdict not in (SUPPORTED, NOT_SUPPORTED, PARTLY, INCONCLUSIVE)):
            return self
        return Judgement(INCONCLUSIVE, f"underpowered: {p.why or 'the rule could not pass'} "
                                       f"(it read: {self.verdict}; {self.reason})",
                         self.values, p, self.effect)

    def to_json(self) -> dict[str, Any]:
        """The judgement's fields of a ``claims.json`` row (``power`` and ``effect`` are
        ``None`` where the rule has none)."""
        return {"verdict": self.verdict, "reason": self.reason, "values": dict(self.values),
                "power": self.power.to_json() if self.power else None,
                "effect": self.effect.to_json() if self.effect else None}


@dataclass(frozen=True)
class ClaimRecord:
    """One row of ``claims.json``: the declaration, the numbers, the verdict of the main arm with
    its power and effect, and the verdict of the negative control under the same rule
    (``control["as_expected"]``: the control was judged "not supported", as it must be)."""

    id: str
    label: str
    section: str
    quote: str
    measurement: str
    rule: str
    min_effect: str
    verdict: str
    reason: str
    values: Mapping[str, Any]
    regime: str
    control: Mapping[str, Any]
    power: Mapping[str, Any] | None = None
    effect: Mapping[str, Any] | None = None

    @property
    def place(self) -> str:
        """Where the paper says it, as the report shows it: the paper's label (where it differs
        from the id) and the section, e.g. ``"Fig. 1; Figure 1 caption"``."""
        label = self.label if self.label != self.id else ""
        return "; ".join(part for part in (label, self.section) if part)

    def to_json(self) -> dict[str, Any]:
        """The record as JSON data (the ``claims.json`` schema)."""
        return {"id": self.id, "label": self.label, "section": self.section,
                "quote": self.quote, "measurement": self.measurement,
                "values": dict(self.values), "rule": self.rule, "min_effect": self.min_effect,
                "verdict": self.verdict, "reason": self.reason,
                "power": None if self.power is None else dict(self.power),
                "effect": None if self.effect is None else dict(self.effect),
                "regime": self.regime, "control": dict(self.control)}


def main_and_control(result: Mapping[str, Any]) -> tuple[Any, Any]:
    """The two arms of a result that keeps them as ``result["arms"]["main"]`` and
    ``result["arms"]["control"]`` (the two-layer claim experiments): a ready ``Claim.arms``."""
    return result["arms"]["main"], result["arms"]["control"]


@dataclass(frozen=True)
class Claim:
    """A claim of the paper, declared once.

    - ``id``: the register's id, ``[A-Za-z0-9._-]`` only (typed after ``advdyn check``), e.g.
      ``"L4.1"``, ``"fig2a"``, ``"s5.1-escape"``.
    - ``label``: the paper's own label, shown in the report (``"§5.1 (escape)"``); the id
      where empty.
    - ``section``: where the paper says it (``"Lemma 4.1"``, ``"§5.1.1"``, ``"Fig. 2 caption"``).
    - ``quote``: the paper's sentence (or its content, marked as such).
    - ``measurement``: what is measured, in one or two sentences.
    - ``rule``: the decision rule, fixed before any run, in words (thresholds, tests,
      multiple-comparison correction).
    - ``min_effect``: the minimum effect, stated before any run in the claim's units (the
      three-way decision's ``Δ_min``).
    - ``control``: the negative control: what differs in the control arm (an arm that keeps the
      measurement's artifacts but lacks the claimed mechanism), and why the rule must say
      :data:`NOT_SUPPORTED` there.
    - ``experiment``: the name of the registered experiment whose result holds both arms.
    - ``arms(result) -> (main, control)``: picks the two arms out of the experiment's result
      (each in the form its judge reads: a mapping, or a list of rows).
    - ``judge(arm) -> Judgement``: the rule applied to one arm; the same function judges both.
    - ``regime(result) -> str``: whether the run is inside the paper's stated regime (a
      sentence); ``None`` when the paper states none.
    """

    id: str
    section: str
    quote: str
    measurement: str
    rule: str
    control: str
    experiment: str
    arms: Callable[[Mapping[str, Any]], tuple[Any, Any]]
    judge: Callable[[Any], Judgement]
    regime: Callable[[Mapping[str, Any]], str] | None = None
    min_effect: str = ""
    label: str = ""

    def __post_init__(self) -> None:
        if not ID_PATTERN.fullmatch(self.id or ""):
            raise fail("claim id", f"{self.id!r} holds characters outside [A-Za-z0-9._-]",
                       "give the claim a typable id and put the paper's label in `label`")
        for name in ("section", "quote", "measurement", "rule", "control", "experiment"):
            if not str(getattr(self, name)).strip():
                raise fail(f"claim {self.id}: {name}", "is empty", "every claim states it")

    def evaluate(self, result: Mapping[str, Any]) -> ClaimRecord:
        """Judge both arms of ``result`` with the same rule.

        Each arm's decisive verdict at a size where the rule could not have passed becomes
        "inconclusive (underpowered)" (:meth:`Judgement.powered`). A rule that does not reject
        its own negative control cannot tell the claim from its absence: the main verdict is
        then :data:`INCONCLUSIVE`, and the reason says so."""
        main, control = self.arms(result)
        seen, ctrl = self.judge(main).powered(), self.judge(control).powered()
        verdict, reason = seen.verdict, seen.reason
        if ctrl.verdict != NOT_SUPPORTED:
            verdict = INCONCLUSIVE
            reason = (f"{reason} — but the same rule said {ctrl.verdict!r} on the negative "
                      "control, so it does not discriminate")
        regime = self.regime(result) if self.regime is not None else "no regime stated"
        main_json, ctrl_json = seen.to_json(), ctrl.to_json()
        return ClaimRecord(
            id=self.id, label=self.label or self.id, section=self.section, quote=self.quote,
            measurement=self.measurement, rule=self.rule, min_effect=self.min_effect,
            verdict=verdict, reason=reason, values=main_json["values"], regime=regime,
            power=main_json["power"], effect=main_json["effect"],
            control={"description": self.control, "as_expected": ctrl.verdict == NOT_SUPPORTED,
                     **{k: ctrl_json[k] for k in ("verdict", "reason", "values", "power",
                                                  "effect")}})
