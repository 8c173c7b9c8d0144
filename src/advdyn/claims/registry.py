"""The register of claims (docs/claims): every :class:`~advdyn.claims.core.Claim` the project
judges.

Each module listed in :data:`MODULES` exposes ``CLAIMS: tuple[Claim, ...]``. Ids are unique
across modules; the order here is the order of ``claims.json`` and of the report.
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Mapping
from typing import Any

from advdyn.claims.core import Claim, ClaimRecord
from advdyn.errors import fail

MODULES: list[str] = [
    "advdyn.claims.landscape",
    "advdyn.claims.two_layer",
    "advdyn.claims.real_network",
]


def all_claims() -> tuple[Claim, ...]:
    """Every registered claim, in register order; raises on a duplicated id."""
    out: list[Claim] = []
    for name in MODULES:
        out += list(importlib.import_module(name).CLAIMS)
    ids = [c.id for c in out]
    dup = sorted({i for i in ids if ids.count(i) > 1})
    if dup:
        raise fail("claims", f"duplicated claim ids {dup}", "give every claim its own id")
    return tuple(out)


#: The labels that were ids before ids became typable (``[A-Za-z0-9._-]``): accepted by
#: :func:`claim` for one release, each naming its new id.
OLD_IDS: dict[str, str] = {"Fig. 1": "fig1", "§5.1 (minima)": "s5.1-minima",
                           "§5.1 (escape)": "s5.1-escape"}


def claim(claim_id: str) -> Claim:
    """The registered claim with id ``claim_id`` (or one of the :data:`OLD_IDS`, with a
    ``FutureWarning`` naming its new id)."""
    found = {c.id: c for c in all_claims()}
    if claim_id in OLD_IDS:
        warnings.warn(f"claim id {claim_id!r} is the old id of {OLD_IDS[claim_id]!r}; it is "
                      "accepted until the next release", FutureWarning, stacklevel=2)
        claim_id = OLD_IDS[claim_id]
    if claim_id not in found:
        raise fail("claim", f"unknown claim {claim_id!r}", "choose one of " + ", ".join(found))
    return found[claim_id]


def claims_of(experiment: str) -> tuple[Claim, ...]:
    """The claims judged from the result of the experiment named ``experiment``."""
    return tuple(c for c in all_claims() if c.experiment == experiment)


def judge_results(results: Mapping[str, Mapping[str, Any]]) -> list[ClaimRecord]:
    """Every claim whose experiment is in ``results`` (experiment name → its result), judged."""
    return [c.evaluate(results[c.experiment]) for c in all_claims() if c.experiment in results]
