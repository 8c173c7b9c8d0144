"""The one list of experiments that ``advdyn reproduce`` runs and ``advdyn sweep`` knows by name.

To add an experiment, give its module a module-level
``EXPERIMENT = advdyn.experiments.base.Experiment(...)`` and add the module's name to
:data:`MODULES` below (the report shows experiments in this order). A sweep may also name an
experiment outside this list as ``"package.module:ATTRIBUTE"``.
"""

from __future__ import annotations

import importlib

from advdyn.errors import fail
from advdyn.experiments.base import Experiment

MODULES: list[str] = [
    "advdyn.experiments.fig1",
    "advdyn.experiments.phase",
    "advdyn.experiments.census",
    "advdyn.experiments.two_layer.l41",
    "advdyn.experiments.two_layer.l42",
    "advdyn.experiments.two_layer.l43",
    "advdyn.experiments.two_layer.l44",
    "advdyn.experiments.two_layer.l45",
    "advdyn.experiments.two_layer.t31",
    "advdyn.experiments.two_layer.c31",
    "advdyn.experiments.two_layer.on_sphere",
    "advdyn.experiments.two_layer.concentration",
    "advdyn.experiments.threshold",
    "advdyn.experiments.fig2",
    "advdyn.experiments.at_scale",
]


def _load(module_name: str, attribute: str, field: str) -> Experiment:
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise fail(field, f"cannot import {module_name!r} ({e})") from None
    experiment = getattr(module, attribute, None)
    if not isinstance(experiment, Experiment):
        raise fail(field, f"{module_name}.{attribute} is not an advdyn.experiments.base.Experiment")
    return experiment


def registered() -> list[Experiment]:
    """Every registered experiment, in report order."""
    return [_load(m, "EXPERIMENT", "registry") for m in MODULES]


def get(name: str, field: str = "experiment") -> Experiment:
    """A registered experiment by name, or any experiment by ``"package.module:ATTRIBUTE"``."""
    if ":" in name:
        module_name, _, attribute = name.partition(":")
        return _load(module_name, attribute, field)
    experiments = {e.name: e for e in registered()}
    if name not in experiments:
        known = ", ".join(experiments) or "none registered yet"
        raise fail(field, f"unknown experiment {name!r}",
                   f"choose one of: {known}; or name one as 'package.module:ATTRIBUTE'")
    return experiments[name]
