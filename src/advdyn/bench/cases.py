r"""The seven cases of ``advdyn bench``: what each one times, against which floor and which peers.

Every case builds its contenders (ours, a floor, the peers that apply), times them interleaved
(:func:`advdyn.bench.timing.interleaved`) and reports medians and ratios of medians (ours ÷
other; below 1 is faster). All runs are float32 on the CPU (the census float64; cases 6 and 7
on ``--device``), with the threads torch chooses.

1. ``twolayer`` — compute bound (:mod:`advdyn.bench.twolayer_cases`): d = 784, m = 4096,
   batch 256. Floor: the two GEMMs of one step.
2. ``cnn`` — the MNIST CNN, batch 256 (:mod:`advdyn.bench.cnn_cases`). Floor: one NCHW eager
   forward + backward to the input.
3. ``fig1`` — Figure 1's workload, 576 small problems × 2,000 steps in one batch; a peer runs
   one call per panel. Floor: the GEMMs and the elementwise passes the step's rule needs.
4. ``census`` — the census of one two-layer problem (d = 10, m = 4000): time against the sum of
   the per-row floors of the work it did.
5. ``record`` — recording every step on case 2's problem, against the same run unrecorded;
   peak memory at ``T`` and ``4T`` steps.
6. ``advtrain`` — one Madry PGD-10 adversarial-training epoch on the small CNN against the same
   loop with torchattacks ``PGDL2`` and against its floor.
7. ``ensemble`` — one such epoch of 8 small CNNs trained as one grouped ensemble
   (:func:`advdyn.train.fit_ensemble`) against the 8 trainings one after the other
   (``ratio_to_sequential``), against 8 torchattacks loops and against 8 times case 6's floor.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

import torch

from advdyn.bench.cnn_cases import case_advtrain, case_cnn, case_ensemble, case_record
from advdyn.bench.core import QUICK, BenchSizes, CaseResult
from advdyn.bench.peers import PEERS
from advdyn.bench.twolayer_cases import case_census, case_fig1, case_twolayer
from advdyn.machine import cpu_model

CASES: dict[str, Callable[[BenchSizes], CaseResult]] = {
    "1": case_twolayer, "2": case_cnn, "3": case_fig1, "4": case_census, "5": case_record,
    "6": case_advtrain, "7": case_ensemble}

__all__ = ["CASES", "QUICK", "BenchSizes", "CaseResult", "machine", "run_bench"]


def machine() -> dict[str, Any]:
    """What the figures were measured on (the load average is read when called)."""
    versions: dict[str, str] = {"torch": torch.__version__}
    for peer in PEERS:
        if peer.missing() is None:
            dist = {"art": "adversarial-robustness-toolbox"}.get(peer.name, peer.name)
            versions[peer.name] = importlib.metadata.version(dist)
    return {"cpu": cpu_model(), "cores": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "python": platform.python_version(), "versions": versions,
            "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None}


def run_bench(sz: BenchSizes, cases: list[str] | None = None,
              progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Run the chosen cases (default all) and return the JSON report; every row's ``details``
    carry the load average (1 min) before and after the case."""
    chosen = list(CASES) if cases is None else cases
    results = []
    for key in chosen:
        if progress is not None:
            progress(f"case {key} ...")
        before = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
        row = CASES[key](sz)
        row.details["load_average_1min"] = [before, os.getloadavg()[0] if before else None]
        results.append(row.to_json())
    return {"machine": machine(), "sizes": asdict(sz), "cases": results,
            "all_met": all(r["met"] for r in results)}
