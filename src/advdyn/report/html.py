"""Render a :class:`~advdyn.report.data.Report` as one self-contained HTML page.

Figures are embedded as base64 PNG ``data:`` URIs and the style sheet is inline: the page needs
no other file, no network and no script. Every piece of text is HTML-escaped.
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from advdyn.claims import NOT_SUPPORTED, ClaimRecord
from advdyn.report.data import Figure, Report, Section, Table, power_text, reference_text

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;line-height:1.5;
color:#1b1f24;background:#fff;margin:0}
main{max-width:70rem;margin:0 auto;padding:1.5rem 2rem 4rem}
h1{font-size:1.8rem;margin-bottom:.2rem}h2{margin-top:2.5rem;border-bottom:1px solid #d0d7de;
padding-bottom:.3rem}h3{margin-top:1.5rem}
table{border-collapse:collapse;margin:.8rem 0;font-size:.92rem;width:100%;table-layout:fixed}
th,td{border:1px solid #d0d7de;padding:.3rem .6rem;text-align:left;vertical-align:top;
overflow-wrap:anywhere}
th{background:#f6f8fa}td.num{text-align:right;font-variant-numeric:tabular-nums}
.verdict{font-weight:600;white-space:nowrap;border-radius:.3rem;padding:.05rem .4rem}
.supported{background:#dafbe1;color:#116329}.partly-supported{background:#fff8c5;color:#7d4e00}
.not-supported{background:#ffebe9;color:#a40e26}.inconclusive{background:#eaeef2;color:#424a53}
.outside-the-regime{background:#ddf4ff;color:#0a3069}
.control-expected{background:#dafbe1;color:#116329}.control-unexpected{background:#ffebe9;
color:#a40e26}
figure{margin:1.2rem 0;padding:0}figure img{max-width:100%;height:auto;border:1px solid #eaeef2}
figcaption{font-size:.92rem;color:#424a53;max-width:60rem}
pre{background:#f6f8fa;padding:.8rem;overflow-x:auto;font-size:.85rem}
.meta{color:#57606a}nav ol{margin:.3rem 0}
.underpowered{color:#7d4e00;background:#fff8c5;font-size:.85rem}td.differs{background:#fff8c5}
.smoke{border-left:.3rem solid #d4a72c;background:#fff8c5;padding:.5rem .8rem}
"""


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def anchor(name: str) -> str:
    """The HTML id of a section named ``name``."""
    return "exp-" + re.sub(r"[^A-Za-z0-9_-]+", "-", name)


def _verdict(verdict: str) -> str:
    return f'<span class="verdict {verdict.replace(" ", "-")}">{_e(verdict)}</span>'


def _control_verdict(verdict: str) -> str:
    """A negative control's badge: rejected ("not supported") is what a control must do, so it
    reads green, "control rejected as expected"; any other verdict is the control failing."""
    if verdict == NOT_SUPPORTED:
        return ('<span class="verdict control-expected">control rejected as expected</span>'
                f' <span class="meta">({_e(verdict)})</span>')
    return (f'<span class="verdict control-unexpected">control not rejected: {_e(verdict)}'
            '</span>')


def _paragraphs(text: str) -> str:
    return "".join(f"<p>{_e(p.strip())}</p>" for p in text.split("\n\n") if p.strip())


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f'<td class="num">{_e(f"{value:.6g}")}</td>'
    if isinstance(value, int) and not isinstance(value, bool):
        return f'<td class="num">{value}</td>'
    return f"<td>{_e(value)}</td>"


