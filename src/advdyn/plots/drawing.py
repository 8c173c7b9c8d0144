"""What a picture module hands back: figures with their titles and captions, not files.

Each experiment's pictures are drawn by one function ``draw(result, records) -> list[Drawing]``
(``result``: the experiment's result; ``records``: its claims' :class:`~advdyn.claims.ClaimRecord`
s), listed in :mod:`advdyn.plots.registry`. Saving is the runner's job (file I/O lives there).
"""

from __future__ import annotations

from dataclasses import dataclass

from matplotlib.figure import Figure


@dataclass(frozen=True)
class Drawing:
    """A figure to save as ``<stem>.png``, with a title and a caption saying what to look for."""

    stem: str
    figure: Figure
    title: str
    caption: str
