"""The reproduction report: plain data (:mod:`~advdyn.report.data`) rendered as one
self-contained HTML page and as Markdown. Presentation only: no measurement is computed here."""

from advdyn.report.data import VERDICTS, Claim, Figure, Outcome, Report, Section, Table, environment
from advdyn.report.html import render_html
from advdyn.report.markdown import render_markdown

__all__ = ["VERDICTS", "Claim", "Figure", "Outcome", "Report", "Section", "Table", "environment",
           "render_html", "render_markdown"]
