"""The reproduction report: a self-contained HTML page (checked in headless Chromium) and
Markdown, built by ``advdyn reproduce`` from whatever experiments are registered."""

from __future__ import annotations

import base64
import dataclasses
import html
import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

import toy_experiments
from advdyn.claims import ClaimRecord, Judgement
from advdyn.cli.main import main
from advdyn.errors import AdvdynError
from advdyn.experiments import registry
from advdyn.pipeline import plan, reproduce
from advdyn.report import (
    Figure,
    Outcome,
    Report,
    Section,
    Table,
    render_html,
    render_markdown,
)
from advdyn.runner.environment import environment
from advdyn.runner.executors import InlineExecutor

CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")
                 if shutil.which(n)), None)


def png(path: Path, colour: str = "C0") -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(2, 1.5))
    ax.plot([0, 1, 0], color=colour)
    fig.savefig(path)
    plt.close(fig)
    return path


def record(cid: str, quote: str, reason: str, verdict: str, control: str) -> ClaimRecord:
    """A claim record as the claims layer writes one (its control judged by the same rule)."""
    return ClaimRecord(id=cid, label=cid, section="§4", quote=quote, measurement="counts",
                       rule="a rule", min_effect="one saddle",
                       verdict=verdict, reason=reason, values={}, regime="d = 2",
                       control={"description": "the other arm", "verdict": control,
                                "reason": "no values", "values": {}})


def sample_report(folder: Path) -> Report:
    figs = [Figure(png(folder / "a.png"), "Look for the peak.", title="a & <b>"),
            Figure(png(folder / "b.png", "C1"), "Two panels, one per loss.")]
    outcome = Outcome(text="First paragraph.\n\nSecond <paragraph> & more.",
                      claims=[record("L4.4", "no saddles on the sphere", "0 saddles in 90 cells",
                                     "supported", "not supported"),
                              record("T5.1", "one minimum below τ_ε", "2 minima at r = 0.1",
                                     "not supported", "not supported")],
                      figures=figs, tables=[Table("steps to escape", ["ratio", "steps"],
                                                  [[0.1, 12], [1.0, 3.5]])])
    sections = [Section("census", "Census of critical points", "What it measures.",
                        {"seed": 0, "scales": [0.01, 1.0]}, 1.25, 2.5, 4, 1, outcome),
                Section("fig2", "Figure 2", "", {"seed": 1}, 0.5, 0.0, 2, 0,
                        error="Traceback ...\nRuntimeError: <boom>")]
    return Report("Test report", sections, {"mode": "quick", "seeds": "census.seed=0"},
                  environment())


def test_claim_verdict_is_validated() -> None:
    with pytest.raises(AdvdynError, match=r"^judgement.verdict: unknown option 'yes'"):
        Judgement("yes", "a reason")


def test_html_is_self_contained_with_base64_figures(tmp_path: Path) -> None:
    report = sample_report(tmp_path)
    page = render_html(report)
    assert page.startswith("<!DOCTYPE html>")
    assert "<script" not in page and "<link" not in page and "url(" not in page
    assert not re.search(r"(src|href)=\"(?!data:image/png;base64,|#)", page)
    sources = re.findall(r'<img src="([^"]+)"', page)
    assert len(sources) == 2
    for uri, fig in zip(sources, report.sections[0].outcome.figures, strict=True):
        assert base64.b64decode(uri.split(",", 1)[1]) == fig.path.read_bytes()
    # every text is escaped; the claims table, the failure and the environment are shown
    assert "Second &lt;paragraph&gt; &amp; more." in page and "<paragraph>" not in page
    assert "Figure 1. a &amp; &lt;b&gt;." in page and "Look for the peak." in page
    assert 'class="verdict not-supported">not supported<' in page
    assert 'href="#exp-census"' in page and 'id="exp-census"' in page
    assert "RuntimeError: &lt;boom&gt;" in page and "1 experiment(s) failed" in page
    for key in ("torch", "numpy", "python", "cpu", "date (UTC)"):
        assert f"<td>{html.escape(key)}</td>" in page
    assert "census.seed=0" in page


def test_missing_figure_is_reported_not_fatal(tmp_path: Path) -> None:
    outcome = Outcome(figures=[Figure(tmp_path / "gone.png", "caption")])
    section = Section("x", "X", "", {}, 0.0, 0.0, 0, 0, outcome)
    page = render_html(Report("r", [section], {}, environment()))
    assert "missing figure:</strong> gone.png" in page and "<img" not in page


