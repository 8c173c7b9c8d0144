"""The claims vocabulary, the declaration of a claim, and its record in ``claims.json``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from advdyn.errors import check_choice, fail

SUPPORTED = "supported"
PARTLY = "partly supported"
NOT_SUPPORTED = "not supported"
INCONCLUSIVE = "inconclusive"
OUTSIDE = "outside the regime"
#: The one vocabulary of verdicts, used from the judges to the report.
VERDICTS = (SUPPORTED, PARTLY, NOT_SUPPORTED, INCONCLUSIVE, OUTSIDE)

Arm = Mapping[str, Any]
"""The data of one arm of an experiment as a mapping (the common form; a judge may instead read
a list of rows, so :attr:`Claim.judge` takes any arm)."""


@dataclass(frozen=True)
class Judgement:
    """What a judge says of one arm: a verdict of :data:`VERDICTS`, one sentence giving the
    numbers that decided it, and those numbers (JSON data)."""

    verdict: str
    reason: str
    values: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_choice("judgement.verdict", self.verdict, VERDICTS)


@dataclass(frozen=True)
class ClaimRecord:
    """One row of ``claims.json``: the declaration, the numbers, the verdict of the main arm and
    the verdict of the negative control under the same rule."""

    id: str
    section: str
    quote: str
    measurement: str
    rule: str
    verdict: str
    reason: str
    values: Mapping[str, Any]
    regime: str
    control: Mapping[str, Any]

    def to_json(self) -> dict[str, Any]:
        """The record as JSON data (the ``claims.json`` schema)."""
        return {"id": self.id, "section": self.section, "quote": self.quote,
                "measurement": self.measurement, "values": dict(self.values), "rule": self.rule,
                "verdict": self.verdict, "reason": self.reason, "regime": self.regime,
                "control": dict(self.control)}


def main_and_control(result: Mapping[str, Any]) -> tuple[Any, Any]:
    """The two arms of a result that keeps them as ``result["arms"]["main"]`` and
    ``result["arms"]["control"]`` (the two-layer claim experiments): a ready ``Claim.arms``."""
    return result["arms"]["main"], result["arms"]["control"]


@dataclass(frozen=True)
class Claim:
    """A claim of the paper, declared once.

    - ``id``: the register's id (SPEC §7), e.g. ``"L4.1"``, ``"fig2a"``.
    - ``section``: where the paper says it (``"Lemma 4.1"``, ``"§5.1.1"``, ``"Fig. 2 caption"``).
    - ``quote``: the paper's sentence (or its content, marked as such).
    - ``measurement``: what is measured, in one or two sentences.
    - ``rule``: the decision rule, fixed before any run, in words (thresholds, tests,
      multiple-comparison correction).
    - ``control``: the negative control: what differs in the control arm, and why the rule must
      say :data:`NOT_SUPPORTED` there.
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

    def __post_init__(self) -> None:
        for name in ("id", "section", "quote", "measurement", "rule", "control", "experiment"):
            if not str(getattr(self, name)).strip():
                raise fail(f"claim {self.id or '?'}: {name}", "is empty",
                           "every claim states it")

    def evaluate(self, result: Mapping[str, Any]) -> ClaimRecord:
        """Judge both arms of ``result`` with the same rule.

        A rule that does not reject its own negative control cannot tell the claim from its
        absence: the main verdict is then :data:`INCONCLUSIVE`, and the reason says so."""
        main, control = self.arms(result)
        seen, ctrl = self.judge(main), self.judge(control)
        verdict, reason = seen.verdict, seen.reason
        if ctrl.verdict != NOT_SUPPORTED:
            verdict = INCONCLUSIVE
            reason = (f"{reason} — but the same rule said {ctrl.verdict!r} on the negative "
                      "control, so it does not discriminate")
        regime = self.regime(result) if self.regime is not None else "no regime stated"
        return ClaimRecord(
            id=self.id, section=self.section, quote=self.quote, measurement=self.measurement,
            rule=self.rule, verdict=verdict, reason=reason, values=dict(seen.values),
            regime=regime,
            control={"description": self.control, "verdict": ctrl.verdict,
                     "reason": ctrl.reason, "values": dict(ctrl.values)})