def _table(columns: list[str], rows: list[list[Any]], raw_cells: bool = False) -> str:
    head = "".join(f"<th>{_e(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(c if raw_cells else _cell(c) for c in row) + "</tr>"
                   for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def image_data_uri(path: Path) -> str | None:
    """``data:image/png;base64,...`` for a PNG file, or ``None`` if it is missing or not PNG."""
    try:
        data = Path(path).read_bytes()
    except OSError:
        return None
    if not data.startswith(PNG_MAGIC):
        return None
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def _figure(fig: Figure, number: int) -> str:
    uri = image_data_uri(fig.path)
    title = f"Figure {number}" + (f". {fig.title}" if fig.title else "")
    caption = f"<figcaption><strong>{_e(title)}.</strong> {_e(fig.caption)}</figcaption>"
    if uri is None:
        return (f"<figure><p><strong>missing figure:</strong> {_e(fig.path.name)}</p>"
                f"{caption}</figure>")
    return f'<figure><img src="{uri}" alt="{_e(title)}">{caption}</figure>'


CLAIM_COLUMNS = ["claim", "statement", "measurement and reason", "verdict",
                 "negative control (same rule)"]


def _claim_row(c: ClaimRecord, reference: Mapping[str, str]) -> list[str]:
    """A claim record's cells: the verdict with its power (underpowered rows marked), the
    reference run's verdict (when there is one; ``≠`` where it differs) and the control's
    verdict side by side."""
    where = f'<br><span class="meta">{_e(c.place)}</span>' if c.place else ""
    regime = f'<br><span class="meta">regime: {_e(c.regime)}</span>' if c.regime else ""
    ctrl = c.control
    control = (f"<td>{_control_verdict(ctrl['verdict'])}<br><em>{_e(ctrl.get('reason', ''))}</em>"
               f"<br><span class=\"meta\">{_e(ctrl.get('description', ''))}</span></td>"
               if ctrl.get("verdict") else f"<td>{_e(ctrl.get('description', ''))}</td>")
    return [f"<td>{_e(c.id)}{where}</td>", _cell(c.quote),
            f"<td>{_e(c.measurement)}<br><em>{_e(c.reason)}</em>{regime}</td>",
            f"<td>{_verdict(c.verdict)}{_power(c.power)}</td>",
            *([_reference(c, reference)] if reference else []), control]


def _power(power: Mapping[str, Any] | None) -> str:
    text = power_text(power)
    cls = "underpowered" if text.startswith("UNDERPOWERED") else "meta"
    return f'<br><span class="{cls}">{_e(text)}</span>'


def _reference(c: ClaimRecord, reference: Mapping[str, str]) -> str:
    text = reference_text(c, reference)
    cls = ' class="differs"' if text.startswith("≠") else ""
    return f"<td{cls}>{_e(text)}</td>"


def _columns(reference: Mapping[str, str]) -> list[str]:
    return CLAIM_COLUMNS[:4] + (["reference run"] if reference else []) + CLAIM_COLUMNS[4:]


def _claims_table(report: Report) -> str:
    rows = [[*_claim_row(c, report.reference),
             f'<td><a href="#{anchor(s.name)}">{_e(s.title)}</a></td>']
            for s, c in report.claims]
    if not rows:
        return "<p>No claims were measured in this run.</p>"
    return _table([*_columns(report.reference), "experiment"], rows, raw_cells=True)


def _own_claims(claims: list[ClaimRecord], reference: Mapping[str, str]) -> str:
    if not claims:
        return ""
    return "<h3>Claims</h3>" + _table(_columns(reference),
                                      [_claim_row(c, reference) for c in claims],
                                      raw_cells=True)


def _data_table(t: Table) -> str:
    return f"<h3>{_e(t.title)}</h3>" + _table(t.columns, t.rows)


def _section(s: Section, first_figure: int, reference: Mapping[str, str]) -> tuple[str, int]:
    parts = [f'<section id="{anchor(s.name)}"><h2>{_e(s.title)}</h2>', _paragraphs(s.description)]
    parts.append(f'<p class="meta">{s.n_jobs} jobs ({s.n_reused} reused from the cache), '
                 f"wall time {s.wall_s:.1f} s, compute time of its jobs {s.compute_s:.1f} s."
                 "</p>")
    number = first_figure
    if s.error is not None:
        parts.append("<p><strong>This experiment failed:</strong></p>"
                     f"<pre>{_e(s.error)}</pre>")
    if s.outcome is not None:
        parts.append(_paragraphs(s.outcome.text))
        parts.append(_own_claims(s.outcome.claims, reference))
        parts.extend(_data_table(t) for t in s.outcome.tables)
        for fig in s.outcome.figures:
            parts.append(_figure(fig, number))
            number += 1
    parts.append("<h3>Configuration</h3>"
                 + _table(["parameter", "value"], [[k, v] for k, v in s.config.items()]))
    parts.append("</section>")
    return "".join(parts), number


def render_html(report: Report) -> str:
    """The report as a complete, self-contained HTML document."""
    nav = "".join(f'<li><a href="#{anchor(s.name)}">{_e(s.title)}</a></li>'
                  for s in report.sections)
    sections, number = [], 1
    for s in report.sections:
        text, number = _section(s, number, report.reference)
        sections.append(text)
    timing = _table(["experiment", "wall time (s)", "compute time (s)", "jobs", "reused"],
                    [[s.title, round(s.wall_s, 2), round(s.compute_s, 2), s.n_jobs, s.n_reused]
                     for s in report.sections])
    settings = _table(["setting", "value"], [[k, v] for k, v in report.settings.items()])
    env = _table(["", "version / value"], [[k, v] for k, v in report.environment.items()])
    failed = [s.title for s in report.sections if s.error is not None]
    status = (f"<p><strong>{len(failed)} experiment(s) failed:</strong> "
              f"{_e(', '.join(failed))}.</p>" if failed else "")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(report.title)}</title><style>{STYLE}</style></head>\n<body><main>"
        f"<h1>{_e(report.title)}</h1>"
        f'<p class="meta">{_e(report.environment.get("date (UTC)", ""))} UTC · advdyn '
        f'{_e(report.environment.get("advdyn", ""))}</p>{status}'
        "<h2>The paper's claims</h2><p>Each claim of Deng, He, Huang &amp; Su (ICML 2020), "
        "what this run measured, the verdict of the rule fixed before the run, and the "
        "verdict of the same rule on the claim's negative control (which it must reject). "
        "Follow the experiment link for the figures and the setting of each measurement.</p>"
        + (f'<p class="smoke"><strong>{_e(report.smoke_test_note())}</strong></p>'
           if report.smoke_test_note() else "")
        + (f"<p><strong>Verdicts:</strong> {_e(report.verdict_counts())}.</p>"
           if report.claims else "")
        + f"{_claims_table(report)}<nav><h3>Experiments</h3><ol>{nav}</ol></nav>"
        + "".join(sections)
        + '<section id="environment"><h2>Configuration and environment</h2>'
        f"<h3>Run</h3>{settings}<h3>Wall time per experiment</h3>{timing}"
        f"<h3>Environment</h3>{env}</section>"
        "</main></body></html>\n"
    )
