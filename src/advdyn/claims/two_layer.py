"""Every claim on the two-layer model, in register order (declared in :mod:`advdyn.claims.lemmas`,
:mod:`advdyn.claims.theorems`, :mod:`advdyn.claims.scale` and
:mod:`advdyn.claims.escape_phase`, split to stay short)."""

from __future__ import annotations

from advdyn.claims.core import Claim
from advdyn.claims.escape_phase import CLAIMS as ESCAPE
from advdyn.claims.lemmas import CLAIMS as LEMMAS
from advdyn.claims.scale import CLAIMS as SCALE
from advdyn.claims.theorems import CLAIMS as THEOREMS

CLAIMS: tuple[Claim, ...] = LEMMAS + THEOREMS + SCALE + ESCAPE
