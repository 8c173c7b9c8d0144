"""The findings page: what the committed reference run measured, rendered as Markdown from its
files (``claims.json``, ``run.json`` and the experiments' result JSONs), so that no number on
the page is typed by hand.

:func:`render_findings` reads a run folder (``results/reference/``) and returns the page: the
run (profile, commit, machine, wall and CPU time), the answers to the paper's two questions
(each row's verdict, effect with its interval and power), the paper's three figures redrawn
(the picture files are passed in by name; :mod:`advdyn.plots.findings` draws them), a table of
every claim of the register, where the answer depends on a protocol choice the answer under
each, and the time per experiment. The documentation build calls it (``docs/hooks/``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from advdyn.claims import all_claims
from advdyn.report.data import power_text
from advdyn.report.markdown import table

#: The rows that answer each question, the first deciding (ids of the claims register).
QUESTIONS: dict[str, tuple[str, tuple[str, ...]]] = {
    "Q1": ("Does PGD find a local maximum of the adversarial loss rapidly (the inner problem "
           "of adversarial training, as Madry et al. assume)?",
           ("q1-cnn", "concentration-cnn", "sphere-at", "fig2a", "fig2b", "fig2c",
            "fig2-scale")),
    "Q2": ("At a fixed ratio r = ε/‖x‖, does a smaller input scale help the optimisation of "
           "adversarial training?", ("at-scale", "fig3", "fig3-scale")),
}
#: Where the answer depends on a protocol choice: claim id → (the values field that holds the
#: answer under each choice, what the choice is).
PROTOCOL_CHOICES: dict[str, tuple[str, str]] = {
    "fig2a": ("verdict_per_convention", "step convention"),
    "fig2b": ("verdict_per_convention", "step convention"),
    "fig2c": ("verdict_per_convention", "step convention"),
    "fig2-scale": ("verdict_per_convention", "step convention"),
    "s5.1-escape": ("verdict_per_convention", "step convention"),
    "fig1-ratio": ("verdict_per_convention", "step convention"),
    "sphere-at": ("lowest_other", "pixel box off (lowest fraction on the sphere)"),
    "at-scale": ("lr_search", "learning rate (selected per scale on validation)"),
}


class FindingsError(ValueError):
    """The run folder lacks a file the page is made from."""


def _read(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise FindingsError(f"{path}: cannot read ({e})") from None


def _num(x: Any, digits: int = 3) -> str:
    """A number as text (``–`` for none, ``∞``/``nan`` spelled out)."""
    if x is None:
        return "–"
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return str(x)
    if not math.isfinite(x):
        return "nan" if math.isnan(x) else ("∞" if x > 0 else "−∞")
    return f"{x:.{digits}g}"


def effect_text(row: Mapping[str, Any]) -> str:
    """A row's effect with its interval against its minimum effect, or why there is none."""
    e = row.get("effect") or {}
    if e.get("estimate") is None:
        return "no effect estimated"
    level = 100 * float(e.get("level", 0.95))
    return (f"{e.get('units', 'effect')} {_num(e['estimate'])} ({level:g}% interval "
            f"[{_num(e.get('low'))}, {_num(e.get('high'))}]; minimum effect "
            f"{_num(e.get('min_effect'))})")


def _protocol_text(row: Mapping[str, Any]) -> str:
    field, choice = PROTOCOL_CHOICES.get(str(row.get("id")), ("", ""))
    value = (row.get("values") or {}).get(field) if field else None
    if value is None:
        return "–"
    if field == "lr_search":
        picked = {arm: {s: _num(d.get("selected_lr")) for s, d in by.items()}
                  for arm, by in value.items()}
        return f"{choice}: " + "; ".join(
            f"{arm} " + ", ".join(f"s {s}: {lr}" for s, lr in by.items())
            for arm, by in picked.items())
    if isinstance(value, Mapping):
        return f"{choice}: " + "; ".join(f"{k}: {v}" for k, v in value.items())
    return f"{choice}: {_num(value)}"


def _answer(qid: str, rows: Mapping[str, Mapping[str, Any]]) -> str:
    question, ids = QUESTIONS[qid]
    present = [rows[i] for i in ids if i in rows]
    if not present:
        return f"### {qid}. {question}\n\nNo row of this run answers it.\n"
    first, rest = present[0], present[1:]
    reason = str(first["reason"]).rstrip().rstrip(".") + "."
    lines = [f"### {qid}. {question}\n",
             f"**Measured answer ({first['id']}): {first['verdict']}.** {reason} "
             f"Effect: {effect_text(first)}. Power: {power_text(first.get('power'))}. "
             f"Negative control ({first['control'].get('description', '')}): "
             f"{first['control'].get('verdict')}.\n"]
    if rest:
        lines.append("Beside it: " + "; ".join(
            f"**{r['id']}** {r['verdict']} ({effect_text(r)})" for r in rest) + ".\n")
    return "\n".join(lines)


