"""The committed reference run (``results/reference/``) and the findings page made from it:
the run's record says what the reference issue requires, every register claim is on the page
with its power, and the page follows the committed files (a changed value in a copy changes
the page), with the Figures 2 and 3 redrawn from the same files."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from advdyn.claims import all_claims
from advdyn.plots.findings import figure2, figure3
from advdyn.report.findings import render_findings

ROOT = Path(__file__).resolve().parents[1]
RUN = ROOT / "results" / "reference"
POWER_FIELDS = {"n", "min_p", "detectable_effect", "adequate", "why"}


def _rows(folder: Path) -> dict[str, dict]:
    return {r["id"]: r for r in json.loads((folder / "claims.json").read_text())}


def test_the_reference_run_is_committed_whole() -> None:
    run = json.loads((RUN / "run.json").read_text())
    runs = [run, *run["earlier"]]  # a resumed or re-judged run keeps the computing runs
    assert all(r["profile"] == "reference" for r in runs)
    assert sum(r["wall_s"] for r in runs) <= 7200
    assert len(run["commit"]["sha"]) == 40 and len(run["code"]) == 64
    assert not any(e["failed"] for e in run["experiments"].values())
    rows = _rows(RUN)
    assert set(rows) == {c.id for c in all_claims()}
    for row in rows.values():
        assert set(row["power"]) == POWER_FIELDS, row["id"]
    files = [p for p in RUN.rglob("*") if p.is_file()]
    assert sum(p.stat().st_size for p in files) <= 25 * 2**20
    assert not (RUN / "cache").exists() and not any(p.suffix == ".pt" for p in files)
    assert {p.suffix for p in files} <= {".json", ".png", ".md", ".html"}


def test_every_register_claim_is_on_the_page() -> None:
    page = render_findings(RUN)
    table = page.split("## Every claim of the register", 1)[1]
    for claim in all_claims():
        assert f"| {claim.id} (" in table, claim.id
    for row in _rows(RUN).values():
        assert row["verdict"] in table


def test_the_page_follows_the_committed_files(tmp_path: Path) -> None:
    copy = tmp_path / "run"
    shutil.copytree(RUN, copy)
    before = render_findings(copy)
    rows = json.loads((copy / "claims.json").read_text())
    target = next(r for r in rows if r["id"] == "at-scale")
    target["verdict"] = "outside the regime"
    target["reason"] = "a changed reason 12345"
    (copy / "claims.json").write_text(json.dumps(rows))
    run = json.loads((copy / "run.json").read_text())
    run["wall_s"] = 4321.0 * 60
    (copy / "run.json").write_text(json.dumps(run))
    after = render_findings(copy)
    assert after != before
    assert "**Measured answer (at-scale): outside the regime.** a changed reason 12345." in after
    assert "Wall time 4321.0 min" in after and "Wall time 4321.0 min" not in before


@pytest.mark.parametrize(("name", "draw"), [("fig2", figure2), ("at_scale", figure3)])
def test_the_figures_are_redrawn_from_the_results(name, draw) -> None:
    result = json.loads((RUN / name / f"{name}.json").read_text())
    groups = result["groups"] if name == "fig2" else result["escape"]
    epochs = {g.get("epoch") for g in groups}
    panels = 3 if name == "fig2" else len({g["scale"] for g in groups}) * min(len(epochs), 3)
    drawing = draw(result)
    axes = drawing.figure.axes
    assert len(axes) == panels
    for ax in axes:
        assert ax.get_title() and (ax.lines or ax.texts)
    assert axes[0].get_ylabel() == "share of the rise of log ℓ covered"
    assert axes[-1].get_xlabel() == "attack step" and "floor" in drawing.caption


def test_the_readme_answers_agree_with_the_committed_run() -> None:
    """The README's answers name claims as `` `id`: **verdict** ``; each must be the committed
    reference run's verdict, and both questions' deciding rows must be among them."""
    import re

    readme = (ROOT / "README.md").read_text()
    section = readme.split("## What the reference run found", 1)[1].split("\n## ", 1)[0]
    stated = dict(re.findall(r"`([A-Za-z0-9._-]+)`: \*\*([a-z ]+)\*\*", section))
    rows = _rows(RUN)
    assert {"q1-cnn", "at-scale"} <= set(stated)
    for cid, verdict in stated.items():
        assert rows[cid]["verdict"] == verdict, cid
    run = json.loads((RUN / "run.json").read_text())
    minutes = sum(r["wall_s"] for r in [run, *run["earlier"]]) / 60
    assert f"{minutes:.0f} min" in section


def test_the_committed_results_come_from_the_committed_code() -> None:
    """Every run into results/reference/ ran the code jobs run today (the job fingerprint keys
    the stored results): after an edit to an experiment, the models, the engine or the runner,
    rerun `advdyn reproduce --profile reference --out results/reference` and commit it."""
    from advdyn.runner.store import job_code_fingerprint

    run = json.loads((RUN / "run.json").read_text())
    assert {r["job_code"] for r in [run, *run["earlier"]]} == {job_code_fingerprint()}
