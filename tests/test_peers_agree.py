"""Our PGD gives the same iterates as torchattacks, Foolbox and ART (advertorch-style external
tests), each configured as in :mod:`advdyn.bench.peers`: normalised L2 steps from δ₀ = 0, the
same ε, α and steps, no restarts, the data box matched by our ``box=``. A peer that is not
installed is skipped."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from advdyn.bench.peers import PEERS, AttackSetup, Peer, freeze
from advdyn.bench.twolayer_cases import fold_into_box
from advdyn.losses import BinaryCrossEntropy, CrossEntropy
from advdyn.models import ModuleObjective, TwoLayerNet, TwoLayerObjective
from advdyn.pgd import run_pgd

F32 = torch.float32  # every peer runs float32 (ART always does)
ATOL = 2e-6  # float32: a few ulp of inputs in [0, 1] after 12 steps
STEPS = 12


def _usable(peer: Peer) -> Peer:
    note = peer.missing()
    if note is not None:
        pytest.skip(note)
    return peer


def _mlp() -> nn.Module:
    return nn.Sequential(nn.Flatten(), nn.Linear(36, 24), nn.ReLU(), nn.Linear(24, 5))


def _cnn() -> nn.Module:
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.Softplus(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(4 * 3 * 3, 5))


def _setup(make: type, box_active: bool) -> AttackSetup:
    g = torch.Generator().manual_seed(3)
    torch.manual_seed(3)
    model = freeze(make().float())
    x = torch.rand(6, 1, 6, 6, generator=g, dtype=F32)
    if not box_active:
        x = 0.3 + 0.4 * x  # the ball of radius 0.1 never leaves [0, 1]
    eps = 1.0 if box_active else 0.1
    return AttackSetup(model, x, torch.randint(0, 5, (6,), generator=g), eps, eps / 4, STEPS)


def _ours(s: AttackSetup) -> torch.Tensor:
    objective = ModuleObjective(s.model, CrossEntropy, s.x, s.y)
    res = run_pgd(objective, s.eps, s.alpha, s.steps, rule="normalized", start="zero",
                  box=s.box)
    return s.x + res.delta


@pytest.mark.parametrize("peer", PEERS, ids=[p.name for p in PEERS])
@pytest.mark.parametrize("make", [_mlp, _cnn], ids=["mlp", "cnn"])
def test_same_iterates_box_inactive(peer: Peer, make: type) -> None:
    s = _setup(make, box_active=False)
    theirs = _usable(peer).prepare(s)()
    ours = _ours(s)
    assert torch.linalg.vector_norm((ours - s.x).flatten(1), dim=1).max() > 0.99 * s.eps
    torch.testing.assert_close(theirs, ours, rtol=0, atol=ATOL)


@pytest.mark.parametrize("peer", [p for p in PEERS if p.name != "art"],
                         ids=[p.name for p in PEERS if p.name != "art"])
@pytest.mark.parametrize("make", [_mlp, _cnn], ids=["mlp", "cnn"])
def test_same_iterates_box_active(peer: Peer, make: type) -> None:
    """Box clipping after the projection, as our ``box=`` does (ART clips before projecting,
    so it is compared with an inactive box only)."""
    s = _setup(make, box_active=True)
    theirs = _usable(peer).prepare(s)()
    ours = _ours(s)
    assert ((ours == 0) | (ours == 1)).any(), "the box should bind somewhere"
    torch.testing.assert_close(theirs, ours, rtol=0, atol=ATOL)


@pytest.mark.parametrize("peer", PEERS, ids=[p.name for p in PEERS])
@pytest.mark.parametrize("scale", [0.01, 1.0, 100.0])
def test_two_layer_closed_form_agrees_with_peer_autograd(peer: Peer, scale: float) -> None:
    """Our closed-form two-layer objective (BCE) against a peer attacking the same network as a
    two-logit module, mapped into the box ``[0, 1]`` (:func:`advdyn.bench.cases.fold_into_box`)."""
    g = torch.Generator().manual_seed(5)
    net = TwoLayerNet.xavier(3, 32, generator=g, dtype=F32)
    x = scale * torch.randn(3, generator=g, dtype=F32)
    eps = 0.5 * float(x.norm())
    rows = 4
    for label in (0, 1):
        s = fold_into_box(net, x, eps, 0.1 * eps, STEPS, label, rows)
        theirs = _usable(peer).prepare(s)()
        scale_back = eps / s.eps
        delta_theirs = scale_back * (theirs.reshape(rows, -1) - 0.5)
        objective = TwoLayerObjective(net, BinaryCrossEntropy, x, float(label))
        res = run_pgd(objective, eps, 0.1 * eps, STEPS, rule="normalized", start="zero",
                      batch=rows)
        torch.testing.assert_close(delta_theirs, res.delta, rtol=0, atol=2e-5 * eps)