def test_markdown_links_figures_relatively(tmp_path: Path) -> None:
    (tmp_path / "census").mkdir()
    report = sample_report(tmp_path / "census")
    text = render_markdown(report, tmp_path)
    assert "![Figure 1. a & <b>](census/a.png)" in text
    assert "| L4.4 (§4) | no saddles on the sphere | counts — *0 saddles in 90 cells* Regime: " \
           "d = 2. | **supported** (no power stated) | **not supported** — *no values* " \
           "(control: the other arm) | Census of critical points |" in text
    assert "RuntimeError: <boom>" in text
    for link in re.findall(r"\]\(([^)]+)\)", text):
        assert (tmp_path / link).is_file()


def test_plan_validates_before_anything_runs() -> None:
    bad = dataclasses.replace(toy_experiments.TOY, quick={"n": 0})
    with pytest.raises(AdvdynError, match=r"^toy quick configuration: n: must be > 0"):
        plan([bad], quick=True)
    with pytest.raises(AdvdynError, match=r"^toy configuration\.colour: unknown parameter"):
        toy_experiments.TOY.make_config({"colour": 1}, where="toy configuration")


def test_reproduce_runs_registered_experiments(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    toy_experiments.register(monkeypatch)
    toy = dataclasses.replace(toy_experiments.TOY, quick={"n": 3, "sleep": 0.0})
    the_plan = plan([toy, toy_experiments.BROKEN], quick=True)
    report = reproduce(the_plan, tmp_path, InlineExecutor(), progress=False)
    ok, broken = report.sections
    assert ok.error is None and ok.n_jobs == 3 and ok.n_reused == 0
    assert broken.outcome is None and "toy failure at x=0" in broken.error
    assert (tmp_path / "toy" / "toy-values.png").is_file()
    assert [c.id for _, c in report.claims] == ["T0.1"]
    page = (tmp_path / "report.html").read_text()
    assert page.count('<img src="data:image/png;base64,') == 1
    assert "Toy experiment" in page and "Broken experiment" in page
    assert "](toy/toy-values.png)" in (tmp_path / "report.md").read_text()
    again = reproduce(the_plan, tmp_path, InlineExecutor(), progress=False)
    assert again.sections[0].n_reused == 3


def test_cli_reproduce(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                       capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setattr(registry, "MODULES", ["toy_experiments"])
    toy_experiments.register(monkeypatch)
    out = tmp_path / "out"
    assert main(["reproduce", "--out", str(out), "--quick", "--executor", "inline",
                 "--no-progress"]) == 0
    assert "1 experiments, 1 claims (1 supported)" in capsys.readouterr().out
    page = (out / "report.html").read_text()
    assert "advdyn reproduce --out" in page and "quick" in page
    bad = tmp_path / "bad"
    assert main(["reproduce", "--out", str(bad), "--only", "nope"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("advdyn reproduce: error: --only: unknown experiment 'nope'")
    assert err.count("\n") == 1 and not bad.exists()
    monkeypatch.setattr(registry, "MODULES", ["toy_experiments", "no_such_module_here"])
    assert main(["reproduce", "--out", str(bad)]) == 2
    assert "registry: cannot import 'no_such_module_here'" in capsys.readouterr().err
    assert not bad.exists()


# ---------------------------------------------------------------- in a real browser

CHECK = """<script>
window.addEventListener("load", () => {
  const imgs = Array.from(document.images);
  const result = {
    images: imgs.length,
    broken: imgs.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.alt),
    fetched: performance.getEntriesByType("resource").map(e => e.name),
    height: document.body.scrollHeight,
    title: document.title,
    tables: document.querySelectorAll("table").length,
  };
  document.documentElement.setAttribute("data-check", JSON.stringify(result));
});
</script>"""


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (apt-get install "
                    "chromium chromium-driver); CI installs it")
def test_report_in_headless_chromium(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The page renders, every image decodes, nothing is fetched, the console stays empty.

    A copy of the page with a measuring script appended is loaded; the script writes what it
    finds into the DOM, which Chromium dumps.
    """
    toy_experiments.register(monkeypatch)
    toy = dataclasses.replace(toy_experiments.TOY, quick={"n": 3})
    reproduce(plan([toy, toy_experiments.BROKEN], quick=True), tmp_path, InlineExecutor(),
              progress=False)
    page = (tmp_path / "report.html").read_text()
    probe = tmp_path / "probe.html"
    probe.write_text(page.replace("</body>", CHECK + "</body>"))
    profile = tempfile.mkdtemp(prefix="advdyn-chromium-")
    try:
        proc = subprocess.run(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
             "--no-first-run", "--disable-background-networking", "--disable-component-update",
             "--disable-sync", f"--user-data-dir={profile}", "--enable-logging=stderr", "--v=0",
             "--virtual-time-budget=5000", "--dump-dom", probe.as_uri()],
            capture_output=True, text=True, timeout=120, check=False,
            env={**os.environ, "HOME": profile})
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    found = re.search(r'data-check="([^"]*)"', proc.stdout)
    assert found, "the page did not finish loading:\n" + proc.stdout[:500]
    check = json.loads(html.unescape(found.group(1)))
    assert check["images"] == 1 and check["broken"] == []
    assert check["fetched"] == []  # self-contained: nothing loaded besides the page
    assert check["title"].startswith("Dynamics of first-order adversaries")
    assert check["tables"] >= 4 and check["height"] > 500
    console = [line for line in proc.stderr.splitlines() if ":CONSOLE" in line]
    assert console == []


def test_reproduce_collect_judge_draw_write(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """An experiment on the collect contract: its claim is judged by the claims layer (with
    its control), drawn by the plots registry, written to claims.json and shown with the
    control's verdict beside its own."""
    toy_experiments.register(monkeypatch)
    report = reproduce(plan([toy_experiments.TOY], quick=True), tmp_path, InlineExecutor(),
                       progress=False)
    [(section, record)] = report.claims
    assert section.name == "toy" and record.verdict == "supported"
    assert record.control["verdict"] == "not supported"
    [row] = json.loads((tmp_path / "claims.json").read_text())
    assert row == json.loads(json.dumps(record.to_json()))
    assert (tmp_path / "toy" / "toy-values.png").is_file()
    assert json.loads((tmp_path / "toy" / "toy.json").read_text())["n"] == 2
    page = (tmp_path / "report.html").read_text()
    assert 'verdict supported">supported<' in page and "not-supported" in page
    assert "no values at all (an empty arm)" in page


def test_check_writes_the_claims_records_of_its_experiment(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from advdyn.claims import registry as claims_registry
    from advdyn.pipeline import check

    monkeypatch.setattr(claims_registry, "MODULES", ["toy_experiments"])
    monkeypatch.setattr(registry, "MODULES", ["toy_experiments"])
    done = check("T0.1", tmp_path, InlineExecutor(), quick=True, parameters={"n": 4},
                 progress=False)
    assert done.section.config["n"] == 4 and len(done.result["ys"]) == 4
    [row] = json.loads((tmp_path / "claims.json").read_text())
    assert row["id"] == "T0.1" and row["verdict"] == "supported"
    assert row["control"]["verdict"] == "not supported"
    with pytest.raises(AdvdynError, match="unknown claim 'nope'"):
        check("nope", tmp_path, InlineExecutor())


def test_a_rerun_reuses_the_drawings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Same jobs, same records: the pictures are not drawn again; a missing PNG is redrawn."""
    from advdyn.plots import registry as plots_registry

    calls: list[str] = []

    def counted(result: dict, records: list) -> list:
        calls.append("drawn")
        return toy_experiments.toy_draw(result, records)

    monkeypatch.setattr(toy_experiments, "counted_draw", counted, raising=False)
    monkeypatch.setitem(plots_registry.PICTURES, "toy", "toy_experiments:counted_draw")
    the_plan = plan([toy_experiments.TOY], quick=True)
    png = tmp_path / "toy" / "toy-values.png"
    reproduce(the_plan, tmp_path, InlineExecutor(), progress=False)
    again = reproduce(the_plan, tmp_path, InlineExecutor(), progress=False)
    assert calls == ["drawn"] and again.sections[0].outcome.figures[0].path == png
    png.unlink()
    reproduce(the_plan, tmp_path, InlineExecutor(), progress=False)
    assert calls == ["drawn", "drawn"] and png.is_file()
    # an edit to the drawing code (another package fingerprint) redraws the same results
    from advdyn.pipeline import section
    monkeypatch.setattr(section, "code_fingerprint", lambda: "edited")
    reproduce(the_plan, tmp_path, InlineExecutor(), progress=False)
    assert calls == ["drawn", "drawn", "drawn"]


def test_the_papers_label_is_shown_beside_the_typable_id(tmp_path: Path) -> None:
    rec = dataclasses.replace(record("s5.1-minima", "minima at small scale", "3 minima",
                                     "supported", "not supported"), label="§5.1 (minima)")
    assert rec.place == "§5.1 (minima); §4" and record("x", "", "", "", "").place == "§4"
    section = Section("phase", "Phase", "", {}, 0.0, 0.0, 1, 0, Outcome(claims=[rec]))
    report = Report("r", [section], {}, environment())
    assert "<td>s5.1-minima<br><span class=\"meta\">§5.1 (minima); §4</span>" in \
        render_html(report)
    assert "| s5.1-minima (§5.1 (minima); §4) |" in render_markdown(report, tmp_path)
