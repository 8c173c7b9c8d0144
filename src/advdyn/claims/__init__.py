"""The verdict layer: every claim the project judges, declared once, in one vocabulary.

A claim (:class:`Claim`) quotes the paper's sentence, says what is measured, states the rule
fixed before any run, and names a negative control: an arm of the same experiment (or, where no
physical arm exists, synthetic input to the judge in the tests) on which the same rule must say
:data:`NOT_SUPPORTED`. :meth:`Claim.evaluate` applies the judge to both arms of an experiment's
result and returns a :class:`ClaimRecord`, one row of ``claims.json``.

This layer reads experiment results (plain data); it runs nothing, draws nothing, writes nothing.
"""

from advdyn.claims.core import (
    INCONCLUSIVE,
    NOT_SUPPORTED,
    OUTSIDE,
    PARTLY,
    SUPPORTED,
    VERDICTS,
    Claim,
    ClaimRecord,
    Effect,
    Judgement,
    Power,
    three_way,
)
from advdyn.claims.registry import all_claims, claim, claims_of, judge_results

__all__ = ["INCONCLUSIVE", "NOT_SUPPORTED", "OUTSIDE", "PARTLY", "SUPPORTED", "VERDICTS", "Claim",
           "ClaimRecord", "Effect", "Judgement", "Power", "all_claims", "claim", "claims_of",
           "judge_results", "three_way"]
