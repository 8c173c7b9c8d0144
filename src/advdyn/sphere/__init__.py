"""The landscape of L on the sphere εS^{D-1}: λ*, Γ, Ξ, Riemannian Hessian, classification."""

from advdyn.sphere.diagnose import (
    TYPES,
    SphereDiagnosis,
    classify,
    diagnose,
    lagrangian_hessian,
    riemannian_hessian,
)

__all__ = ["TYPES", "SphereDiagnosis", "classify", "diagnose", "lagrangian_hessian",
           "riemannian_hessian"]
