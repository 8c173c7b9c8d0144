"""Which picture function draws each experiment's result: experiment name → ``"module:draw"``.

A picture function is ``draw(result, records) -> list[Drawing]`` (:mod:`advdyn.plots.drawing`):
``result`` the experiment's result, ``records`` its claims'
:class:`~advdyn.claims.ClaimRecord` s. To add one, add a line below; an experiment without a
line has no pictures. Modules are imported only when their experiment is drawn.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from typing import Any

from advdyn.errors import fail
from advdyn.plots.drawing import Drawing

PICTURES: dict[str, str] = {
    "fig1": "advdyn.plots.landscape:draw",
    "census": "advdyn.plots.census:draw",
    "phase": "advdyn.plots.phase:draw",
    "threshold": "advdyn.plots.threshold:draw",
    "lemma41": "advdyn.plots.claims:draw_lemma41",
    "lemma42": "advdyn.plots.claims:draw_lemma42",
    "lemma43": "advdyn.plots.claims:draw_lemma43",
    "lemma44": "advdyn.plots.claims:draw_lemma44",
    "lemma45": "advdyn.plots.claims:draw_lemma45",
    "theorem31": "advdyn.plots.claims:draw_theorem31",
    "corollary31": "advdyn.plots.claims:draw_corollary31",
    "on_sphere": "advdyn.plots.claims:draw_on_sphere",
    "concentration": "advdyn.plots.claims:draw_concentration",
    "fig2": "advdyn.plots.escape:draw",
    "at_scale": "advdyn.plots.escape:draw_training",
}


def draw(experiment: str, result: Mapping[str, Any], records: Sequence[Any]) -> list[Drawing]:
    """The drawings of ``experiment``'s ``result`` (none when it has no picture function)."""
    target = PICTURES.get(experiment)
    if target is None:
        return []
    module_name, _, name = target.partition(":")
    function = getattr(importlib.import_module(module_name), name, None)
    if not callable(function):
        raise fail("plots registry", f"{target!r} is not a picture function")
    drawings = list(function(result, records))
    for d in drawings:
        if not isinstance(d, Drawing):
            raise TypeError(f"{target} returned {type(d).__name__}, not a Drawing")
    return drawings
