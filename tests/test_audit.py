"""The audit on the zoo of broken defences (tests/zoo.py): each indicator fires on its case on
≥ 90 % of the 64 audited rows, and the healthy tiny CNN under a soundly configured attack
(torchattacks PGDL2, ε = 3, α = 0.25, 40 steps, random start; 2 restarts) has every indicator on
≤ 5 % of them. Every case through torchattacks, Foolbox and ART (the same PGD-l2 in each
library's words), the healthy model through each and through advdyn's own PGD, and the model
checks."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

import zoo
from advdyn import AdvdynError
from advdyn.audit import INDICATORS, audit_attack
from advdyn.audit.attacks import make_attack, parse_attack

BOX = (0.0, 1.0)


@pytest.fixture(scope="module")
def base():
    return zoo.trained()


def test_healthy_model_sound_attack_is_quiet(base) -> None:
    model, x, y = base
    audit = audit_attack(model, _sound(), x, y, zoo.EPS, "l2", box=BOX, surrogate=model)
    fractions = audit.fractions()
    assert set(fractions) == set(INDICATORS) and audit.rows == zoo.ROWS
    assert max(fractions.values()) <= 0.05, fractions
    assert audit.success.mean() >= 0.95
    assert audit.checks == []
    hit = audit.first_adversarial[audit.success]
    assert (hit >= 0).all() and (hit <= audit.trace.steps).all()  # step 0: the random start
    assert audit.verdicts().count("sound") >= 0.95 * zoo.ROWS
    data = json.loads(json.dumps(audit.to_json()))
    assert set(data["indicators"]) == set(INDICATORS) and len(data["samples"]) == zoo.ROWS


SOUND = {"steps": 40, "alpha": 0.25, "random_start": True}
CASES = {
    # case: (model wrapper, attack settings (None: the own loop), surrogate, indicators that
    # must fire on ≥ 90 % through every library)
    "quantised": (zoo.quantised, SOUND, zoo.untrained,
                  ("unavailable_gradients", "transfer_failure")),
    "randomised": (zoo.randomised, SOUND, None, ("unstable_predictions",)),
    "budget-too-small": (None, {"steps": 3, "alpha": 0.01, "random_start": True}, None,
                         ("incomplete_optimisation",)),
    "last-iterate": (None, None, None, ("silent_success",)),
    "saturated": (zoo.saturated, {**SOUND, "random_start": False}, None,
                  ("unavailable_gradients",)),
}
LIBRARIES = ("torchattacks:PGDL2", "foolbox:L2PGD", "art:ProjectedGradientDescent")


def _sound():
    return library_attack(LIBRARIES[0], **SOUND)


def library_attack(spec: str, steps: int, alpha: float, random_start: bool):
    """The same PGD-l2 (steps, step size, random start or not) in each library's words."""
    pytest.importorskip(spec.partition(":")[0])
    kwargs = {"torchattacks:PGDL2": {"steps": steps, "alpha": alpha,
                                     "random_start": random_start},
              "foolbox:L2PGD": {"steps": steps, "abs_stepsize": alpha,
                                "random_start": random_start},
              "art:ProjectedGradientDescent": {"max_iter": steps, "eps_step": alpha,
                                               "num_random_init": int(random_start)}}[spec]
    return make_attack(spec, kwargs, "l2", BOX)


@pytest.mark.parametrize(("case", "library"),
                         [(c, lib) for c in CASES for lib in LIBRARIES
                          if CASES[c][1] is not None or lib == LIBRARIES[0]])
def test_each_indicator_fires_on_its_case(base, case: str, library: str) -> None:
    """Every case through torchattacks, Foolbox and ART (the last-iterate loop is the user's
    own); on the saturated model without a random start, torchattacks' unconstrained attack
    fails too (Foolbox's and ART's normalised steps escape from gradients that are tiny but
    not zero once the radius is unbounded)."""
    wrap, settings, surrogate, expected = CASES[case]
    model, x, y = base
    target = model if wrap is None else wrap(model)
    attack = zoo.last_iterate_loop if settings is None else library_attack(library, **settings)
    audit = audit_attack(target, attack, x, y, zoo.EPS, "l2", box=BOX,
                         surrogate=None if surrogate is None else surrogate())
    fractions = audit.fractions()
    for name in expected:
        assert fractions[name] >= 0.9, (case, library, fractions)
    if case == "saturated" and library == LIBRARIES[0]:
        assert fractions["unconstrained_failure"] >= 0.9, fractions
    if case == "randomised":
        assert [c.name for c in audit.checks] == ["randomised"]
    if case == "saturated":
        assert [c.name for c in audit.checks] == ["probabilities"]