def _q2_table(rows: Mapping[str, Mapping[str, Any]]) -> str:
    values = (rows.get("at-scale") or {}).get("values") or {}
    per_scale, search = values.get("per_scale") or {}, (values.get("lr_search") or {})
    if not per_scale:
        return ""
    floor = (values.get("calibration") or {}).get("affine_test_robust_acc") or {}
    selected = {s: d.get("selected_lr") for s, d in (search.get("plain") or {}).items()}
    out = table(["input scale", "selected lr", "test clean accuracy", "test robust accuracy",
                 "affine arm's robust accuracy", "seeds"],
                [[s, _num(selected.get(s)), _num(d.get("test_clean_acc")),
                  _num(d.get("test_robust_acc")), _num(floor.get(s)), d.get("seeds", "–")]
                 for s, d in per_scale.items()])
    base = values.get("constant_predictor_acc")
    return (out + f"\nConstant predictor's accuracy: {_num(base)}. Not trained to the target: "
            f"{', '.join(values.get('not_trained_to_target') or []) or 'none'}.\n")


def _claims_table(rows: Mapping[str, Mapping[str, Any]]) -> str:
    cells = []
    for claim in all_claims():
        r = rows.get(claim.id)
        cells.append([claim.id, claim.quote, "not in this run", "–", "–", "–", "–"] if r is None
                     else [f"{r['id']} ({r.get('section', '')})", r.get("quote", ""),
                           r["verdict"], effect_text(r), power_text(r.get("power")),
                           r["control"].get("verdict", "–"), _protocol_text(r)])
    return table(["claim", "the paper's sentence", "verdict", "effect (interval)", "power",
                  "negative control", "where a protocol choice decides"], cells)


def _timing(run: Mapping[str, Any]) -> str:
    """Wall and CPU time per experiment in each run into the folder, the earliest first (the
    run that computed, then any that resumed it or re-judged its stored results)."""
    runs = [r for r in reversed(run.get("earlier") or []) if isinstance(r, Mapping)] + [run]
    heads = [f"run {k} (`{str((r.get('commit') or {}).get('sha'))[:8]}`)"
             for k, r in enumerate(runs, 1)]
    columns = ["experiment", "jobs"] + [f"{h}: {what}" for h in heads
                                        for what in ("wall (s)", "CPU (s)", "reused")]
    cells = []
    for name, t in (run.get("experiments") or {}).items():
        found = [(r.get("experiments") or {}).get(name) or {} for r in runs]
        cells.append([name, t.get("jobs")] + [x for e in found for x in (
            _num(e.get("wall_s"), 4), _num(e.get("cpu_s"), 4), e.get("reused", "–"))])
    return table(columns, cells) + (
        "\nA run's CPU time counts its jobs' CPU as stored with them, so a run that reused "
        "stored results repeats the job CPU of the run that computed them; its wall time is "
        "its own.\n")


def render_findings(folder: Path, figures: Sequence[tuple[str, str]] = ()) -> str:
    """The findings page (module docstring) from the run in ``folder``; ``figures`` are
    ``(path as the page links it, caption)`` of the redrawn figures, in order."""
    run = _read(folder / "run.json")
    rows = {str(r["id"]): r for r in _read(folder / "claims.json")}
    commit = run.get("commit") or {}
    machine = run.get("machine") or {}
    verdicts = ", ".join(f"{n} {v}" for v, n in (run.get("verdicts") or {}).items())
    wall = float(run.get("wall_s") or 0.0)
    earlier = [r for r in run.get("earlier") or [] if isinstance(r, Mapping)]
    total = wall + sum(float(r.get("wall_s") or 0.0) for r in earlier)
    history = ("" if not earlier else
               f" This run reused results stored by {len(earlier)} earlier run(s) into the "
               "same folder (" + "; ".join(
                   f"commit `{str((r.get('commit') or {}).get('sha'))[:12]}`, "
                   f"{float(r.get('wall_s') or 0.0) / 60:.1f} min" for r in earlier)
               + f"): {total / 60:.1f} min of wall time in all.")
    out = [
        f"Profile **{run.get('profile')}**, commit `{commit.get('sha')}`"
        f"{' (with uncommitted changes)' if commit.get('dirty') else ''}, code fingerprint "
        f"`{str(run.get('code', ''))[:16]}`; {machine.get('cpu', '?')}, "
        f"{machine.get('cpu cores', '?')} cores, {run.get('executor')}, "
        f"{run.get('threads_per_job')} thread per job; finished {machine.get('date (UTC)')} "
        f"UTC. Wall time {wall / 60:.1f} min, CPU time {_num(run.get('cpu_s'), 5)} s. "
        f"Verdicts: {verdicts}. Command: `{run.get('command')}`.{history}\n",
        "## The two questions\n", _answer("Q1", rows), _answer("Q2", rows), _q2_table(rows),
        "## The paper's figures, redrawn\n"]
    for k, (path, caption) in enumerate(figures, 1):
        out.append(f"![Figure {k}]({path})\n\n*Figure {k}.* {caption}\n")
    if not figures:
        out.append("No figure was drawn from this run.\n")
    out += ["## Every claim of the register\n", _claims_table(rows),
            "## Time per experiment\n", _timing(run)]
    return "\n".join(out)
