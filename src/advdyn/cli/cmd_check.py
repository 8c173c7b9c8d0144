"""``advdyn check CLAIM``: run the experiment of one claim of the paper and write its table,
figure and verdict (``DIR/<claim>.csv``, ``.png``, ``.pdf``, ``.json``)."""

from __future__ import annotations

import argparse
import csv
import dataclasses
import importlib
import io
import time
import types
import typing
from typing import Any

import torch

from advdyn.atomic import write_json, write_text
from advdyn.cli.common import (
    config_values,
    emit_json,
    flag_type,
    number_type,
    output_folder,
    positive_int,
)
from advdyn.experiments.claims import CLAIMS
from advdyn.experiments.claims.common import STATEMENTS


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("check", help="run the experiment of one claim of the paper (SPEC §4)",
                       description="Run one claim's experiment; write DIR/<claim>.csv (table), "
                       ".png and .pdf (figure) and .json (verdict: held / did not hold / not "
                       "testable here, whether the setting is inside the paper's regime, the "
                       "configuration and the measured numbers).")
    claims = p.add_subparsers(dest="claim", metavar="CLAIM", parser_class=type(p))
    claims.required = True
    for cid, name in CLAIMS.items():
        module = importlib.import_module(name)
        q = claims.add_parser(cid, help=STATEMENTS[cid], description=_about(module))
        q.add_argument("--out", required=True, help="output folder (created if missing)")
        q.add_argument("--quick", action="store_true",
                       help="the quick configuration (well under two minutes on 2 cores)")
        q.add_argument("--json", action="store_true", help="print the verdict as JSON")
        q.add_argument("--threads", type=positive_int, default=1,
                       help="torch CPU threads (default 1: the small batched kernels here are "
                       "latency-bound; extra threads cost more than they give on a busy machine)")
        hints = typing.get_type_hints(module.Config)
        for f in dataclasses.fields(module.Config):
            kind, many = flag_type(hints[f.name])
            quick = module.QUICK.get(f.name)
            text = f"default {f.default!r}" + ("" if quick is None else f", quick {quick!r}")
            q.add_argument("--" + f.name.replace("_", "-"), dest=f.name, type=number_type(kind),
                           nargs="+" if many else None, default=None, help=text)
        q.set_defaults(run=run, module=name)


def run(args: argparse.Namespace) -> int:
    module = importlib.import_module(args.module)
    params: dict[str, Any] = dict(module.QUICK) if args.quick else {}
    params.update(config_values(module.Config, args))
    module.Config(**params)  # validate every parameter before anything runs or is written
    torch.set_num_threads(args.threads)
    out = output_folder(args.out)
    start = time.perf_counter()
    res = module.compute(**params)
    wall = time.perf_counter() - start
    from advdyn.plots.claims import claim_figure, save_figure  # matplotlib only when drawing

    fig = claim_figure(res)
    base = out / args.claim
    save_figure(fig, base)
    write_text(f"{base}.csv", _csv(res["table"]))
    record = {**res["verdict"], "config": res["config"], "quick": bool(args.quick),
              "wall_s": wall, "table": res["table"]}
    write_json(f"{base}.json", record)
    if args.json:
        emit_json(record)
    else:
        print(f"{args.claim}: {record['verdict']} (in regime: {record['in_regime']}) — "
              f"{record['reason']}  [{wall:.1f} s; {base}.csv/.png/.pdf/.json]")
    return 0


def _about(module: types.ModuleType) -> str:
    """The module docstring's second paragraph (the experiment), on one line."""
    parts = (module.__doc__ or "").split("\n\n")
    return " ".join(parts[1].split()) if len(parts) > 1 else parts[0]


def _csv(table: dict[str, Any]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(table["columns"])
    w.writerows(["" if v is None else v for v in row] for row in table["rows"])
    return buf.getvalue()