def test_foolbox_success_check_told_apart(base) -> None:
    model, x, y = base
    audit = audit_attack(zoo.quantised(model), library_attack("foolbox:L2PGD", **SOUND), x, y,
                         zoo.EPS, "l2", box=BOX, restarts=0)
    assert audit.trace.counts()["check"] == 1  # Foolbox's success check is not an iterate


@pytest.mark.parametrize("library", [*LIBRARIES[1:], "advdyn:pgd"])
def test_the_healthy_model_is_quiet_through_every_library(base, library: str) -> None:
    model, x, y = base
    attack = (make_attack(library, {"eta": 0.25, "steps": 40}, "l2", BOX)
              if library == "advdyn:pgd" else library_attack(library, **SOUND))
    audit = audit_attack(model, attack, x, y, zoo.EPS, "l2", box=BOX, surrogate=model)
    assert max(audit.fractions().values()) <= 0.05, (library, audit.fractions())
    assert audit.success.mean() >= 0.95


def test_linf_fosc_is_zero_at_a_converged_sign_attack(base) -> None:
    """torchattacks PGD (l∞, sign steps) on the healthy model: every l∞ end point has a finite
    FOSC ≥ 0, and the KKT residual is 0 where FOSC is (both measure the same condition)."""
    ta = pytest.importorskip("torchattacks")
    model, x, y = base
    attack = lambda m, x, y, eps: ta.PGD(m, eps=eps, alpha=eps / 4, steps=20)(x, y)  # noqa: E731
    audit = audit_attack(model, attack, x[:16], y[:16], 0.3, "linf", box=BOX, restarts=0)
    assert np.isfinite(audit.fosc).all() and (audit.fosc >= -1e-6).all()
    np.testing.assert_array_equal(audit.fosc <= 1e-9, audit.kkt_residual <= 1e-9)


def test_train_mode_batchnorm_refused_and_probabilities_reported(base) -> None:
    _, x, y = base
    bn = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Flatten(),
                       nn.Linear(2 * 26 * 26, 10)).train()
    with pytest.raises(AdvdynError, match=r"model: .*train mode.*BatchNorm2d.*model.eval\(\)"):
        audit_attack(bn, _sound(), x, y, zoo.EPS)


def test_bad_input_named(base) -> None:
    model, x, y = base
    with pytest.raises(AdvdynError, match="norm"):
        audit_attack(model, _sound(), x, y, 1.0, "l1")
    with pytest.raises(AdvdynError, match="eps"):
        audit_attack(model, _sound(), x, y, -1.0)
    with pytest.raises(AdvdynError, match="box"):
        audit_attack(model, _sound(), x, y, 1.0, box=(1.0, 0.0))
    with pytest.raises(AdvdynError, match="attack: returned shape"):
        audit_attack(model, lambda m, x_, y_, e: x_[:3], x, y, 1.0)
    with pytest.raises(AdvdynError, match="attack: unknown attack 'cleverhans:FGSM'"):
        parse_attack("cleverhans:FGSM")
    with pytest.raises(AdvdynError, match="--norm linf"):
        make_attack("torchattacks:PGD", {}, "l2", BOX)
    with pytest.raises(AdvdynError, match="attack_args"):
        audit_attack(model, make_attack("torchattacks:PGDL2", {"stepz": 3}, "l2", BOX), x, y,
                     1.0)
    with pytest.raises(AdvdynError, match="y: has 3 rows"):
        audit_attack(model, _sound(), x, y[:3], 1.0)
    with torch.no_grad():
        assert model(x[:2]).dtype == torch.float32
