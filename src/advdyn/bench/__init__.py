"""``advdyn bench``: our PGD side by side with torchattacks, Foolbox and ART, and against the
hardware floor (see :mod:`advdyn.bench.cases` for what each case measures)."""

from advdyn.bench.cases import CASES, QUICK, BenchSizes, CaseResult, run_bench
from advdyn.bench.peers import PEERS, AttackSetup, Peer

__all__ = ["CASES", "PEERS", "QUICK", "AttackSetup", "BenchSizes", "CaseResult", "Peer",
           "run_bench"]
