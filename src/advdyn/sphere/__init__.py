"""The landscape of L on the sphere εS^{D-1}: λ*, Γ, Ξ, Riemannian Hessian, classification.

The census of critical points is :func:`advdyn.sphere.census.census` (the submodule keeps the
name ``census``; :func:`scan_circle` and the result types are re-exported here)."""

from advdyn.sphere.census import Census, CriticalPoint, scan_circle
from advdyn.sphere.diagnose import (
    TYPES,
    SphereDiagnosis,
    classify,
    diagnose,
    lagrangian_hessian,
    riemannian_hessian,
)

__all__ = ["TYPES", "Census", "CriticalPoint", "SphereDiagnosis", "classify",
           "diagnose", "lagrangian_hessian", "riemannian_hessian", "scan_circle"]
