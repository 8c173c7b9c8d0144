"""The reproduction report: plain data (:mod:`~advdyn.report.data`) rendered as one
self-contained HTML page and as Markdown. Presentation only: no measurement and no verdict is
computed here (verdicts are :class:`~advdyn.claims.ClaimRecord` s from :mod:`advdyn.claims`)."""

from advdyn.report.data import Figure, Outcome, Report, Section, Table
from advdyn.report.html import render_html
from advdyn.report.markdown import render_markdown

__all__ = ["Figure", "Outcome", "Report", "Section", "Table", "render_html",
           "render_markdown"]
