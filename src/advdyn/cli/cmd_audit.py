"""``advdyn audit``: run a library's attack on a user's model and audit it row by row."""

from __future__ import annotations

import argparse
import base64
import html
import importlib
import importlib.util
import io
import json
import sys
import time
from pathlib import Path
from typing import Any

from advdyn.cli.common import (
    add_command,
    emit_json,
    output_folder,
    positive_float,
    positive_int,
)
from advdyn.errors import fail

NORMS = ("l2", "linf")


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(
        sub, "audit",
        "Run an attack (torchattacks, Foolbox, ART or advdyn) on a model traced by "
        "advdyn, and report per row the indicators of attack failure (Pintor et al. 2022: silent "
        "success, incomplete optimisation, unavailable gradients, unstable predictions, transfer "
        "failure, unconstrained failure; and bad initialisation), the KKT residual on the ball ∩ "
        "pixel box [0, 1], and the model checks. Only rows the model classifies correctly are "
        "audited. --model, --attack and --eps are required.")
    p.add_argument("--model", metavar="MODULE:FACTORY",
                   help="a Python callable returning the torch.nn.Module (MODULE importable, or "
                   "a path to a .py file); required")
    p.add_argument("--weights", metavar="FILE",
                   help="a state dict for the model, loaded with torch.load(weights_only=True)")
    p.add_argument("--data", default="mnist", metavar="mnist|FILE.npz",
                   help="the shipped MNIST held-out images (default), or an .npz with keys x "
                   "(images in [0, 1]) and y (labels)")
    p.add_argument("--attack", metavar="LIB:NAME",
                   help="torchattacks:PGDL2, torchattacks:PGD, foolbox:L2PGD, foolbox:LinfPGD, "
                   "art:ProjectedGradientDescent or advdyn:pgd; required")
    p.add_argument("--attack-args", default="{}", metavar="JSON",
                   help='keyword arguments of the attack, e.g. \'{"alpha": 0.2, "steps": 40}\'')
    p.add_argument("--eps", type=positive_float, help="the radius ε; required")
    p.add_argument("--norm", choices=NORMS, default="l2", help="the ball (default l2)")
    p.add_argument("--n", type=positive_int, default=64, help="rows to audit (default 64)")
    p.add_argument("--restarts", type=positive_int, default=2,
                   help="restarts for the bad-initialisation indicator (default 2)")
    p.add_argument("--out", metavar="DIR", help="write audit.json and audit.html here")
    p.add_argument("--json", action="store_true", help="print the audit as JSON")
    p.set_defaults(run=run)


