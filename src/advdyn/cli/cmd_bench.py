"""``advdyn bench``: performance against torchattacks, Foolbox, ART and the hardware floor."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from typing import Any

from advdyn.cli.common import add_command, add_device_flag, device_of, emit_json, positive_int
from advdyn.errors import fail

COLUMNS = ("case", "unit", "ours", "floor", "ratio_to_floor", "best_peer", "ratio_to_best_peer",
           "met")


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(
        sub, "bench", "Seven cases (1 two-layer compute bound, 2 MNIST CNN, 3 Figure 1's many "
        "small problems, 4 census, 5 trajectory recording, 6 adversarial training, 7 an "
        "ensemble of 8 CNNs in adversarial training), each timed "
        "interleaved with its floor and the peers (torchattacks, Foolbox, ART; skipped with a "
        "note when absent) over several repetitions; medians and ratios of medians (ours / "
        "other, below 1 is faster).")
    p.add_argument("--quick", action="store_true", help="short run (fewer steps and repetitions)")
    p.add_argument("--cases", default=None,
                   help="comma-separated cases to run, 1 to 7 (default: every case)")
    p.add_argument("--reps", type=positive_int, default=None,
                   help="repetitions per contender in cases 1, 2 and 5 (default 5, quick 3)")
    p.add_argument("--threads", type=positive_int, default=None,
                   help="torch intra-op threads (default: torch's choice)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    add_device_flag(p, "cases 6 and 7 (adversarial training; the other cases time CPU work "
                    "against CPU floors)")
    p.set_defaults(run=run)


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "NO"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def table(report: dict[str, Any]) -> str:
    """The readable form: one row per case, then the peers' times and the machine."""
    rows = [list(COLUMNS)] + [[_fmt(r[c]) for c in COLUMNS] for r in report["cases"]]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
             for row in rows]
    lines.append("")
    for r in report["cases"]:
        lines.append(f"{r['case']}: {r['title']}; floor = {r['floor_kind']}; "
                     f"target {r['target']}")
        for key in sorted(set(r) - {"ratio_to_floor", "ratio_to_best_peer"}):
            if key.startswith("ratio_to_"):
                lines.append(f"    ours / {key.removeprefix('ratio_to_')}: {_fmt(r[key])}")
        for name, peer in r["peers"].items():
            what = (f"{_fmt(peer['time'])} {r['unit']} (ours/theirs {_fmt(peer['ratio'])})"
                    if "time" in peer else f"skipped: {peer['skipped']}")
            lines.append(f"    {name} {peer['attack']}: {what}")
    m = report["machine"]
    lines.append(f"machine: {m['cpu']}, {m['cores']} cores, {m['torch_threads']} torch threads, "
                 f"load {m['load_average']}; {m['versions']}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    import torch

    from advdyn.bench.cases import CASES, QUICK, BenchSizes, run_bench

    chosen = ",".join(CASES) if args.cases is None else args.cases
    cases = [c.strip() for c in chosen.split(",") if c.strip()]
    unknown = [c for c in cases if c not in CASES]
    if unknown or not cases:
        raise fail("--cases", f"unknown case(s) {unknown}", f"choose from {','.join(CASES)}")
    sizes = dataclasses.replace(QUICK if args.quick else BenchSizes(), device=device_of(args))
    if args.reps is not None:
        sizes = dataclasses.replace(sizes, reps=args.reps)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    report = run_bench(sizes, cases,
                       progress=lambda msg: print(f"advdyn bench: {msg}", file=sys.stderr))
    if args.json:
        emit_json(report)
    else:
        print(table(report))
    return 0
