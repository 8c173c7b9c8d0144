"""MkDocs hook: the findings page, generated at build time from the committed reference run.

``docs/findings.md`` holds the marker ``<!-- advdyn-findings -->`` (alone on a line); it is
replaced by :func:`advdyn.report.findings.render_findings` of ``results/reference/`` (or of the
folder named by ``$ADVDYN_FINDINGS_RUN``), and the figures are drawn from the same files into
the site (``findings/*.png``): Figure 1 is the run's own ``fig1/fig1.png``; Figures 2 and 3 are
redrawn by :mod:`advdyn.plots.findings` from ``fig2/fig2.json`` and ``at_scale/at_scale.json``.
Without a reference run the page says so.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
MARKER = "<!-- advdyn-findings -->"
PAGE = "findings.md"
_FIGURES: list[tuple[str, str]] = []


def run_folder() -> Path:
    """The run the page is made from."""
    return Path(os.environ.get("ADVDYN_FINDINGS_RUN") or ROOT / "results" / "reference")


def _png(figure: Any) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110)
    return buffer.getvalue()


def on_files(files: Any, config: Any, **_: Any) -> Any:
    """Draw the figures into the site; remember their links and captions for the page."""
    from mkdocs.structure.files import File

    from advdyn.plots.findings import figure2, figure3

    _FIGURES.clear()
    folder = run_folder()
    drawn: list[tuple[str, bytes, str]] = []
    fig1 = folder / "fig1" / "fig1.png"
    if fig1.is_file():
        drawn.append(("findings/figure1.png", fig1.read_bytes(),
                      "Figure 1 as the run drew it: landscapes of L and PGD trajectories on "
                      "simulated data (d = 2), input scales × ratios, as in the paper."))
    for name, draw in (("fig2", figure2), ("at_scale", figure3)):
        result = folder / name / f"{name}.json"
        if result.is_file():
            d = draw(json.loads(result.read_text(encoding="utf-8")))
            drawn.append((f"findings/{d.stem.removeprefix('findings_')}.png", _png(d.figure),
                          d.caption))
    for uri, content, caption in drawn:
        files.append(File.generated(config, uri, content=content))
        _FIGURES.append((uri, caption))
    return files


def on_page_markdown(markdown: str, page: Any, **_: Any) -> str:
    """Replace the marker on the findings page."""
    if page.file.src_uri != PAGE or MARKER not in markdown:
        return markdown
    from advdyn.report.findings import render_findings

    folder = run_folder()
    if not (folder / "claims.json").is_file():
        text = ("No reference run is committed yet: `advdyn reproduce --profile reference "
                "--out results/reference` makes one.")
    else:
        text = render_findings(folder, _FIGURES)
    return markdown.replace(MARKER, text)