def _attack_args(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as e:
        raise fail("--attack-args", f"not JSON ({e.msg} at character {e.pos})") from None
    if not isinstance(value, dict):
        raise fail("--attack-args", f"expected a JSON object, got {text!r}")
    return value


def load_model(spec: str, weights: str | None) -> Any:
    """The module that ``MODULE:FACTORY`` returns, with ``weights`` loaded (weights only)."""
    import torch
    from torch import nn

    module_name, _, factory = spec.rpartition(":")
    if not module_name or not factory:
        raise fail("--model", f"expected MODULE:FACTORY, got {spec!r}")
    try:
        if module_name.endswith(".py"):
            path = Path(module_name)
            if not path.is_file():
                raise fail("--model", f"no such file {module_name}")
            loader = importlib.util.spec_from_file_location(path.stem, path)
            assert loader is not None and loader.loader is not None
            module = importlib.util.module_from_spec(loader)
            loader.loader.exec_module(module)
        else:
            if "" not in sys.path:
                sys.path.insert(0, "")
            module = importlib.import_module(module_name)
    except ImportError as e:
        raise fail("--model", f"cannot import {module_name} ({e})") from None
    if not callable(getattr(module, factory, None)):
        raise fail("--model", f"{module_name} has no callable {factory}")
    model = getattr(module, factory)()
    if not isinstance(model, nn.Module):
        raise fail("--model", f"{spec}() returned {type(model).__name__}, not a torch.nn.Module")
    if weights is not None:
        try:
            state = torch.load(weights, map_location="cpu", weights_only=True)
            model.load_state_dict(state)
        except FileNotFoundError:
            raise fail("--weights", f"no such file {weights}") from None
        except (RuntimeError, OSError, KeyError, TypeError, AttributeError) as e:
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise fail("--weights", f"cannot load {weights} into the model ({first})") from None
    return model.eval()


def load_data(spec: str) -> tuple[Any, Any]:
    """``(x, y)``: the MNIST held-out images in [0, 1] ``(N, 1, 28, 28)``, or an ``.npz``'s."""
    import numpy as np
    import torch

    if spec == "mnist":
        from advdyn.data import load_mnist

        data = load_mnist(holdout=1000, seed=0)
        x = torch.from_numpy(data.test_images).float()[:, None] / 255
        return x, torch.from_numpy(data.test_labels).long()
    try:
        with np.load(Path(spec), allow_pickle=False) as f:
            if "x" not in f or "y" not in f:
                raise fail("--data", f"{spec} needs arrays x and y, has {sorted(f.files)}")
            images, labels = np.asarray(f["x"]), np.asarray(f["y"])
    except FileNotFoundError:
        raise fail("--data", f"no such file {spec}") from None
    except (OSError, ValueError) as e:
        raise fail("--data", f"cannot read {spec} as .npz ({e})") from None
    if images.ndim < 2 or labels.shape[:1] != images.shape[:1] or not np.isfinite(images).all():
        raise fail("--data", f"x must be (N, ...) finite with y (N,), got shapes {images.shape}, "
                   f"{labels.shape}")
    return torch.from_numpy(images.astype(np.float32)), torch.from_numpy(labels.astype(np.int64))


def _page(audit: Any, png: bytes, seconds: float) -> str:
    rows = "".join(f"<tr><td>{html.escape(k)}</td><td>{v['fraction']:.3f}</td>"
                   f"<td>{len(v['rows'])}</td><td>{html.escape(v['rule'])}</td></tr>"
                   for k, v in audit.to_json()["indicators"].items())
    checks = "".join(f"<li><b>{html.escape(f.name)}</b>: {html.escape(f.message)}</li>"
                     for f in audit.checks) or "<li>no finding</li>"
    image = base64.b64encode(png).decode("ascii")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>advdyn audit</title>"
            f"<style>body{{font-family:sans-serif;max-width:1300px;margin:auto}}td,th{{padding:"
            f"2px 8px;text-align:left}}</style></head><body><h1>advdyn audit</h1>"
            f"<p>{audit.rows} rows, {audit.norm} ball ε = {audit.eps:g}, "
            f"{audit.trace.steps} steps, success rate {audit.success.mean():.3f}, "
            f"{seconds:.1f} s.</p><h2>Model checks</h2><ul>{checks}</ul><h2>Indicators</h2>"
            f"<table><tr><th>indicator</th><th>fraction</th><th>rows</th><th>rule</th></tr>"
            f"{rows}</table><h2>Flagged rows</h2><img alt='per-step curves' style='max-width:"
            f"100%' src='data:image/png;base64,{image}'></body></html>\n")


def run(args: argparse.Namespace) -> int:
    for flag, value in (("--model", args.model), ("--attack", args.attack),
                        ("--eps", args.eps)):
        if value is None:
            raise fail(flag, "required")
    out = output_folder(args.out) if args.out is not None else None
    kwargs = _attack_args(args.attack_args)
    from advdyn.audit import audit_attack, predictions
    from advdyn.audit.attacks import make_attack, parse_attack

    parse_attack(args.attack, "--attack")
    model = load_model(args.model, args.weights)
    x, y = load_data(args.data)
    attack = make_attack(args.attack, kwargs, args.norm, (0.0, 1.0), "--attack")
    right = (predictions(model, x) == y).nonzero()[:, 0][:args.n]
    if right.numel() == 0:
        raise fail("--data", "the model classifies none of its rows correctly")
    start = time.perf_counter()
    audit = audit_attack(model, attack, x[right], y[right], args.eps, args.norm, box=(0.0, 1.0),
                         restarts=args.restarts)
    seconds = time.perf_counter() - start
    data = {**audit.to_json(), "wall_s": seconds, "attack": args.attack,
            "attack_args": kwargs, "model": args.model}
    if out is not None:
        from advdyn.atomic import write_json, write_text
        from advdyn.plots.audit import draw_audit

        drawing = draw_audit(audit)
        buffer = io.BytesIO()
        drawing.figure.savefig(buffer, format="png", dpi=110)
        out.mkdir(parents=True, exist_ok=True)
        write_json(out / "audit.json", data)
        write_text(out / "audit.html", _page(audit, buffer.getvalue(), seconds))
    if args.json:
        emit_json(data)
    else:
        print(audit.summary())
        print(f"{audit.rows} rows audited in {seconds:.1f} s"
              + (f"; wrote {out / 'audit.json'}, {out / 'audit.html'}" if out else ""))
    return 0
