"""Every claim on the two-layer model, in register order (declared in :mod:`advdyn.claims.lemmas`,
:mod:`advdyn.claims.theorems` and :mod:`advdyn.claims.scale`, split to stay short)."""

from __future__ import annotations

from advdyn.claims.core import Claim
from advdyn.claims.lemmas import CLAIMS as LEMMAS
from advdyn.claims.scale import CLAIMS as SCALE
from advdyn.claims.theorems import CLAIMS as THEOREMS

CLAIMS: tuple[Claim, ...] = LEMMAS + THEOREMS + SCALE
