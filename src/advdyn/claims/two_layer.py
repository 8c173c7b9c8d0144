"""Every claim on the two-layer model, in register order (declared in :mod:`advdyn.claims.lemmas`,
:mod:`advdyn.claims.for_every`, :mod:`advdyn.claims.theorems`, :mod:`advdyn.claims.scale` and
:mod:`advdyn.claims.escape_phase`, split to stay short)."""

from __future__ import annotations

from advdyn.claims.core import Claim
from advdyn.claims.escape_phase import CLAIMS as ESCAPE
from advdyn.claims.for_every import L42, L42_LITERAL, L43_LITERAL, L44, L45
from advdyn.claims.lemmas import L41, L43
from advdyn.claims.scale import CLAIMS as SCALE
from advdyn.claims.theorems import CLAIMS as THEOREMS

LEMMAS: tuple[Claim, ...] = (L41, L42, L42_LITERAL, L43, L43_LITERAL, L44, L45)
CLAIMS: tuple[Claim, ...] = LEMMAS + THEOREMS + SCALE + ESCAPE
