"""The report at a glance: a negative control that the rule rejects (the expected outcome) wears
a badge saying so, distinct from a failed claim's red; the page's tables wrap to its width."""

from __future__ import annotations

import re
from pathlib import Path

from advdyn.report import render_html
from test_report import sample_report


def test_control_badge_says_whether_the_control_behaved(tmp_path: Path) -> None:
    report = sample_report(tmp_path)
    records = report.sections[0].outcome.claims
    records[1].control["verdict"] = "supported"  # a control the rule fails to reject
    page = render_html(report)
    expected = re.findall(r'class="verdict control-expected">control rejected as expected<', page)
    unexpected = re.findall(r'class="verdict control-unexpected">control not rejected: '
                            r'supported<', page)
    # each claim shows in the summary table and in its experiment's section
    assert len(expected) == len(unexpected) == 2
    # the failed claim keeps the red verdict badge; the expected control does not wear it
    assert page.count('class="verdict not-supported"') == 2
    style = page[page.index("<style>"):page.index("</style>")]
    assert "table-layout:fixed" in style and "overflow-wrap:anywhere" in style
    assert re.search(r"\.control-expected\{background:#dafbe1", style)
