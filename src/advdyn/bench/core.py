"""What every case of ``advdyn bench`` shares: the sizes, the report row, the peers' contenders,
medians and ratios, and the floors built from the kernels a step must run.

All runs are float32 on the CPU (cases 6 and 7 on ``--device``), with the threads torch
chooses (``--threads`` to change).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import partial
from typing import Any

import torch

from advdyn.bench.peers import PEERS, AttackSetup, Peer, PeerRun
from advdyn.bench.timing import median, spread

DTYPE = torch.float32


@dataclass(frozen=True)
class BenchSizes:
    """Every size of the bench (defaults: the full bench; :data:`QUICK` is a short run).

    ``record_fresh_processes``: measure case 5's peak memory in a fresh process per run (the
    default: no run reuses another's freed heap) or in this process (fast, for tests).
    ``ensemble_size``: the models of case 7 (case 6's images, batch, steps and repetitions).
    ``device``: where cases 6 and 7 (adversarial training) run; the other cases time CPU work
    against CPU floors and stay on the CPU."""

    reps: int = 5
    twolayer_dim: int = 784
    twolayer_width: int = 4096
    twolayer_batch: int = 256
    twolayer_steps: int = 50
    cnn_arch: str = "small"
    cnn_batch: int = 256
    cnn_steps: int = 40
    fig1_starts: int = 64
    fig1_steps: int = 2000
    fig1_reps: int = 3
    census_dim: int = 10
    census_width: int = 4000
    census_starts: int = 256
    census_reps: int = 3
    record_steps: int = 20
    record_chunk_bytes: int = 8 << 20
    record_fresh_processes: bool = True
    advtrain_images: int = 1024
    advtrain_batch: int = 128
    advtrain_steps: int = 10
    advtrain_reps: int = 3
    ensemble_size: int = 8
    seed: int = 0
    device: str = "cpu"


# Short run: fewer steps, images and repetitions, never smaller batches, so every per-step and
# per-batch cost is the full run's; one untimed warm-up round per case absorbs one-off costs
# (first calls, allocator growth) in both.
QUICK = BenchSizes(reps=3, twolayer_steps=10, cnn_steps=8, fig1_steps=400, fig1_reps=2,
                   census_starts=128, census_reps=2, record_steps=8, advtrain_images=256,
                   advtrain_reps=2)


@dataclass
class CaseResult:
    """One row of the bench. Times are medians in ``unit``; ``peers`` maps a peer's name to
    ``{"attack", "time", "ratio"}`` (``ratio`` = ours ÷ theirs) or ``{"skipped": note}``;
    ``baselines`` maps the name of a further baseline of ours to ours ÷ it, written to JSON as
    ``ratio_to_<name>`` (case 7: ``ratio_to_sequential``)."""

    case: str
    title: str
    unit: str
    ours: float
    floor: float
    floor_kind: str
    target: str
    met: bool
    peers: dict[str, dict[str, Any]] = field(default_factory=dict)
    spread: dict[str, float | None] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    baselines: dict[str, float] = field(default_factory=dict)

    @property
    def ratio_to_floor(self) -> float:
        return self.ours / self.floor

    @property
    def best_peer(self) -> str | None:
        timed = {k: v["time"] for k, v in self.peers.items() if "time" in v}
        return min(timed, key=timed.__getitem__) if timed else None

    @property
    def ratio_to_best_peer(self) -> float | None:
        best = self.best_peer
        return None if best is None else self.ours / self.peers[best]["time"]

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out.update({f"ratio_to_{name}": ratio for name, ratio in out.pop("baselines").items()})
        out.update(ratio_to_floor=self.ratio_to_floor, best_peer=self.best_peer,
                   ratio_to_best_peer=self.ratio_to_best_peer)
        return out


def generator(seed: int) -> torch.Generator:
    """A CPU generator seeded with ``seed``."""
    return torch.Generator().manual_seed(seed)


def synchronised(fn: Callable[[], object], device: str) -> Callable[[], object]:
    """``fn``, then a wait for the kernels it queued on ``device`` (CUDA runs asynchronously,
    so a timing must include them); ``fn`` itself on the CPU."""
    if torch.device(device).type != "cuda":
        return fn

    def run() -> object:
        out = fn()
        torch.cuda.synchronize(device)
        return out

    return run


def usable_peers(peers: tuple[Peer, ...] = PEERS) -> tuple[list[Peer], dict[str, dict[str, Any]]]:
    """The peers that import, and a skip note (how to install) for each of the others."""
    notes: dict[str, dict[str, Any]] = {}
    usable: list[Peer] = []
    for peer in peers:
        note = peer.missing()
        if note is None:
            usable.append(peer)
        else:
            notes[peer.name] = {"attack": peer.attack, "skipped": note}
    return usable, notes


def _run_all(runs: list[PeerRun]) -> list[torch.Tensor]:
    """Run each prepared attack once, in order."""
    return [r() for r in runs]


def with_peers(contenders: dict[str, Callable[[], object]],
               setups: Callable[[], list[AttackSetup]]) -> dict[str, dict[str, Any]]:
    """Add one contender per usable peer (running every setup in turn); the skip notes of the
    others. ``setups`` is only called when some peer is usable."""
    usable, notes = usable_peers()
    if usable:
        built = setups()
        for peer in usable:
            runs = [peer.prepare(s) for s in built]
            contenders[peer.name] = partial(_run_all, runs)
    return notes


def summarise(times: dict[str, list[float]], per: float, peer_notes: dict[str, dict[str, Any]]
              ) -> tuple[float, float, dict[str, dict[str, Any]], dict[str, float | None]]:
    """Medians divided by ``per`` (ours, floor, peers) and the spread of every contender."""
    med = {k: median(v) / per for k, v in times.items()}
    peers = dict(peer_notes)
    for peer in PEERS:
        if peer.name in med:
            peers[peer.name] = {"attack": peer.attack, "time": med[peer.name],
                                "ratio": med["ours"] / med[peer.name]}
    return med["ours"], med["floor"], peers, {k: spread(v) for k, v in times.items()}


def best_peer_ratio(peers: dict[str, dict[str, Any]]) -> float | None:
    """Ours ÷ the fastest peer (the largest ours ÷ peer ratio; ``None`` when no peer ran), the
    same figure as :attr:`CaseResult.ratio_to_best_peer`."""
    return max((p["ratio"] for p in peers.values() if "ratio" in p), default=None)


def step_floors(z: torch.Tensor, s: torch.Tensor, W: torch.Tensor, steps: int,
                passes: tuple[Callable[[torch.Tensor], torch.Tensor], ...] = ()
                ) -> dict[str, Callable[[], object]]:
    """``steps`` times what a two-layer step must compute: the GEMMs ``H = Z Wᵀ`` and ``S W``
    and one elementwise pass over ``H`` per transcendental in ``passes`` (in place, as ours).
    Once with ``W`` as stored (m, d) and once with ``Wᵀ`` stored (d, m): BLAS speed depends on
    the layout, and the floor is the faster of the two (:func:`best_floor`)."""
    w_t = W.T.contiguous()

    def run(w_fwd: torch.Tensor, w_bwd: torch.Tensor) -> None:
        for _ in range(steps):
            h = torch.mm(z, w_fwd)
            for p in passes:
                p(h)
            torch.mm(s, w_bwd)

    return {"floor_w": lambda: run(W.T, W), "floor_wt": lambda: run(w_t, w_t.T)}


def best_floor(times: dict[str, list[float]]) -> dict[str, list[float]]:
    """Keep, as ``floor``, the floor variant with the smaller median."""
    variants = {k: times.pop(k) for k in [k for k in times if k.startswith("floor_")]}
    times["floor"] = min(variants.values(), key=median)
    return times
