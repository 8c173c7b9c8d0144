"""advdyn — dynamics of first-order adversaries.

Batched projected gradient descent (PGD) on norm balls, the landscape of the adversarial loss on
the sphere ``εS^{d-1}``, and how input scale shapes both (Deng, He, Huang & Su, ICML 2020).

Sign convention: the attacker maximises the adversarial loss ``ℓ``; the library works with the
minimisation form ``L(δ) = -ℓ(y, f(x+δ))``. A local *minimum* of ``L`` is a good adversary, a
local *maximum* of ``L`` is where the attack is weakest.
"""

from advdyn.errors import AdvdynError

__version__ = "0.1.0"
__all__ = ["AdvdynError", "__version__"]
