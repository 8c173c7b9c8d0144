"""The landscape of L on the sphere εS^{D-1}: λ*, Γ, Ξ, Riemannian Hessian, classification.

The census of critical points is :func:`advdyn.sphere.census.census` (split by job into
``points``, ``scan``, ``descent``, ``multistart`` and ``saddles``; :func:`scan_circle`, the angle
rule :class:`ScanGrid` and the result types are re-exported here)."""

from advdyn.sphere.census import Census, CriticalPoint, ScanGrid, scan_circle
from advdyn.sphere.diagnose import (
    BOX_TYPES,
    TYPES,
    FeasibleDiagnosis,
    SphereDiagnosis,
    classify,
    diagnose,
    lagrangian_hessian,
    riemannian_hessian,
)
from advdyn.sphere.feasible import FeasibleStationarity, feasible_stationarity

__all__ = ["BOX_TYPES", "TYPES", "Census", "CriticalPoint", "FeasibleDiagnosis",
           "FeasibleStationarity", "ScanGrid", "SphereDiagnosis", "classify", "diagnose",
           "feasible_stationarity", "lagrangian_hessian", "riemannian_hessian", "scan_circle"]
