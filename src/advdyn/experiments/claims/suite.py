"""Every claim of SPEC §4 as one experiment for the job runner: one job per claim.

Each job is the claim module's own ``compute`` (its defaults, or its ``QUICK`` overrides in
``quick`` mode); the summary turns each verdict record into a row of the report's claims table
and draws each claim's figure (:mod:`advdyn.plots.claims`).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from advdyn.errors import fail
from advdyn.experiments.claims import CLAIMS
from advdyn.report.data import Claim, Figure, Outcome, Table
from advdyn.runner import Experiment, Job, JobResult

CAPTIONS = {
    "L4.1": "Decrease of L per PGD step inside the open ball, relative to η, for shrinking η. "
            "Look for: every step decreasing L, and the decrease scaling like η (flat ratio).",
    "L4.3": "Tangent-gradient norm ‖Γ‖ against the bound sqrt(1-β²)‖∇f‖·L away from critical "
            "points. Look for: points on or above the diagonal.",
    "L4.4": "Critical points on the sphere by the sign of ⟨-∇L, δ⟩ and the type from the tangent "
            "Hessian, and the saddle count as ε grows. Look for: no saddles at small ε.",
    "L4.5": "Condition (6) per setting and whether PGD trajectories entered Δ⁻_η (near maxima "
            "of L). Look for: zero entries wherever (6) holds.",
    "T3.1": "Iterations to reach a sphere point near a local minimum, and the final distance, "
            "against η (log-log). Look for: slopes no steeper than -2 and 1/2.",
    "C3.1": "D_s = ‖δ_s - δ*‖² under the shrinking schedule η_s = 2/(β(s+z)) against z+s "
            "(log-log). Look for: a slope of -1 or steeper.",
    "T5.1": "Number of local minima on the sphere as ε grows, per problem. Look for: exactly "
            "one minimum below a threshold τ_ε.",
}


@dataclass(frozen=True)
class ClaimsConfig:
    """``claims``: which claims to run (ids of SPEC §4); ``quick``: each claim's quick setting."""

    claims: tuple[str, ...] = tuple(CLAIMS)
    quick: bool = False

    def __post_init__(self) -> None:
        unknown = [c for c in self.claims if c not in CLAIMS]
        if unknown or not self.claims:
            raise fail("claims", f"unknown or empty claim list {list(self.claims)}",
                       "choose from " + ", ".join(CLAIMS))


def jobs(config: ClaimsConfig) -> list[Job]:
    """One job per claim: ``<claim module>:compute`` with its quick overrides if asked."""
    out = []
    for cid in config.claims:
        module = importlib.import_module(CLAIMS[cid])
        params = dict(module.QUICK) if config.quick else {}
        out.append(Job(f"{CLAIMS[cid]}:compute", params))
    return out


def _measurement(record: dict[str, Any]) -> str:
    return record["reason"]


def summarize(config: ClaimsConfig, results: list[JobResult], folder: Path) -> Outcome:
    """Claims table (verdict per claim, in-regime note), one figure per claim, one table."""
    from advdyn.plots.claims import claim_figure, save_figure

    claims, figures, rows = [], [], []
    for r in results:
        res = r.value
        record = res["verdict"]
        cid = res["claim"]
        regime = {True: "inside", False: "outside", None: "not applicable"}[record["in_regime"]]
        claims.append(Claim(id=cid, claim=record["statement"], measurement=_measurement(record),
                            verdict=record["report_verdict"],
                            note=f"paper's regime ({record['paper_scale']}): {regime}; "
                                 f"{record['regime_note']}"))
        base = folder / cid.replace(".", "")
        save_figure(claim_figure(res), base)
        figures.append(Figure(path=Path(f"{base}.png"), caption=CAPTIONS[cid], title=cid))
        rows.append([cid, record["verdict"], regime, round(r.elapsed_s, 1)])
    table = Table(title="Claims: verdict of this run", rows=rows,
                  columns=["claim", "verdict", "paper's regime", "compute (s)"])
    return Outcome(text="Each claim of the paper measured on two-layer networks at Xavier "
                        "initialisation (binary cross-entropy, label 0, unless a claim says "
                        "otherwise); `advdyn check CLAIM` reruns one with its flags.",
                   claims=claims, figures=figures, tables=[table])


def _row(result: JobResult) -> dict[str, Any]:
    record = result.value["verdict"]
    return {"claim": result.value["claim"], "verdict": record["verdict"],
            "in_regime": record["in_regime"]}


EXPERIMENT = Experiment(
    name="claims", title="The paper's claims, measured", config=ClaimsConfig, jobs=jobs,
    summarize=summarize, quick={"quick": True}, row=_row,
    description="Lemmas 4.1, 4.3, 4.4, 4.5, Theorem 3.1, Corollary 3.1 and Theorem 5.1 "
                "(SPEC §4), each as a measurement with a verdict: supported (held), not "
                "supported (did not hold) or inconclusive (not testable here).")
