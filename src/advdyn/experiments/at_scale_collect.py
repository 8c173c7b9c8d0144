"""The ``at_scale`` result from its jobs' values: the runs at each scale's selected learning rate,
the lr search (per arm and scale: grid, selected lr, validation and test accuracies per seed),
the probes per arm (``plain``, ``affine``, ``linearised``), scale and epoch, tables and text."""

from __future__ import annotations

from typing import Any

import numpy as np

from advdyn.experiments.advtrain import BOX_IMAGES
from advdyn.experiments.base import config_dict
from advdyn.experiments.escape import survival

PRIMARY_TAU = "0.05"


def _final(history: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    h = history[-1]
    return {"validation": {"clean": h["clean_acc"], "robust": h["robust_acc"]},
            "test": {"clean": h["test_clean_acc"], "robust": h["test_robust_acc"]}}


def _lr_search(v: dict[str, Any]) -> dict[str, Any]:
    return {"grid": v["grid"], "selected_lr": v["selected_lr"], "at_edge": v["lr_at_edge"],
            "per_lr": [{"lr": r["lr"], "seed": r["seed"], **_final(r["history"])}
                       for r in v["search"]],
            "selected_seeds": [{"seed": r["seed"], **_final(r["history"])} for r in v["runs"]]}


def _escape(v: dict[str, Any], budget: int) -> list[dict[str, Any]]:
    """Per arm (the job's, and ``linearised`` where probed), epoch and ratio: per-image escape
    times (censored at the budget), whether the start was usable (certified, with a gap to
    close), in the probe images' order, and the mean ``log ℓ`` along the attack over the
    certified starts (``curve``, for Figure 3)."""
    out = []
    for arm, key, p in [(name, key, p) for p in v["probes"] for name, key in
                        ((v["arm"], "escape"), ("linearised", "escape_linearised")) if key in p]:
        for r in p[key]:
            usable = (np.asarray(r["certified"], bool) & np.asarray(r["has_gap"], bool))
            times = np.minimum(np.asarray(r["times"], float), budget)
            out.append({"arm": arm, "scale": v["scale"], "epoch": p["epoch"],
                        "ratio": r["ratio"], "times": times.tolist(), "escaped": r["escaped"],
                        "usable": usable.tolist(),
                        "curve": np.asarray(r["curve"], float).tolist(), "km": survival(
                            times[usable], np.asarray(r["escaped"], bool)[usable], budget)})
    return out


def _measured(v: dict[str, Any]) -> list[tuple[str, int, dict[str, Any]]]:
    return [(name, p["epoch"], p[key]) for p in v["probes"]
            for name, key in ((v["arm"], "net"), ("linearised", "linearised")) if key in p]


def at_scale_collect(config: Any, values: list[dict[str, Any]]) -> dict[str, Any]:
    """The result (module docstring): ``runs``, ``lr_search``, ``escape`` and ``fig3_curves``,
    ``q1`` (per arm, scale, epoch: per-run times to stationarity per τ and to the plateau),
    ``restarts``, ``affineness``, ``stationarity`` (τ = 0.05 curves, for the picture),
    ``constant_predictor_acc``, tables and text."""
    runs = [{"arm": v["arm"], "scale": v["scale"], "seed": r["seed"], "lr": r["lr"],
             "eps": v["eps"], "history": r["history"]} for v in values for r in v["runs"]]
    lr_search: dict[str, dict[str, Any]] = {}
    for v in values:
        lr_search.setdefault(v["arm"], {})[f"{v['scale']:g}"] = _lr_search(v)
    escape = [g for v in values for g in _escape(v, config.probe_steps)]
    fig3 = [{"arm": g["arm"], "scale": g["scale"], "epoch": g["epoch"], **g["km"]}
            for g in escape]
    q1 = [{"arm": arm, "scale": v["scale"], "epoch": e, **m["q1"]}
          for v in values for arm, e, m in _measured(v)]
    restarts = [{"arm": arm, "scale": v["scale"], "epoch": e, **m["restarts"]}
                for v in values for arm, e, m in _measured(v)]
    affine = [{"arm": v["arm"], "scale": v["scale"], "epoch": p["epoch"],
               "second_order": p["affineness"]} for v in values for p in v["probes"]]
    plot_rows = [{"arm": r["arm"], "scale": r["scale"], "epoch": r["epoch"],
                  "rule": "normalized", **r["stationary"][PRIMARY_TAU],
                  "survival": survival(r["stationary"][PRIMARY_TAU]["times"],
                                       r["stationary"][PRIMARY_TAU]["hit"], r["budget"])}
                 for r in q1 if r["arm"] == "plain"]
    rows = [[r["arm"], r["scale"], r["seed"], f"{r['lr']:.3g}", h["epoch"],
             _num(h["robust_train_loss"]), _num(h["clean_acc"]), _num(h["robust_acc"]),
             _num(h["test_clean_acc"]), _num(h["test_robust_acc"]), _num(h["on_sphere"]),
             _num(h["on_sphere_box"])] for r in runs for h in r["history"]]
    search_rows = [[arm, s, f"{d['selected_lr']:.3g}", "yes" if d["at_edge"] else "no",
                    ", ".join(f"{x['lr']:.2g}: {x['validation']['robust']:.2f}"
                              for x in d["per_lr"])]
                   for arm, by in lr_search.items() for s, d in by.items()]
    source = values[0]["source"] if values else "?"
    baseline = values[0]["constant_predictor_acc"] if values else float("nan")
    text = (f"{source}; {config.arch} CNN ({config.activation}, {config.pool} pooling) and an "
            f"affine model, Madry PGD training at input scales "
            f"{', '.join(f'{s:g}' for s in config.scales)} with ratio {config.ratio:g} "
            f"(ε = r·mean‖x‖₂), K = {config.pgd_steps} {config.pgd_rule} steps of ρ = "
            f"{config.pgd_rho:g}{' in the pixel box' if config.box else ''}, "
            f"{config.optimizer}, batch {config.batch_size}, {config.epochs} epochs on "
            f"{config.train_images} images, the first weight at lr·s^-"
            f"{1 if config.optimizer == 'adam' else 2}; per scale {config.lr_points} learning "
            f"rates over {config.lr_decades:g} decades centred at {config.lr:g}, selected on "
            f"{config.validation} "
            f"validation images (seed {config.seeds[0]}), seeds {list(config.seeds)} at the "
            f"selected lr, reported on {config.eval_images} test images (robust: correct "
            f"under all {config.eval_restarts} PGD restarts). Constant predictor: accuracy "
            f"{baseline:.3f}. Probes at epochs {list(config.probe_epochs)}.")
    return {"text": text, "config": config_dict(config), "runs": runs, "lr_search": lr_search,
            "escape": escape, "fig3_curves": fig3, "q1": q1, "restarts": restarts,
            "affineness": affine, "stationarity": plot_rows, "budget": config.probe_steps,
            "q1_budget": config.q1_steps, "robust_level": config.robust_level,
            "training_budget": config.pgd_steps,
            "box_images": min(BOX_IMAGES, int(config.train_images)),
            "constant_predictor_acc": baseline,
            "tables": [{"title": "Learning-rate search (validation robust accuracy per lr)",
                        "columns": ["arm", "scale", "selected lr", "at the grid's edge",
                                    "lr: validation robust acc"], "rows": search_rows},
                       {"title": "Adversarial training per epoch",
                        "columns": ["arm", "scale", "seed", "lr", "epoch", "robust train loss",
                                    "val clean", "val robust", "test clean", "test robust",
                                    "on the sphere", "on the sphere (box)"],
                        "rows": rows}]}


def _num(v: Any) -> Any:
    return "–" if v is None else round(float(v), 4)
